import type { Principal } from '../../../src/identity/principal.js';

export const TENANT = '11111111-2222-3333-4444-555555555555';

export function appPrincipal(roles: string[]): Principal {
  return {
    kind: 'app', tenantId: TENANT, appId: 'aaaaaaaa-0000-0000-0000-000000000001', servicePrincipalId: 'sp-1',
    roles, scopes: [], wids: [], tokenId: 't1', clientAuth: 'certificate', tokenVersion: '2.0', issuedAt: 0, expiresAt: 1,
  };
}

export function userPrincipal(scopes: string[], userId = 'User-Oid-1'): Principal {
  return {
    kind: 'delegated', tenantId: TENANT, appId: 'aaaaaaaa-0000-0000-0000-000000000002', userId,
    roles: [], scopes, wids: [], tokenId: 't2', clientAuth: 'public', tokenVersion: '2.0', issuedAt: 0, expiresAt: 1,
  };
}
