// Builders for principals, operations and policies used across policy/decision/audit unit tests.
import type { Principal } from '../../../src/identity/principal.js';
import type { OperationFacts } from '../../../src/policy/inputs.js';
import { compilePolicy } from '../../../src/policy/compile.js';
import type { CompiledPolicy, RuleSource } from '../../../src/policy/compile.js';

export const TENANT = '11111111-1111-1111-1111-111111111111';
export const APP = 'aaaaaaaa-0000-0000-0000-000000000001';

export function appPrincipal(over: Partial<Principal> = {}): Principal {
  return {
    kind: 'app',
    tenantId: TENANT,
    appId: APP,
    servicePrincipalId: 'sp-1',
    roles: ['Mail.Read'],
    scopes: [],
    wids: [],
    tokenId: 'uti-1',
    clientAuth: 'certificate',
    tokenVersion: '1.0',
    issuedAt: 1_700_000_000,
    expiresAt: 1_700_003_600,
    ...over,
  };
}

export function delegatedPrincipal(over: Partial<Principal> = {}): Principal {
  return appPrincipal({ kind: 'delegated', servicePrincipalId: undefined, userId: 'user-1', userPrincipalName: 'ada@contoso.test', roles: [], scopes: ['Mail.Read'], ...over });
}

const req = (anyOf: string[]) => ({ anyOf, least: anyOf.slice(0, 1), alsoRequires: [] as string[][] });

export function operation(over: Partial<OperationFacts> & { needs?: string[] } = {}): OperationFacts {
  const { needs = ['Mail.Read'], ...rest } = over;
  return {
    method: 'GET',
    version: 'v1.0',
    path: '/users/user-2/messages',
    template: '/users/{id}/messages',
    known: true,
    action: 'read',
    permissions: { Application: req(needs), DelegatedWork: req(needs) },
    target: { type: 'user', id: 'user-2' },
    tier: 'user-data',
    related: { select: [], expand: [] },
    tokenHasPermission: null,
    isBatch: false,
    ...rest,
  };
}

export function policyFrom(yaml: string, extra: RuleSource[] = []): CompiledPolicy {
  const r = compilePolicy([{ name: 'test.yaml', text: yaml }, ...extra]);
  if (!r.ok) throw new Error(r.errors.join('\n'));
  return r.policy;
}
