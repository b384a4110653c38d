import { describe, expect, it } from 'vitest';
import { createDirectoryView, parseIsoDuration, scheduleInForce, transitiveGroups } from '../../../src/directory/effective.js';
import { loadReferenceData } from '../../../src/directory/reference.js';
import { createSnapshot } from '../../../src/directory/snapshot.js';
import { appPrincipal, data, MAIL_READ_TENANT_GUID, NOW, ROLE, TENANT, userPrincipal } from './fixture.js';

const refs = loadReferenceData();

function view(now = NOW) {
  const snap = createSnapshot(data(), new Date(NOW).toISOString());
  return createDirectoryView(snap, { refs, now: () => now });
}

describe('app-only effective permissions', () => {
  it('resolves Graph app roles through the tenant Graph SP, falling back to the shipped table, only on the Graph SP', () => {
    const e = view().effective(appPrincipal('app-agent', 'sp-agent'));
    expect(e).toBeDefined();
    expect([...(e?.graph.keys() ?? [])].sort()).toEqual(['Mail.Read', 'User.Read.All']);
    expect(e?.graph.get('Mail.Read')?.via).toEqual([expect.objectContaining({ kind: 'appRoleAssignment', id: 'ara-mail' })]);
    expect(e?.graph.get('User.Read.All')?.scheme).toBe('Application');
    // ara-other carries Application.ReadWrite.All's GUID but on another resource SP.
    expect(e?.graph.has('Application.ReadWrite.All')).toBe(false);
    expect(MAIL_READ_TENANT_GUID).not.toBe('');
  });

  it('lists direct, group-inherited and PIM-active roles; drops ended schedules; keeps eligible apart', () => {
    const e = view().effective(appPrincipal('app-agent', 'sp-agent'));
    const active = new Map(e?.activeRoles.map((r) => [r.roleTemplateId ?? r.roleDefinitionId, r]));
    expect([...active.keys()].sort()).toEqual([ROLE.appAdmin, ROLE.userAdmin, 'custom-1'].sort());
    expect(active.get(ROLE.userAdmin)?.via.map((v) => v.kind)).toEqual(['groupMembership', 'directoryRoleAssignment']);
    expect(active.get(ROLE.userAdmin)?.via[0]?.id).toBe('g-ra');
    expect(active.get(ROLE.appAdmin)?.via[0]).toMatchObject({ kind: 'pimActiveAssignment', id: 'ras-agent-appadmin' });
    expect(active.get(ROLE.appAdmin)?.endDateTime).toBe(new Date(NOW + 30 * 60_000).toISOString());
    expect(active.get(ROLE.appAdmin)?.privileged).toBe(true);
    expect(active.get('custom-1')?.directoryScopeId).toBe('/app-obj-x');
    expect(active.has(ROLE.groupsAdmin)).toBe(false);
    // Global Admin eligible is latent; App Admin eligibility is not listed because it is active; revoked ignored.
    expect(e?.eligibleRoles.map((r) => r.roleTemplateId)).toEqual([ROLE.globalAdmin]);
  });

  it('re-evaluates PIM windows against the clock: the activation ends after its duration', () => {
    const v = view();
    const later = v.effectiveAt(appPrincipal('app-agent', 'sp-agent'), NOW + 31 * 60_000);
    expect(later?.activeRoles.some((r) => r.roleTemplateId === ROLE.appAdmin)).toBe(false);
    expect(later?.eligibleRoles.some((r) => r.roleTemplateId === ROLE.appAdmin)).toBe(true);
    const before = v.effectiveAt(appPrincipal('app-agent', 'sp-agent'), NOW);
    expect(before?.activeRoles.some((r) => r.roleTemplateId === ROLE.appAdmin)).toBe(true);
  });

  it('answers one principal object from its cached answer within the window, and afresh past it', () => {
    const v = view();
    const principal = appPrincipal('app-agent', 'sp-agent');
    const first = v.effectiveAt(principal, NOW);
    expect(v.effectiveAt(principal, NOW + 60_000)).toBe(first);
    // An equal principal of another token gets the same cached answer.
    expect(v.effectiveAt(appPrincipal('app-agent', 'sp-agent'), NOW + 60_000)).toBe(first);
    const later = v.effectiveAt(principal, NOW + 31 * 60_000);
    expect(later).not.toBe(first);
    expect(later?.activeRoles.some((r) => r.roleTemplateId === ROLE.appAdmin)).toBe(false);
    // Back inside the first window (a clock that moved back), the answer follows the clock too.
    expect(v.effectiveAt(principal, NOW)?.activeRoles.some((r) => r.roleTemplateId === ROLE.appAdmin)).toBe(true);
  });

  it('derives ownership powers and normalised capabilities with provenance', () => {
    const e = view().effective(appPrincipal('app-agent', 'sp-agent'));
    expect([...(e?.owns ?? [])].sort()).toEqual(['app-obj-x', 'g-plain']);
    const caps = e?.capabilities ?? [];
    const addCreds = caps.find((c) => c.action === 'add-credentials' && !c.latent);
    // Application Administrator (PIM active) gives it tenant-wide.
    expect(addCreds?.resources).toBe('any');
    expect(addCreds?.via.some((v) => v.kind === 'ownership' && v.id === 'app-obj-x')).toBe(true);
    const latentRoles = caps.find((c) => c.action === 'assign-directory-roles' && c.latent);
    expect(latentRoles?.via[0]).toMatchObject({ kind: 'pimEligibleAssignment', id: 'res-agent-ga' });
    const mail = caps.find((c) => c.action === 'read-mail');
    expect(mail).toMatchObject({ resources: 'any', description: 'read any mailbox' });
  });

  it('after the activation ends, credential power is limited to the owned app', () => {
    const e = view().effectiveAt(appPrincipal('app-agent', 'sp-agent'), NOW + 2 * 3_600_000);
    const addCreds = e?.capabilities?.find((c) => c.action === 'add-credentials' && !c.latent);
    // Both the custom role scoped to /app-obj-x and ownership point at the same single app.
    expect(addCreds?.resources).toEqual(['app-obj-x']);
    expect(addCreds?.via.map((v) => v.kind).sort()).toEqual(['directoryRoleAssignment', 'ownership']);
    expect(addCreds?.description).toBe('add credentials to 1 application or service principal');
  });

  it('a disabled service principal holds nothing; unknown or mismatched principals are undefined', () => {
    const v = view();
    const off = v.effective(appPrincipal('app-off', 'sp-off'));
    expect(off?.disabled).toBe(true);
    expect(off?.graph.size).toBe(0);
    expect(v.effective(appPrincipal('no-such-app'))).toBeUndefined();
    expect(v.effective(appPrincipal('app-client', 'sp-agent'))).toBeUndefined();
    expect(v.effective({ ...appPrincipal('app-agent'), tenantId: '22222222-2222-2222-2222-222222222222' })).toBeUndefined();
  });
});

describe('delegated effective permissions', () => {
  it('unions AllPrincipals and the user’s own Principal grants, only on Microsoft Graph', () => {
    const e = view().effective(userPrincipal('app-client', 'u-admin'));
    expect([...(e?.graph.keys() ?? [])].sort()).toEqual(['Mail.Read', 'RoleManagement.ReadWrite.Directory', 'User.Read', 'User.ReadWrite.All'].sort());
    expect(e?.graph.get('Mail.Read')?.via[0]).toMatchObject({ kind: 'oauth2PermissionGrant', id: 'gr-all' });
    // Files.Read.All is granted on another resource, not Graph.
    expect(e?.graph.has('Files.Read.All')).toBe(false);
    // Delegated Mail.Read reaches the signed-in user's own mailbox, not every mailbox.
    expect(e?.capabilities?.find((c) => c.action === 'read-mail')).toMatchObject({ resources: ['u-admin'], description: 'read 1 mailbox' });
  });

  it('intersects scopes with the user’s roles: a role-backed scope is held with the role in its provenance', () => {
    const e = view().effective(userPrincipal('app-client', 'u-admin'));
    const rm = e?.graph.get('RoleManagement.ReadWrite.Directory');
    expect(rm?.via.map((v) => v.kind)).toEqual(['oauth2PermissionGrant', 'userRole']);
    expect(rm?.limitedTo).toBeUndefined();
    // Privileged Role Administrator cannot update users: User.ReadWrite.All reaches only her own profile;
    // Group.ReadWrite.All is withheld (no role over groups, owns no group).
    expect(e?.graph.get('User.ReadWrite.All')?.limitedTo).toEqual(['u-admin']);
    expect(e?.withheld?.map((w) => w.permission)).toEqual(['Group.ReadWrite.All']);
  });

  it('a member without roles keeps ordinary scopes, owner-limited write scopes, and loses role-only scopes', () => {
    const e = view().effective(userPrincipal('app-client', 'u-member'));
    expect(e?.graph.get('User.Read')).toBeDefined();
    expect(e?.graph.get('Group.ReadWrite.All')?.limitedTo).toEqual(['g-plain']);
    expect(e?.graph.get('Directory.ReadWrite.All')?.limitedTo).toEqual(['u-member', 'g-plain']);
    expect(e?.graph.has('RoleManagement.ReadWrite.Directory')).toBe(false);
    expect(e?.withheld?.map((w) => w.permission)).toEqual(['RoleManagement.ReadWrite.Directory']);
    expect(e?.withheld?.[0]?.via[0]).toMatchObject({ kind: 'oauth2PermissionGrant', id: 'gr-member' });
  });

  it('a guest cannot use directory-wide read scopes without a role; a disabled user holds nothing', () => {
    const v = view();
    const g = v.effective(userPrincipal('app-client', 'u-guest'));
    expect(g?.graph.has('User.Read.All')).toBe(false);
    expect(g?.graph.has('User.Read')).toBe(true);
    const off = v.effective(userPrincipal('app-client', 'u-off'));
    expect(off?.disabled).toBe(true);
    expect(off?.graph.size).toBe(0);
    expect(v.effective(userPrincipal('app-client', 'nobody'))).toBeUndefined();
  });
});

describe('view lookups', () => {
  it('agent() joins the SP and its application', () => {
    const a = view().agent(TENANT, 'APP-AGENT');
    expect(a).toMatchObject({ servicePrincipalId: 'sp-agent', applicationObjectId: 'app-obj-agent', multiTenant: true, displayName: 'Agent' });
    expect(a?.owners).toEqual([{ id: 'u-admin', type: 'user', displayName: 'Ada Admin' }]);
    expect(view().agent(TENANT, 'nope')).toBeUndefined();
  });

  it('object() finds by id, appId and role template id, and flags control-plane holders', () => {
    const v = view();
    expect(v.object(TENANT, 'g-ra')).toMatchObject({ type: 'group', roleAssignable: true });
    expect(v.object(TENANT, 'app-agent')).toMatchObject({ type: 'servicePrincipal', id: 'sp-agent', holdsControlPlane: true });
    expect(v.object(TENANT, 'app-obj-x')).toMatchObject({ type: 'application', holdsControlPlane: false });
    expect(v.object(TENANT, ROLE.globalAdmin)).toMatchObject({ type: 'roleDefinition', privileged: true, displayName: 'Global Administrator' });
    expect(v.object(TENANT, 'missing')).toBeUndefined();
    expect(v.groupsOf?.(TENANT, 'u-guest')).toEqual(['g-a', 'g-b', 'g-c']);
    expect(v.groupsOf?.(TENANT, 'sp-agent')).toEqual(['g-ra']);
    expect(v.groupsOf?.(TENANT, 'missing')).toBeUndefined();
  });
});

describe('helpers', () => {
  it('parses ISO 8601 durations', () => {
    expect(parseIsoDuration('PT8H')).toBe(8 * 3_600_000);
    expect(parseIsoDuration('P1DT30M')).toBe(86_400_000 + 1_800_000);
    expect(parseIsoDuration('P')).toBeUndefined();
    expect(parseIsoDuration('8 hours')).toBeUndefined();
  });

  it('a schedule with an unreadable duration is not treated as permanent', () => {
    expect(scheduleInForce({ id: 's', principalId: 'p', roleDefinitionId: 'r', directoryScopeId: '/', status: 'Provisioned', startDateTime: new Date(NOW - 1000).toISOString(), expirationType: 'afterDuration', duration: 'bogus' }, NOW)).toBe(false);
    expect(scheduleInForce({ id: 's', principalId: 'p', roleDefinitionId: 'r', directoryScopeId: '/', status: 'Provisioned', startDateTime: new Date(NOW + 1000).toISOString(), expirationType: 'noExpiration' }, NOW)).toBe(false);
  });

  it('transitive membership terminates on cycles and reports every reachable group', () => {
    const snap = createSnapshot(data(), new Date(NOW).toISOString());
    const t = snap.tenants.get(TENANT);
    expect(t).toBeDefined();
    if (!t) return;
    expect([...transitiveGroups(t, 'u-guest').keys()].sort()).toEqual(['g-a', 'g-b', 'g-c']);
    expect(transitiveGroups(t, 'u-guest').get('g-b')).toEqual(['g-c', 'g-b']);
    expect(transitiveGroups(t, 'u-guest').get('g-a')).toEqual(['g-c', 'g-b', 'g-a']);
    expect([...transitiveGroups(t, 'g-a').keys()].sort()).toEqual(['g-b', 'g-c']);
  });
});
