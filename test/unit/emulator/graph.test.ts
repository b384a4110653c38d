// Graph-side behaviour without a listener: paging with opaque skip tokens, $select,
// $filter, $count, delta, the permission table and error envelopes.
import { describe, expect, it } from 'vitest';
import { handleGraphRequest } from '../../../src/emulator/graph.js';
import { appCaller, get, makeState } from './helpers.js';

type Page = { value: Array<Record<string, unknown>>; '@odata.nextLink'?: string; '@odata.deltaLink'?: string; '@odata.count'?: number; '@odata.context': string };

describe('emulated Graph reads', () => {
  const { state, ts } = makeState(1000);
  const connector = appCaller(ts, 'graphwarden-connector');
  const run = (path: string, headers: Record<string, string> = {}) => handleGraphRequest(state, connector, get(path, headers));
  const follow = (link: string) => run(link.replace(`${state.publicUrl}/v1.0/`, ''));

  it('pages a collection with an opaque $skiptoken until every object was returned exactly once', () => {
    const first = run('users?$top=150&$select=id,displayName');
    expect(first.status).toBe(200);
    let page = first.body as Page;
    expect(page['@odata.context']).toBe(`${state.publicUrl}/v1.0/$metadata#users(id,displayName)`);
    const ids: string[] = [];
    let pages = 0;
    for (;;) {
      pages += 1;
      ids.push(...page.value.map((u) => String(u.id)));
      expect(Object.keys(page.value[0]!)).toEqual(['id', 'displayName']);
      if (!page['@odata.nextLink']) break;
      const link = new URL(page['@odata.nextLink']);
      expect(link.searchParams.get('$top')).toBe('150');
      expect(link.searchParams.get('$skiptoken')).toMatch(/^[A-Za-z0-9_-]+$/);
      page = follow(page['@odata.nextLink']).body as Page;
    }
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBe(ts.directory.users.size);
    expect(pages).toBe(Math.ceil(ids.length / 150));
  });

  it('answers an invalid skip token with 400 and a Graph error envelope', () => {
    const r = run('users?$skiptoken=garbage');
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ error: { code: 'Directory_ExpiredPageToken', innerError: { 'request-id': expect.any(String), date: expect.any(String) } } });
  });

  it('returns the v1.0 default user properties without $select and extra ones on request', () => {
    const u = run(`users/${ts.tenant.users.guest!.id}`).body as Record<string, unknown>;
    expect(u.userType).toBeUndefined();
    expect(u.userPrincipalName).toContain('#EXT#');
    const s = run(`users/${ts.tenant.users.guest!.id}?$select=userType,accountEnabled`).body as Record<string, unknown>;
    expect(s).toMatchObject({ userType: 'Guest', accountEnabled: true });
  });

  it('filters by indexed keys and by simple equality, $count needs ConsistencyLevel', () => {
    const alice = ts.tenant.users.alice!;
    const byUpn = run(`users?$filter=userPrincipalName eq '${alice.userPrincipalName}'`).body as Page;
    expect(byUpn.value.map((u) => u.id)).toEqual([alice.id]);
    const appId = ts.tenant.agents['ci-deployer']!.appId;
    expect((run(`servicePrincipals?$filter=appId eq '${appId}'`).body as Page).value).toHaveLength(1);
    const guests = run("users?$filter=userType eq 'Guest'&$count=true&$select=id", { consistencylevel: 'eventual' }).body as Page;
    expect(guests['@odata.count']).toBe(1);
    expect(run('users?$count=true').status).toBe(400);
    expect(run("users?$filter=startswith(displayName,'A')").status).toBe(400);
    expect(run('users/$count', { consistencylevel: 'eventual' }).text).toBe(String(ts.directory.users.size));
  });

  it('resolves nested and transitive membership and alternate keys', () => {
    const pim = ts.tenant.users.pim!.id;
    const direct = (run(`users/${pim}/memberOf`).body as Page).value.map((g) => g.displayName);
    const transitive = (run(`users/${pim}/transitiveMemberOf`).body as Page).value.map((g) => g.displayName);
    expect(direct).toEqual(['Engineering']);
    expect(transitive.sort()).toEqual(['All Staff', 'Engineering']);
    const ci = ts.tenant.agents['ci-deployer']!;
    const sp = run(`servicePrincipals(appId='${ci.appId}')`).body as Record<string, unknown>;
    expect(sp.id).toBe(ci.servicePrincipalId);
  });

  it('expands owners and members (at most 20) and refuses unknown navigation properties', () => {
    const apps = (run("applications?$filter=displayName eq 'CI Target Web'&$expand=owners($select=id)").body as Page).value;
    expect((apps[0]!.owners as Array<Record<string, unknown>>).map((o) => [o['@odata.type'], o.id])).toEqual([['#microsoft.graph.servicePrincipal', ts.tenant.agents['ci-deployer']!.servicePrincipalId]]);
    const g = run(`groups/${ts.tenant.groups['all-staff']!.id}?$expand=members`).body as Record<string, unknown>;
    expect((g.members as unknown[]).length).toBe(4);
    expect(run('users?$expand=manager').status).toBe(400);
    const staff = ts.tenant.groups['all-staff']!.id;
    expect(run(`groups/${staff}/transitiveMembers/$count`, { consistencylevel: 'eventual' }).text).toBe('6');
    expect(run(`groups/${staff}/members/$count`).status).toBe(400);
  });

  it('lists objects owned by a service principal', () => {
    const owned = (run(`servicePrincipals/${ts.tenant.agents['ci-deployer']!.servicePrincipalId}/ownedObjects?$select=displayName`).body as Page).value.map((o) => o.displayName).sort();
    expect(owned).toEqual(['CI Target API', 'CI Target API', 'CI Target Web', 'CI Target Web']);
  });

  it('lists role definitions from the shipped data with template ids and resource actions', () => {
    const r = run("roleManagement/directory/roleDefinitions?$filter=displayName eq 'Global Administrator'").body as Page;
    expect(r.value[0]).toMatchObject({ id: '62e90394-69f5-4237-9190-012177145e10', templateId: '62e90394-69f5-4237-9190-012177145e10', isBuiltIn: true, isPrivileged: true });
    expect((r.value[0]!.rolePermissions as Array<{ allowedResourceActions: string[] }>)[0]!.allowedResourceActions.length).toBeGreaterThan(100);
    const elig = (run('roleManagement/directory/roleEligibilitySchedules').body as Page).value;
    expect(elig.filter((e) => e.principalId === ts.tenant.users.pim!.id)).toHaveLength(2);
    expect(elig[0]).toMatchObject({ scheduleInfo: { expiration: { type: 'afterDateTime' } } });
  });

  it('checks the token permissions per operation: OwnedBy sees only owned apps', () => {
    const ci = appCaller(ts, 'ci-deployer');
    const apps = (handleGraphRequest(state, ci, get('applications')).body as Page).value.map((a) => a.displayName).sort();
    expect(apps).toEqual(['CI Target API', 'CI Target Web']);
    const other = ts.tenant.agents['mail-summarizer']!.applicationObjectId!;
    expect(handleGraphRequest(state, ci, get(`applications/${other}`)).status).toBe(403);
    expect(handleGraphRequest(state, appCaller(ts, 'mail-summarizer'), get('groups')).status).toBe(403);
  });
});

describe('emulated Graph delta', () => {
  it('syncs, reports updates, membership deltas and removals, and refuses expired tokens with 410', () => {
    const { state, ts } = makeState(400);
    const caller = appCaller(ts, 'graphwarden-connector');
    const run = (path: string) => handleGraphRequest(state, caller, get(path, { prefer: 'odata.maxpagesize=100' }));
    let page = run('groups/delta?$select=displayName,members').body as Page;
    let n = page.value.length;
    while (page['@odata.nextLink']) {
      page = run(page['@odata.nextLink'].replace(`${state.publicUrl}/v1.0/`, '')).body as Page;
      n += page.value.length;
    }
    expect(n).toBe(ts.directory.groups.size);
    const link = page['@odata.deltaLink']!.replace(`${state.publicUrl}/v1.0/`, '');
    const dir = ts.directory;
    const eng = ts.tenant.groups.engineering!.id;
    dir.removeMember(eng, ts.tenant.users.pim!.id);
    dir.updateObject('groups', ts.tenant.groups['all-staff']!.id, { description: 'changed' });
    const dyn = ts.tenant.groups['dynamic-sales']!.id;
    dir.deleteObject(dyn);
    const changes = run(link).body as Page;
    expect(changes.value).toEqual([
      expect.objectContaining({ id: eng, 'members@delta': [{ '@odata.type': '#microsoft.graph.user', id: ts.tenant.users.pim!.id, '@removed': { reason: 'deleted' } }] }),
      expect.objectContaining({ id: ts.tenant.groups['all-staff']!.id, displayName: 'All Staff' }),
      { id: dyn, '@removed': { reason: 'deleted' } },
    ]);
  });

  it('answers 410 resyncRequired once the change log no longer reaches the token', () => {
    const { state, ts } = makeState(100);
    const caller = appCaller(ts, 'graphwarden-connector');
    const latest = handleGraphRequest(state, caller, get('users/delta?$deltatoken=latest')).body as Page;
    for (let i = 0; i < 100_001; i++) ts.directory.updateObject('users', ts.tenant.users.alice!.id, { jobTitle: `t${i % 3}` });
    const r = handleGraphRequest(state, caller, get(latest['@odata.deltaLink']!.replace(`${state.publicUrl}/v1.0/`, '')));
    expect(r.status).toBe(410);
    expect(r.body).toMatchObject({ error: { code: 'resyncRequired' } });
  });
});
