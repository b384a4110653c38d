// The directory CLI commands end to end against the emulator: sync, permissions, report.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { startEmulator, type Emulator, type EmulatorTenant } from '../../src/emulator/index.js';
import { run as runSync } from '../../src/cli/sync.js';
import { run as runPermissions } from '../../src/cli/permissions.js';
import { run as runReport } from '../../src/cli/report.js';
import { testPki } from '../support/pki.js';

let emu: Emulator;
let tenant: EmulatorTenant;
let stateDir: string;
const SECRET_ENV = 'GW_TEST_DIRECTORY_CLI_SECRET';

function capture(): { out: () => string; err: () => string } {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
  vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    out.push(String(s));
    return true;
  });
  return { out: () => out.join('\n'), err: () => err.join('\n') };
}

beforeAll(async () => {
  emu = await startEmulator({ tls: testPki().server, size: 150 });
  tenant = emu.tenants[0] as EmulatorTenant;
  process.env[SECRET_ENV] = tenant.agents['graphwarden-connector']?.clientSecret ?? '';
  stateDir = await mkdtemp(join(tmpdir(), 'gw-dir-cli-'));
});
afterEach(() => {
  vi.restoreAllMocks();
});
afterAll(async () => {
  await emu.close();
  await rm(stateDir, { recursive: true, force: true });
  delete process.env[SECRET_ENV];
});

describe('directory CLI', () => {
  it('sync saves a snapshot and prints a summary without the secret', async () => {
    const c = capture();
    const code = await runSync(['--state-dir', stateDir, '--tenant', tenant.id, '--client-id', tenant.agents['graphwarden-connector']?.appId ?? '', '--client-secret-env', SECRET_ENV, '--authority-host', emu.url, '--graph-url', emu.url]);
    vi.restoreAllMocks();
    expect(c.err()).not.toContain(process.env[SECRET_ENV] ?? '§');
    expect(code).toBe(0);
    expect(c.out()).toMatch(/✓ tenant .*: full sync, \d+ objects/);
    expect(c.out()).toMatch(/snapshot [0-9a-f]{16} saved/);
    // Not a TTY under vitest: progress goes out as JSON lines.
    expect(c.err().split('\n').some((l) => l.includes('"type":"sync-started"'))).toBe(true);
  });

  it('permissions prints provenance for an agent found by display name, and JSON by appId', async () => {
    let c = capture();
    expect(await runPermissions(['Overprivileged Agent', '--state-dir', stateDir])).toBe(0);
    vi.restoreAllMocks();
    expect(c.out()).toContain('RoleManagement.ReadWrite.Directory');
    expect(c.out()).toContain('← app role assignment RoleManagement.ReadWrite.Directory on Microsoft Graph');
    expect(c.out()).toContain('assign directory roles on any scope');
    const ci = tenant.agents['ci-deployer'];
    c = capture();
    expect(await runPermissions([ci?.appId ?? '', '--state-dir', stateDir, '--json'])).toBe(0);
    vi.restoreAllMocks();
    const j = JSON.parse(c.out()) as { effective: { graph: Array<{ permission: string }>; capabilities: Array<{ action: string; resources: unknown }> } };
    expect(j.effective.graph.map((p) => p.permission)).toEqual(['Application.ReadWrite.OwnedBy']);
    expect(j.effective.capabilities.find((x) => x.action === 'add-credentials')?.resources).toHaveLength(4);
    c = capture();
    expect(await runPermissions(['no such agent', '--state-dir', stateDir])).toBe(1);
    vi.restoreAllMocks();
    expect(c.err()).toContain('unknown to the directory');
  });

  it('delegated permissions for a user show granted, withheld and owner-limited scopes', async () => {
    const c = capture();
    expect(await runPermissions(['Copilot Assistant', '--user', tenant.users.carol?.userPrincipalName ?? '', '--state-dir', stateDir])).toBe(0);
    vi.restoreAllMocks();
    expect(c.out()).toContain('Mail.Read');
    expect(c.out()).toMatch(/Group\.ReadWrite\.All {2}\(only on 1 objects/);
  });

  it('report renders text, JSON and a self-contained HTML page with the expected findings', async () => {
    let c = capture();
    expect(await runReport(['--state-dir', stateDir, '--format', 'json'])).toBe(0);
    vi.restoreAllMocks();
    const r = JSON.parse(c.out()) as { findings: Array<{ check: string; subject: { displayName?: string } }> };
    const has = (check: string, name: string): boolean => r.findings.some((f) => f.check === check && (f.subject.displayName ?? '').includes(name));
    expect(has('credential-expired', 'Legacy Reporting')).toBe(true);
    expect(has('credential-expiring', 'HR Sync')).toBe(true);
    expect(has('credential-long-lived', 'Finance Export')).toBe(true);
    expect(has('app-without-owners', 'Orphaned Integration')).toBe(true);
    expect(has('agent-control-plane', 'Overprivileged Agent')).toBe(true);
    expect(has('multi-tenant-high-privilege', 'Partner Analytics')).toBe(true);
    expect(has('privileged-role-permanent', 'Grace Admin')).toBe(true);
    c = capture();
    expect(await runReport(['--state-dir', stateDir])).toBe(0);
    vi.restoreAllMocks();
    expect(c.out()).toContain('[HIGH] agent-control-plane');
    const file = join(stateDir, 'report.html');
    c = capture();
    expect(await runReport(['--state-dir', stateDir, '--format', 'html', '--out', file])).toBe(0);
    vi.restoreAllMocks();
    const html = await readFile(file, 'utf8');
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).toContain('<style>');
    expect(html).not.toMatch(/<script|<link|src=|https?:\/\//i);
  });
});
