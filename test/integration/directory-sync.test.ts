// The directory connector against the project's Entra + Graph emulator: msal-node client
// credentials, full sync of every object kind, delta refresh with drift, throttling storms,
// and a failed sync that must leave the last good snapshot in place.
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDirectory, DELTA_FILE, type Directory, type DirectoryEvent } from '../../src/directory/index.js';
import { DRIFT_FILE, type StoredDriftEvent } from '../../src/directory/drift.js';
import { SNAPSHOT_FILE } from '../../src/directory/snapshot.js';
import { transitiveGroups } from '../../src/directory/effective.js';
import { startEmulator, type Emulator, type EmulatorTenant } from '../../src/emulator/index.js';
import type { Principal } from '../../src/identity/principal.js';
import { testPki } from '../support/pki.js';

let emu: Emulator;
let tenant: EmulatorTenant;
let stateDir: string;
const SECRET_ENV = 'GW_TEST_DIRECTORY_CONNECTOR_SECRET';

const GLOBAL_ADMIN = '62e90394-69f5-4237-9190-012177145e10';
const HELPDESK_ADMIN = '729827e3-9c14-49f7-bb1b-9608f156bbb8';
const PRIV_ROLE_ADMIN = 'e8611ab8-c189-46e8-94e1-60213ab1f814';

function app(appId: string, spId?: string): Principal {
  return { kind: 'app', tenantId: tenant.id, appId, ...(spId ? { servicePrincipalId: spId } : {}), roles: [], scopes: [], wids: [], tokenId: 'x', clientAuth: 'secret', tokenVersion: '1.0', issuedAt: 0, expiresAt: 0 };
}

function makeDirectory(dir: string, extra: { maxRetries?: number; events?: (e: DirectoryEvent) => void; sleeps?: number[] } = {}): Directory {
  const connector = tenant.agents['graphwarden-connector'];
  if (!connector) throw new Error('emulator has no connector agent');
  return createDirectory({
    stateDir: dir,
    tenants: [{ tenantId: tenant.id, authorityHost: emu.url, graphBaseUrl: emu.url, credentials: { clientId: connector.appId, clientSecretEnv: SECRET_ENV } }],
    concurrency: 8,
    ...(extra.maxRetries !== undefined ? { maxRetries: extra.maxRetries } : {}),
    ...(extra.events ? { events: extra.events } : {}),
    // Retry-After is honoured by recording it, not by waiting: keeps the test fast and deterministic.
    sleep: (ms) => {
      extra.sleeps?.push(ms);
      return Promise.resolve();
    },
  });
}

beforeAll(async () => {
  emu = await startEmulator({ tls: testPki().server, size: 300 });
  tenant = emu.tenants[0] as EmulatorTenant;
  process.env[SECRET_ENV] = tenant.agents['graphwarden-connector']?.clientSecret ?? '';
  stateDir = await mkdtemp(join(tmpdir(), 'gw-dir-sync-'));
});

afterAll(async () => {
  await emu.close();
  await rm(stateDir, { recursive: true, force: true });
  delete process.env[SECRET_ENV];
});

describe('directory sync against the emulator', () => {
  let directory: Directory;

  it('full sync discovers every object kind and answers effective permissions exactly', async () => {
    const events: DirectoryEvent[] = [];
    directory = makeDirectory(stateDir, { events: (e) => events.push(e) });
    const summary = await directory.syncNow();
    expect(summary.tenants[0]?.error).toBeUndefined();
    expect(summary).toMatchObject({ ok: true, tenants: [{ ok: true, mode: 'full' }] });
    expect(events.some((e) => e.type === 'sync-started')).toBe(true);
    expect(events.some((e) => e.type === 'snapshot-swapped')).toBe(true);
    const view = directory.view();
    expect(view).toBeDefined();
    if (!view) return;
    const t = view.snapshot.data.tenants[0];
    expect(t?.users.length).toBeGreaterThan(10);
    expect(t?.users.some((u) => u.userType === 'Guest')).toBe(true);
    expect(t?.users.some((u) => u.accountEnabled === false)).toBe(true);
    expect(t?.groups.some((g) => g.roleAssignable)).toBe(true);
    expect(t?.groups.some((g) => g.dynamic)).toBe(true);
    expect(t?.roleEligibilitySchedules.length).toBeGreaterThan(0);
    expect(t?.grants.some((g) => g.consentType === 'AllPrincipals' && g.principalId === null)).toBe(true);
    expect(t?.servicePrincipals.some((s) => s.agentIdentity)).toBe(true);
    // No secret material in the snapshot file.
    const file = await readFile(join(stateDir, SNAPSHOT_FILE), 'utf8');
    expect(file).not.toContain(tenant.agents['graphwarden-connector']?.clientSecret ?? '§');
    expect(file).not.toContain('secretText');

    // Effective Graph application permissions equal what the emulator granted, for every agent.
    const emuDir = emu.directory(tenant.id);
    for (const [key, agent] of Object.entries(tenant.agents)) {
      const e = view.effective(app(agent.appId, agent.servicePrincipalId));
      expect(e, key).toBeDefined();
      expect([...(e?.graph.keys() ?? [])].sort(), key).toEqual(emuDir.graphAppRolesOf(agent.servicePrincipalId));
    }
    // ci-deployer owns two applications: add credentials to these 2 (Application.ReadWrite.OwnedBy + ownership).
    const ci = tenant.agents['ci-deployer'];
    const ciCaps = view.effective(app(ci?.appId ?? '', ci?.servicePrincipalId))?.capabilities ?? [];
    const addCreds = ciCaps.find((c) => c.action === 'add-credentials');
    expect(addCreds?.resources).toHaveLength(4); // two applications and their two service principals
    expect(addCreds?.description).toBe('add credentials to these 4 applications / service principals');
  });

  it('roles: direct, through a role-assignable group, and PIM-eligible as latent', () => {
    const view = directory.view();
    if (!view) throw new Error('no view');
    const client = tenant.agents['copilot-assistant'];
    const user = (key: string): Principal => ({ ...app(client?.appId ?? ''), kind: 'delegated', userId: tenant.users[key]?.id ?? '' });
    const admin = view.effective(user('admin'));
    expect(admin?.activeRoles.map((r) => r.roleTemplateId)).toEqual([GLOBAL_ADMIN]);
    const helpdesk = view.effective(user('helpdesk'));
    expect(helpdesk?.activeRoles.map((r) => r.roleTemplateId)).toEqual([HELPDESK_ADMIN]);
    expect(helpdesk?.activeRoles[0]?.via[0]).toMatchObject({ kind: 'groupMembership', id: tenant.groups['helpdesk-admins']?.id });
    const pim = view.effective(user('pim'));
    expect(pim?.activeRoles).toEqual([]);
    expect(pim?.eligibleRoles.map((r) => r.roleTemplateId).sort()).toEqual([GLOBAL_ADMIN, PRIV_ROLE_ADMIN].sort());
    // Delegated: Carol's grant has Group.ReadWrite.All; she holds no role but owns Project Phoenix.
    const carol = view.effective(user('carol'));
    const emuDir = emu.directory(tenant.id);
    const granted = emuDir.grantedScopes(client?.servicePrincipalId ?? '', tenant.users.carol?.id ?? '');
    expect([...(carol?.graph.keys() ?? []), ...(carol?.withheld ?? []).map((w) => w.permission)].sort()).toEqual(granted);
    expect(carol?.graph.get('Group.ReadWrite.All')?.limitedTo).toEqual([tenant.groups['project-phoenix']?.id]);
  });

  it('delta refresh after mutations yields the right drift events and the new effective permissions', async () => {
    const emuDir = emu.directory(tenant.id);
    const before = directory.view()?.snapshotId;
    const mail = tenant.agents['mail-summarizer'];
    const alice = tenant.users.alice?.id ?? '';
    emuDir.grantAppRole(mail?.servicePrincipalId ?? '', 'User.Read.All');
    emuDir.addMember(tenant.groups['helpdesk-admins']?.id ?? '', alice);
    emuDir.removeOwner(tenant.groups['all-staff']?.id ?? '', tenant.users.admin?.id ?? '');
    const summary = await directory.syncNow();
    expect(summary.tenants[0]).toMatchObject({ ok: true, mode: 'delta' });
    expect(directory.view()?.snapshotId).not.toBe(before);
    const lines = (await readFile(join(stateDir, DRIFT_FILE), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as StoredDriftEvent);
    const evs = lines.map((l) => l.event);
    expect(evs).toContainEqual(expect.objectContaining({ type: 'app-role-assigned', principalId: mail?.servicePrincipalId }));
    expect(evs).toContainEqual(expect.objectContaining({ type: 'membership-added', groupId: tenant.groups['helpdesk-admins']?.id, memberId: alice }));
    expect(lines.every((l) => l.toSnapshot === directory.view()?.snapshotId)).toBe(true);
    const e = directory.view()?.effective(app(mail?.appId ?? '', mail?.servicePrincipalId));
    expect([...(e?.graph.keys() ?? [])].sort()).toEqual(['Mail.Read', 'User.Read.All']);
    expect(e?.graph.get('User.Read.All')?.via[0]?.kind).toBe('appRoleAssignment');
    // Alice now holds Helpdesk Administrator through the role-assignable group.
    const client = tenant.agents['copilot-assistant'];
    const aliceEff = directory.view()?.effective({ ...app(client?.appId ?? ''), kind: 'delegated', userId: alice });
    expect(aliceEff?.activeRoles.map((r) => r.roleTemplateId)).toEqual([HELPDESK_ADMIN]);
  });

  it('a revoked app role stops being held at the next sync', async () => {
    const emuDir = emu.directory(tenant.id);
    const mail = tenant.agents['mail-summarizer'];
    expect(emuDir.revokeAppRole(mail?.servicePrincipalId ?? '', 'User.Read.All')).toBe(1);
    await directory.syncNow();
    const e = directory.view()?.effective(app(mail?.appId ?? '', mail?.servicePrincipalId));
    expect([...(e?.graph.keys() ?? [])]).toEqual(['Mail.Read']);
  });

  it('PIM: an activation is active until its end, an ended one is not, eligibility stays latent; nesting cycles terminate', async () => {
    const emuDir = emu.directory(tenant.id);
    const pim = tenant.users.pim?.id ?? '';
    const alice = tenant.users.alice?.id ?? '';
    const t0 = Date.now();
    emuDir.assignRole({ principalId: pim, roleDefinitionId: PRIV_ROLE_ADMIN, endDateTime: new Date(t0 + 3_600_000).toISOString() });
    emuDir.assignRole({ principalId: alice, roleDefinitionId: GLOBAL_ADMIN, endDateTime: new Date(t0 - 60_000).toISOString() });
    // A cycle: All Staff ⊃ Engineering ⊃ All Staff.
    emuDir.addMember(tenant.groups.engineering?.id ?? '', tenant.groups['all-staff']?.id ?? '');
    await directory.syncNow();
    const view = directory.view();
    if (!view) throw new Error('no view');
    const client = tenant.agents['copilot-assistant'];
    const as = (id: string): Principal => ({ ...app(client?.appId ?? ''), kind: 'delegated', userId: id });
    const p = view.effective(as(pim));
    expect(p?.activeRoles.map((r) => r.roleTemplateId)).toEqual([PRIV_ROLE_ADMIN]);
    expect(p?.activeRoles[0]?.via[0]?.kind).toBe('pimActiveAssignment');
    expect(p?.activeRoles[0]?.endDateTime).toBeDefined();
    // Still eligible for Global Admin (latent); Privileged Role Admin is active, so not listed as latent.
    expect(p?.eligibleRoles.map((r) => r.roleTemplateId)).toEqual([GLOBAL_ADMIN]);
    // Two hours later the activation has ended: the role is eligible again, not active.
    const later = view.effectiveAt(as(pim), t0 + 2 * 3_600_000);
    expect(later?.activeRoles).toEqual([]);
    expect(later?.eligibleRoles.map((r) => r.roleTemplateId).sort()).toEqual([GLOBAL_ADMIN, PRIV_ROLE_ADMIN].sort());
    // Alice's Global Admin assignment had already ended when read.
    expect(view.effective(as(alice))?.activeRoles.map((r) => r.roleTemplateId)).toEqual([HELPDESK_ADMIN]);
    const idx = view.snapshot.tenants.get(tenant.id.toLowerCase());
    if (!idx) throw new Error('no tenant index');
    const groups = [...transitiveGroups(idx, pim).keys()].sort();
    expect(groups).toEqual([tenant.groups['all-staff']?.id, tenant.groups.engineering?.id].sort());
  });

  it('an expired delta token (410 syncStateNotFound) falls back to a full re-sync', async () => {
    const file = join(stateDir, DELTA_FILE);
    const state = JSON.parse(await readFile(file, 'utf8')) as Record<string, { links: Record<string, string> }>;
    const entry = state[tenant.id];
    expect(entry?.links.users).toMatch(/deltatoken=/i);
    if (entry) for (const k of Object.keys(entry.links)) entry.links[k] = (entry.links[k] ?? '').replace(/(deltatoken=)[^&]+/i, '$1bogus');
    await writeFile(file, JSON.stringify(state));
    const summary = await directory.syncNow();
    expect(summary.tenants[0]).toMatchObject({ ok: true, mode: 'full' });
    const mail = tenant.agents['mail-summarizer'];
    expect([...(directory.view()?.effective(app(mail?.appId ?? '', mail?.servicePrincipalId))?.graph.keys() ?? [])]).toEqual(['Mail.Read']);
  });

  it('a throttling storm (429 + Retry-After) is ridden out with the advertised delays', async () => {
    const sleeps: number[] = [];
    const dir2 = await mkdtemp(join(tmpdir(), 'gw-dir-throttle-'));
    const d = makeDirectory(dir2, { sleeps });
    try {
      emu.setThrottle({ everyNth: 3, retryAfterSec: 7, methods: ['GET'] });
      const summary = await d.syncNow();
      expect(summary.ok).toBe(true);
      expect(sleeps.length).toBeGreaterThan(10);
      expect(new Set(sleeps)).toEqual(new Set([7000]));
      expect(d.view()?.snapshot.data.tenants[0]?.users.length).toBe(directory.view()?.snapshot.data.tenants[0]?.users.length);
    } finally {
      emu.setThrottle(null);
      await d.close();
      await rm(dir2, { recursive: true, force: true });
    }
  });

  it('a sync that fails part-way keeps the previous snapshot in memory and on disk', async () => {
    const good = directory.view()?.snapshotId;
    const fileBefore = await stat(join(stateDir, SNAPSHOT_FILE));
    const contentBefore = await readFile(join(stateDir, SNAPSHOT_FILE), 'utf8');
    // Roles are read late in a sync: throttle only them, beyond the retry budget.
    emu.setThrottle({ everyNth: 1, retryAfterSec: 1, paths: ['roleManagement/'] });
    try {
      const d = makeDirectory(stateDir, { maxRetries: 2 });
      await d.start();
      expect(d.view()?.snapshotId).toBe(good);
      const summary = await d.syncNow();
      expect(summary.ok).toBe(false);
      expect(summary.tenants[0]?.error).toMatch(/429/);
      expect(d.view()?.snapshotId).toBe(good);
      expect(await readFile(join(stateDir, SNAPSHOT_FILE), 'utf8')).toBe(contentBefore);
      expect((await stat(join(stateDir, SNAPSHOT_FILE))).mtimeMs).toBe(fileBefore.mtimeMs);
      await d.close();
    } finally {
      emu.setThrottle(null);
    }
  });

  it('a restarted service serves the persisted snapshot before Graph answers', async () => {
    const d = makeDirectory(stateDir);
    const loaded: DirectoryEvent[] = [];
    const d2 = createDirectory({ stateDir, tenants: [], events: (e) => loaded.push(e) });
    await d2.start();
    expect(d2.view()?.snapshotId).toBe(directory.view()?.snapshotId);
    expect(loaded[0]?.type).toBe('snapshot-loaded');
    expect(d2.snapshotAgeMs()).toBeGreaterThanOrEqual(0);
    await d2.close();
    await d.close();
    await directory.close();
  });
});
