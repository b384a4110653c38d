import { describe, it, expect } from 'vitest';
import { toPrincipal } from '../../../src/identity/index.js';

const TID = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const APP = '11111111-2222-3333-4444-555555555555';
const OID = '66666666-7777-8888-9999-000000000000';

function v1(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { tid: TID, ver: '1.0', appid: APP, appidacr: '1', oid: OID, iat: 100, exp: 4000, uti: 'u1', ...extra };
}

function ok(claims: Record<string, unknown>) {
  const r = toPrincipal(claims);
  if (!r.ok) throw new Error(`expected ok, got ${r.reason}`);
  return r.principal;
}

function reason(claims: Record<string, unknown>): string {
  const r = toPrincipal(claims);
  if (r.ok) throw new Error('expected a refusal');
  return r.reason;
}

describe('toPrincipal: kind', () => {
  it('idtyp app → app-only, oid is the service principal', () => {
    const p = ok(v1({ idtyp: 'app', roles: ['Mail.Read'] }));
    expect(p).toMatchObject({ kind: 'app', servicePrincipalId: OID, roles: ['Mail.Read'], scopes: [] });
    expect(p.userId).toBeUndefined();
  });

  it('idtyp user → delegated, oid is the user, scp split on spaces', () => {
    const p = ok(v1({ idtyp: 'user', scp: 'User.Read  Mail.Send', upn: 'a@b.example' }));
    expect(p).toMatchObject({ kind: 'delegated', userId: OID, scopes: ['User.Read', 'Mail.Send'], userPrincipalName: 'a@b.example' });
    expect(p.servicePrincipalId).toBeUndefined();
  });

  it('idtyp wins over the scp/roles heuristic', () => {
    // A user token that also carries app roles the user was assigned stays delegated.
    expect(ok(v1({ idtyp: 'user', scp: 'User.Read', roles: ['Admin'] })).kind).toBe('delegated');
  });

  it('without idtyp: scp present → delegated; roles without scp → app', () => {
    expect(ok(v1({ scp: 'User.Read' })).kind).toBe('delegated');
    expect(ok(v1({ roles: ['User.Read.All'] })).kind).toBe('app');
  });

  it.each([
    [{ idtyp: 'app', scp: 'User.Read' }, 'app-token-with-scp'],
    [{ idtyp: 'user' }, 'user-token-without-scp'],
    [{ idtyp: 'device', scp: 'x' }, 'idtyp-unsupported'],
    [{}, 'no-roles-or-scp'],
    [{ scp: '' }, 'no-roles-or-scp'],
  ])('refuses %o (%s)', (extra, why) => {
    expect(reason(v1(extra))).toBe(why);
  });
});

describe('toPrincipal: claims', () => {
  it('v2 tokens take the client from azp/azpacr', () => {
    const { appid: _a, appidacr: _b, ...base } = v1();
    const p = ok({ ...base, ver: '2.0', azp: APP, azpacr: '2', roles: [] , idtyp: 'app' });
    expect(p).toMatchObject({ tokenVersion: '2.0', appId: APP, clientAuth: 'certificate' });
  });

  it('maps appidacr 0/1/2 and anything else', () => {
    const kinds = ['0', '1', '2', '9', undefined].map((acr) => ok(v1({ idtyp: 'app', appidacr: acr })).clientAuth);
    expect(kinds).toEqual(['public', 'secret', 'certificate', 'unknown', 'unknown']);
  });

  it('normalises GUIDs to lower case and keeps wids, uti, iat, exp, display name', () => {
    const p = ok(v1({ tid: TID.toUpperCase(), oid: OID.toUpperCase(), idtyp: 'app', wids: ['a', 'b'], app_displayname: 'agent' }));
    expect(p).toMatchObject({ tenantId: TID, servicePrincipalId: OID, wids: ['a', 'b'], tokenId: 'u1', issuedAt: 100, expiresAt: 4000, appDisplayName: 'agent' });
  });

  it('falls back from upn to unique_name to preferred_username', () => {
    expect(ok(v1({ scp: 'x', unique_name: 'u@x' })).userPrincipalName).toBe('u@x');
    expect(ok(v1({ scp: 'x', preferred_username: 'p@x' })).userPrincipalName).toBe('p@x');
  });

  it('infers the version when ver is absent', () => {
    const { ver: _v, ...noVer } = v1({ idtyp: 'app' });
    expect(ok(noVer).tokenVersion).toBe('1.0');
    const { appid: _a, ...v2ish } = noVer;
    expect(ok({ ...v2ish, azp: APP }).tokenVersion).toBe('2.0');
  });

  it.each([
    [{ tid: 'contoso.onmicrosoft.com' }, 'tid-missing-or-not-guid'],
    [{ tid: undefined }, 'tid-missing-or-not-guid'],
    [{ appid: undefined }, 'appid-missing-or-not-guid'],
    [{ appid: 'my-app' }, 'appid-missing-or-not-guid'],
    [{ oid: undefined }, 'oid-missing-or-not-guid'],
    [{ oid: 42 }, 'oid-missing-or-not-guid'],
    [{ ver: '3.0' }, 'ver-unsupported'],
    [{ roles: 'x', scp: 7 }, 'scp-malformed'],
    [{ roles: [1, 2] }, 'roles-malformed'],
    [{ roles: ['a'], wids: {} }, 'wids-malformed'],
    [{ roles: ['a'], exp: undefined }, 'exp-missing'],
  ])('refuses %o (%s)', (extra, why) => {
    expect(reason(v1({ idtyp: 'app', ...extra }))).toBe(why);
  });

  it('is pure: the same claims give equal principals and the input is not modified', () => {
    const claims = v1({ idtyp: 'app', roles: ['A'] });
    const copy = structuredClone(claims);
    expect(ok(claims)).toEqual(ok(claims));
    expect(claims).toEqual(copy);
  });
});
