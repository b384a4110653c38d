/**
 * Every bad token kind is refused by graphwarden with a Graph 401 and provably never
 * reaches Graph: the emulator's request log stays empty for those calls.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { request } from 'undici';
import { startStack, type Stack } from '../support/stack.js';
import type { IssueTokenRequest } from '../../src/emulator/index.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ emulator: { size: 200 } });
});
afterAll(async () => {
  await stack?.close();
});

function tamper(token: string): string {
  const [h, p, s] = token.split('.');
  const claims = JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown>;
  claims.roles = ['Directory.ReadWrite.All', 'RoleManagement.ReadWrite.Directory'];
  return `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`;
}

const OTHER_TENANT = '0f0f0f0f-1111-2222-3333-444444444444';

type Case = { name: string; code: string; make: (base: Omit<IssueTokenRequest, 'kind'>) => Promise<string | undefined> };
const cases: Case[] = [
  { name: 'missing token', code: 'GW_ERR_TOKEN_MISSING', make: async () => undefined },
  { name: 'expired', code: 'GW_ERR_TOKEN_EXPIRED', make: (b) => stack.emulator.issueToken({ ...b, kind: 'app', notBeforeSec: -7200, lifetimeSec: 600 }) },
  { name: 'not yet valid', code: 'GW_ERR_TOKEN_NOT_YET_VALID', make: (b) => stack.emulator.issueToken({ ...b, kind: 'app', notBeforeSec: 3600 }) },
  { name: 'wrong audience', code: 'GW_ERR_TOKEN_AUDIENCE', make: (b) => stack.emulator.issueToken({ ...b, kind: 'app', claims: { aud: 'api://some-other-api' } }) },
  { name: 'wrong tenant', code: 'GW_ERR_TOKEN_TENANT', make: (b) => stack.emulator.issueToken({ ...b, kind: 'app', claims: { tid: OTHER_TENANT, iss: `https://sts.windows.net/${OTHER_TENANT}/` } }) },
  { name: 'unknown signing key', code: 'GW_ERR_TOKEN_UNKNOWN_KEY', make: (b) => stack.emulator.issueToken({ ...b, kind: 'app', sign: 'unknown-key' }) },
  { name: 'alg none', code: 'GW_ERR_TOKEN_SIGNATURE', make: (b) => stack.emulator.issueToken({ ...b, kind: 'app', sign: 'none' }) },
  { name: 'tampered payload (roles added)', code: 'GW_ERR_TOKEN_SIGNATURE', make: async (b) => tamper(await stack.emulator.issueToken({ ...b, kind: 'app' })) },
  { name: 'nonce signed untransformed', code: 'GW_ERR_TOKEN_SIGNATURE', make: (b) => stack.emulator.issueToken({ ...b, kind: 'app', sign: 'no-nonce-transform' }) },
  { name: 'not a JWT', code: 'GW_ERR_TOKEN_MALFORMED', make: async () => 'definitely-not-a-jwt' },
];

describe('bad tokens never reach Graph', () => {
  for (const c of cases) {
    it(`refuses: ${c.name}`, async () => {
      const tenant = stack.emulator.tenants[0]!;
      const token = await c.make({ tenantId: tenant.id, appId: tenant.agents['provisioning-bot']!.appId });
      stack.emulator.clearGraphRequests();
      const res = await request(`${stack.proxyUrl}/v1.0/users`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
      const body = (await res.body.json()) as { error: { code: string; innerError: Record<string, string> } };
      expect(res.statusCode).toBe(401);
      expect(body.error.code).toBe('InvalidAuthenticationToken');
      expect(body.error.innerError['graphwarden-code']).toBe(c.code);
      expect(stack.emulator.graphRequests()).toHaveLength(0);
    });
  }

  it('refuses two Authorization headers (verify one, forward another)', async () => {
    const tenant = stack.emulator.tenants[0]!;
    const good = await stack.emulator.issueToken({ tenantId: tenant.id, appId: tenant.agents['mail-summarizer']!.appId, kind: 'app' });
    const evil = await stack.emulator.issueToken({ tenantId: tenant.id, appId: tenant.agents['overprivileged-agent']!.appId, kind: 'app' });
    stack.emulator.clearGraphRequests();
    const res = await request(`${stack.proxyUrl}/v1.0/users`, { headers: ['authorization', `Bearer ${good}`, 'authorization', `Bearer ${evil}`] });
    expect(res.statusCode).toBe(401);
    await res.body.text();
    expect(stack.emulator.graphRequests()).toHaveLength(0);
  });

  it('a valid token with the same call does reach Graph (the cases above are not vacuous)', async () => {
    const tenant = stack.emulator.tenants[0]!;
    const token = await stack.emulator.issueToken({ tenantId: tenant.id, appId: tenant.agents['provisioning-bot']!.appId, kind: 'app' });
    stack.emulator.clearGraphRequests();
    const res = await request(`${stack.proxyUrl}/v1.0/users`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.statusCode).toBe(200);
    await res.body.text();
    expect(stack.emulator.graphRequests()).toHaveLength(1);
  });
});
