import { describe, expect, it } from 'vitest';
import { GraphRequestError, type GraphClient } from '../../../src/directory/connector/graph-client.js';
import { DeltaExpiredError, deltaSyncTenant, fullSyncTenant } from '../../../src/directory/connector/sync.js';
import { tenant, TENANT } from './fixture.js';

type Obj = Record<string, unknown>;

/** An in-memory Graph: path prefix → pages; records what was asked. */
function fakeClient(routes: Record<string, { items: Obj[]; deltaLink?: string } | GraphRequestError>): GraphClient & { asked: string[] } {
  const asked: string[] = [];
  const find = (p: string) => {
    asked.push(p);
    const key = Object.keys(routes)
      .filter((k) => p.startsWith(k))
      .sort((a, b) => b.length - a.length)[0];
    const r = key === undefined ? { items: [] } : routes[key];
    if (r instanceof GraphRequestError) throw r;
    return r ?? { items: [] };
  };
  return {
    asked,
    get: (p) => Promise.resolve({ value: find(p).items }),
    list: (p) => Promise.resolve(find(p)),
    close: () => Promise.resolve(),
  };
}

const links = { users: 'd/users', groups: 'd/groups', applications: 'd/apps', servicePrincipals: 'd/sps', grants: 'd/grants' };

describe('delta refresh', () => {
  it('applies @removed objects, members@delta additions and removals, grant changes, and re-reads owners of changed objects', async () => {
    const prev = tenant();
    const client = fakeClient({
      'd/users': { items: [{ id: 'u-off', '@removed': { reason: 'deleted' } }, { id: 'u-member', displayName: 'Mia Renamed' }, { id: 'u-new', displayName: 'New', userType: 'Guest' }], deltaLink: 'd/users2' },
      'd/groups': { items: [{ id: 'g-ra', 'members@delta': [{ id: 'sp-agent', '@removed': { reason: 'deleted' } }, { id: 'u-member' }] }], deltaLink: 'd/groups2' },
      'd/apps': { items: [], deltaLink: 'd/apps2' },
      'd/sps': { items: [], deltaLink: 'd/sps2' },
      'd/grants': { items: [{ id: 'gr-all', clientId: 'sp-client', consentType: 'AllPrincipals', principalId: null, resourceId: 'sp-graph', scope: 'User.Read' }, { id: 'gr-guest', '@removed': { reason: 'deleted' } }], deltaLink: 'd/grants2' },
      '/v1.0/groups/g-ra/owners': { items: [{ id: 'u-admin' }] },
    });
    const r = await deltaSyncTenant({ client, tenantId: TENANT, syncedAt: 'now' }, prev, links);
    expect(r.mode).toBe('delta');
    expect(r.deltaLinks).toEqual({ users: 'd/users2', groups: 'd/groups2', applications: 'd/apps2', servicePrincipals: 'd/sps2', grants: 'd/grants2' });
    const users = new Map(r.data.users.map((u) => [u.id, u]));
    expect(users.has('u-off')).toBe(false);
    expect(users.get('u-member')).toMatchObject({ displayName: 'Mia Renamed', userType: 'Member', accountEnabled: true });
    expect(users.get('u-new')?.userType).toBe('Guest');
    const gra = r.data.groups.find((g) => g.id === 'g-ra');
    expect(gra?.members).toEqual(['u-member']);
    expect(gra?.roleAssignable).toBe(true);
    expect(gra?.owners).toEqual(['u-admin']);
    expect(r.data.grants.find((g) => g.id === 'gr-all')?.scope).toBe('User.Read');
    expect(r.data.grants.some((g) => g.id === 'gr-guest')).toBe(false);
    // Unchanged groups keep their owners without a request.
    expect(client.asked.some((p) => p.includes('/groups/g-plain/owners'))).toBe(false);
    // Roles and PIM are re-read every time (no delta for them).
    expect(client.asked.some((p) => p.startsWith('/v1.0/roleManagement/directory/roleAssignments'))).toBe(true);
  });

  it('turns 410 syncStateNotFound into DeltaExpiredError, and refuses when tokens are missing', async () => {
    const client = fakeClient({ 'd/users': new GraphRequestError(410, 'syncStateNotFound', '/v1.0/users/delta', 'gone') });
    await expect(deltaSyncTenant({ client, tenantId: TENANT, syncedAt: 'now' }, tenant(), links)).rejects.toBeInstanceOf(DeltaExpiredError);
    await expect(deltaSyncTenant({ client, tenantId: TENANT, syncedAt: 'now' }, tenant(), { users: 'x' })).rejects.toBeInstanceOf(DeltaExpiredError);
  });

  it('a full sync fails as a whole when any read fails, and tolerates a tenant without PIM when optional', async () => {
    const denied = new GraphRequestError(403, 'Authorization_RequestDenied', '/v1.0/roleManagement/directory/roleEligibilitySchedules', 'denied');
    const client = fakeClient({ '/v1.0/roleManagement/directory/roleEligibilitySchedules': denied });
    const r = await fullSyncTenant({ client, tenantId: TENANT, syncedAt: 'now', delta: false });
    expect(r.warnings.join()).toMatch(/PIM roleEligibilitySchedules not readable \(403\)/);
    await expect(fullSyncTenant({ client, tenantId: TENANT, syncedAt: 'now', delta: false, pim: 'required' })).rejects.toBe(denied);
    const broken = fakeClient({ '/v1.0/groups?': new GraphRequestError(500, 'generalException', '/v1.0/groups', 'boom') });
    await expect(fullSyncTenant({ client: broken, tenantId: TENANT, syncedAt: 'now', delta: false })).rejects.toThrow('boom');
  });
});
