import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createApprovalModule, tokenDigest, type ApprovalModule } from '../../../src/approval/index.js';
import { adminTarget, parseDuration } from '../../../src/approval/admin-client.js';
import * as approvalsCli from '../../../src/cli/approvals.js';
import * as overridesCli from '../../../src/cli/overrides.js';
import { testPki } from '../../support/pki.js';
import { AGENT_APP, holdRequest, manualTimers, recorder, tempDir } from './helpers.js';

describe('graphwarden approvals / overrides CLI against the admin API over HTTPS', () => {
  let tmp: ReturnType<typeof tempDir>;
  let mod: ApprovalModule;
  let server: Server;
  let common: string[];
  let bobCommon: string[];
  let out: string[];
  let err: string[];

  beforeEach(async () => {
    tmp = tempDir();
    const aliceFile = path.join(tmp.dir, 'alice.token');
    const bobFile = path.join(tmp.dir, 'bob.token');
    writeFileSync(aliceFile, 'alice-secret-token-0123456789\n');
    writeFileSync(bobFile, 'bob-secret-token-0123456789');
    mod = createApprovalModule(
      {
        stateDir: path.join(tmp.dir, 'state'),
        approvers: [
          { name: 'alice', ids: [], tokenSha256: tokenDigest('alice-secret-token-0123456789') },
          { name: 'bob', ids: [], tokenSha256: tokenDigest('bob-secret-token-0123456789') },
        ],
      },
      { audit: recorder().audit, timers: manualTimers() },
    );
    mod.start();
    const pki = testPki();
    server = createServer({ key: pki.server.keyPem, cert: pki.server.certPem }, (req, res) => {
      void mod.adminApi(req, res, new URL(req.url ?? '/', 'https://127.0.0.1'));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    // Trust comes from NODE_EXTRA_CA_CERTS, set for test workers by the global setup.
    const adminUrl = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    common = ['--admin-url', adminUrl, '--token-file', aliceFile];
    bobCommon = ['--admin-url', adminUrl, '--token-file', bobFile];
    out = [];
    err = [];
    vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
    vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
  });

  afterEach(async () => {
    vi.restoreAllMocks();
    server.close();
    await mod.stop();
    tmp.cleanup();
  });

  it('lists, shows and approves a held call; the held call is released', async () => {
    const held = mod.approvals.hold(holdRequest('d1'), new AbortController().signal);
    const id = mod.approvals.list()[0]!.id;
    expect(await approvalsCli.run(['list', '--state', 'pending', ...common])).toBe(0);
    expect(out.join('\n')).toMatch(new RegExp(`${id}\\s+pending\\s+ops-bot`));
    expect(await approvalsCli.run(['show', id, ...common])).toBe(0);
    expect(out.at(-1)).toContain('Global Administrator');

    expect(await approvalsCli.run(['approve', id, ...common])).toBe(2);
    expect(await approvalsCli.run(['approve', id, '--justification', 'CHG-9', '--valid-for', '10m', ...common])).toBe(0);
    expect(out.at(-1)).toBe(`${id} approved by alice (now used); released 1 waiting call(s)`);
    expect(await held).toEqual({ kind: 'approved', approvalId: id });
    expect(mod.approvals.get(id)!.validUntil! - mod.approvals.get(id)!.decidedAt!).toBe(600_000);
  });

  it('prints the API refusal and exits 1', async () => {
    void mod.approvals.hold(holdRequest('d1'), new AbortController().signal);
    const id = mod.approvals.list()[0]!.id;
    expect(await approvalsCli.run(['deny', id, '--justification', 'no', ...common])).toBe(0);
    expect(await approvalsCli.run(['approve', id, '--justification', 'yes', ...common])).toBe(1);
    expect(err.at(-1)).toMatch(/HTTP 409 not-pending/);
    expect(await approvalsCli.run(['list', ...common.slice(0, 2), '--token-file', path.join(tmp.dir, 'alice.token') + '.missing'])).toBe(1);
  });

  it('creates a break-glass override that a second approver activates, then revokes it', async () => {
    expect(await overridesCli.run(['create', '--agent', AGENT_APP, '--rule', 'approve-role-assignments', '--for', '2h', '--justification', 'INC-1', '--break-glass', '--json', ...common])).toBe(0);
    const created = JSON.parse(out.join('\n').split('\n').slice(0, -1).join('\n')) as { id: string; state: string };
    expect(created.state).toBe('awaiting-second-approver');
    expect(await overridesCli.run(['approve', created.id, ...common])).toBe(1);
    expect(err.at(-1)).toMatch(/same-approver/);
    expect(await overridesCli.run(['approve', created.id, ...bobCommon])).toBe(0);
    expect(out.at(-1)).toMatch(/active \(break-glass\).*approved by alice, bob/);
    expect(mod.overrides.activeOverridesFor(AGENT_APP, ['approve-role-assignments'], undefined, Date.now())).toHaveLength(1);
    expect(await overridesCli.run(['list', '--state', 'active', ...common])).toBe(0);
    expect(out.at(-1)).toContain(created.id);
    expect(await overridesCli.run(['revoke', created.id, '--justification', 'over', ...bobCommon])).toBe(0);
    expect(mod.overrides.get(created.id)!.state).toBe('revoked');
  });

  it('rejects bad usage before calling the API', async () => {
    expect(await overridesCli.run(['create', '--agent', AGENT_APP, '--for', '1h', '--justification', 'x', ...common])).toBe(2);
    expect(await overridesCli.run(['create', '--agent', AGENT_APP, '--rule', 'r', '--for', '1h', '--until', '2030-01-01T00:00:00Z', '--justification', 'x', ...common])).toBe(2);
    expect(await approvalsCli.run(['approve', 'apr_x', '--justification', 'x', '--uses', '2', '--reusable', ...common])).toBe(2);
    expect(await approvalsCli.run(['frobnicate', ...common])).toBe(2);
    expect(mod.overrides.list()).toHaveLength(0);
  });

  it('never sends a token over plain HTTP off loopback', () => {
    expect(() => adminTarget({ 'admin-url': 'http://gw.example:9443' }, { GRAPHWARDEN_ADMIN_TOKEN: 't' })).toThrow(/https/);
    expect(adminTarget({ 'admin-url': 'http://127.0.0.1:9443/' }, { GRAPHWARDEN_ADMIN_TOKEN: 't' })).toEqual({ adminUrl: 'http://127.0.0.1:9443', token: 't' });
    expect(() => adminTarget({}, {})).toThrow(/token/);
    expect(parseDuration('15m')).toBe(900);
    expect(() => parseDuration('-1h')).toThrow();
  });
});
