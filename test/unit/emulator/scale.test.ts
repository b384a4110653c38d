// A tenant of 1,000,000 directory objects is generated lazily from indexes: creating it
// and reading anywhere in it must not materialise the objects.
import { describe, expect, it } from 'vitest';
import { handleGraphRequest } from '../../../src/emulator/graph.js';
import { appCaller, get, makeState } from './helpers.js';

describe('lazy directory at 1,000,000 objects', () => {
  it('keeps memory bounded and serves reads, lookups and deep pages', () => {
    const before = process.memoryUsage().heapUsed;
    const { state, ts } = makeState(1_000_000);
    const dir = ts.directory;
    const total = dir.users.size + dir.groups.size + dir.applications.size + dir.servicePrincipals.size;
    expect(total).toBeGreaterThanOrEqual(1_000_000);
    // 1M materialised objects would take hundreds of MB; the lazy tenant costs a few.
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(60 * 1024 * 1024);

    const caller = appCaller(ts, 'graphwarden-connector');
    const last = dir.users.page({ m: Number.MAX_SAFE_INTEGER, f: 0 }, 1).items[0]!;
    expect(last.userPrincipalName).toBe(`user0@${ts.tenant.primaryDomain}`);
    const deep = dir.users.page({ m: Number.MAX_SAFE_INTEGER, f: 799_000 }, 100);
    expect(deep.items).toHaveLength(100);
    expect(deep.items[0]!.userPrincipalName).toBe(`user799000@${ts.tenant.primaryDomain}`);

    const upn = `user654321@${ts.tenant.primaryDomain}`;
    const byUpn = handleGraphRequest(state, caller, get(`users/${upn}?$select=id,userPrincipalName`));
    expect(byUpn.status).toBe(200);
    const id = (byUpn.body as { id: string }).id;
    const groups = handleGraphRequest(state, caller, get(`users/${id}/memberOf?$select=displayName`)).body as { value: Array<{ displayName: string }> };
    expect(groups.value.map((g) => g.displayName)).toEqual([`Team ${Math.floor(654321 / 5)}`]);

    const count = handleGraphRequest(state, caller, get('users/$count', { consistencylevel: 'eventual' }));
    expect(Number(count.text)).toBe(dir.users.size);
    // Non-indexed filters would scan a million objects: refused like an unsupported query...
    expect(handleGraphRequest(state, caller, get("users?$filter=department eq 'Sales'")).status).toBe(400);
    // ...unless every generated object shares the field's value and it does not match.
    dir.updateObject('users', dir.users.page({ m: Number.MAX_SAFE_INTEGER, f: 42 }, 1).items[0]!.id as string, { accountEnabled: false });
    const disabled = handleGraphRequest(state, caller, get('users?$filter=accountEnabled eq false&$select=displayName')).body as { value: Array<{ displayName: string }> };
    expect(disabled.value.map((u) => u.displayName).sort()).toEqual(['Dan Disabled', 'Staff Member 42']);
    const guests = handleGraphRequest(state, caller, get("users?$filter=userType eq 'Guest'&$select=displayName")).body as { value: Array<{ displayName: string }> };
    expect(guests.value.map((u) => u.displayName)).toEqual(['Gita Guest']);
    const roleGroups = handleGraphRequest(state, caller, get('groups?$filter=isAssignableToRole eq true&$select=displayName')).body as { value: Array<{ displayName: string }> };
    expect(roleGroups.value.map((g) => g.displayName)).toEqual(['Helpdesk Admins']);
    expect(handleGraphRequest(state, caller, get("users?$filter=userType eq 'Member'")).status).toBe(400);
    expect(handleGraphRequest(state, caller, get("users?$filter=accountEnabled eq true and department eq 'Operations'")).status).toBe(400);

    // Writes overlay the generated objects and are visible to reads.
    dir.updateObject('users', id, { displayName: 'Renamed Filler' });
    const again = handleGraphRequest(state, caller, get(`users/${id}?$select=displayName`)).body as { displayName: string };
    expect(again.displayName).toBe('Renamed Filler');
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(80 * 1024 * 1024);
  });
});
