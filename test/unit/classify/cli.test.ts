import { describe, it, expect, vi, afterEach } from 'vitest';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { run } from '../../../src/cli/classify.js';
import { COMMANDS } from '../../../src/cli/commands.js';

function capture(): { out: () => string; err: () => string } {
  const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
  const error = vi.spyOn(console, 'error').mockImplementation(() => undefined);
  return { out: () => log.mock.calls.map((c) => c.join(' ')).join('\n'), err: () => error.mock.calls.map((c) => c.join(' ')).join('\n') };
}

afterEach(() => vi.restoreAllMocks());

describe('graphwarden classify', () => {
  it('is registered as a subcommand', async () => {
    const mod = await COMMANDS.classify!.load();
    expect(mod.usage).toContain('graphwarden classify METHOD URL');
  });

  it('prints the operation readably', async () => {
    const io = capture();
    expect(await run(['POST', "/v1.0/groups('g1')/members/$ref", '--scheme', 'delegated'])).toBe(0);
    expect(io.out()).toContain('template      /groups/{id}/members/$ref');
    expect(io.out()).toContain('target        group g1 (id)');
    expect(io.out()).toContain('DelegatedWork least: GroupMember.ReadWrite.All');
    expect(io.out()).not.toContain('Application   least');
  });

  it('prints JSON with --json, including batch items from --body', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gw-classify-'));
    const file = path.join(dir, 'b.json');
    writeFileSync(file, JSON.stringify({ requests: [{ id: '1', method: 'POST', url: 'applications/a/addPassword' }] }));
    const io = capture();
    expect(await run(['POST', '/v1.0/$batch', '--body', file, '--json'])).toBe(0);
    const doc = JSON.parse(io.out()) as { mapVersion: string; operation: { isBatch: boolean }; items: Array<{ operation: { template: string } }> };
    expect(doc.operation.isBatch).toBe(true);
    expect(doc.items[0]!.operation.template).toBe('/applications/{id}/addpassword');
    expect(doc.mapVersion).toMatch(/^sha256:/);
  });

  it('exits 1 with the error code for refused URLs and 2 for bad usage', async () => {
    const io = capture();
    expect(await run(['GET', '/v1.0/users%2Fx'])).toBe(1);
    expect(io.err()).toContain('GW_ERR_REQUEST_INVALID');
    expect(await run(['GET'])).toBe(2);
    expect(await run(['GET', '/v1.0/users', '--scheme', 'x'])).toBe(2);
  });
});
