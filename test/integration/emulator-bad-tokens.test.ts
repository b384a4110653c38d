// The emulator's Graph side rejects every bad token kind with 401 InvalidAuthenticationToken,
// and its request log shows none of them was authorized.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator, type EmulatorTenant, type IssueTokenRequest } from '../../src/emulator/index.js';
import { testPki } from '../support/pki.js';

let emu: Emulator;
let tenant: EmulatorTenant;
let other: EmulatorTenant;

beforeAll(async () => {
  emu = await startEmulator({ tls: testPki().server, size: 200, tenants: 2 });
  [tenant, other] = emu.tenants as [EmulatorTenant, EmulatorTenant];
});
afterAll(async () => {
  await emu.close();
});

async function call(token: string): Promise<{ status: number; code: string }> {
  const r = await fetch(`${emu.url}/v1.0/users?$top=1`, { headers: { authorization: `Bearer ${token}` } });
  const body = (await r.json()) as { error?: { code: string } };
  return { status: r.status, code: body.error?.code ?? '' };
}

describe('Graph-side token checks', () => {
  const base = (): IssueTokenRequest => ({ tenantId: tenant.id, appId: tenant.agents['graphwarden-connector']!.appId, kind: 'app' });

  it('accepts a good token, v1 or v2 shaped', async () => {
    expect((await call(await emu.issueToken(base()))).status).toBe(200);
    expect((await call(await emu.issueToken({ ...base(), version: '2.0' }))).status).toBe(200);
  });

  const cases: Array<[string, Partial<IssueTokenRequest>]> = [
    ['expired', { notBeforeSec: -7200, lifetimeSec: 3600 }],
    ['not yet valid', { notBeforeSec: 3600 }],
    ['wrong audience', { claims: { aud: 'https://management.azure.com' } }],
    ['unknown key', { sign: 'unknown-key' }],
    ['alg none', { sign: 'none' }],
    ['untransformed nonce', { sign: 'no-nonce-transform' }],
  ];
  for (const [name, patch] of cases) {
    it(`rejects a token that is ${name}`, async () => {
      emu.clearGraphRequests();
      expect(await call(await emu.issueToken({ ...base(), ...patch }))).toEqual({ status: 401, code: 'InvalidAuthenticationToken' });
      expect(emu.graphRequests()).toEqual([{ method: 'GET', path: '/v1.0/users', authorized: false, status: 401 }]);
    });
  }

  it('rejects a tampered payload and a token claiming another tenant than its signer', async () => {
    const good = await emu.issueToken(base());
    const [h, p, s] = good.split('.');
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString('utf8')) as Record<string, unknown>;
    claims.roles = ['Directory.ReadWrite.All'];
    expect((await call(`${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`)).status).toBe(401);
    const foreign = await emu.issueToken({ ...base(), claims: { tid: other.id, iss: `https://sts.windows.net/${other.id}/` } });
    expect((await call(foreign)).status).toBe(401);
  });

  it('keeps verifying tokens signed by a rotated-out key during the grace period, not after it is dropped', async () => {
    const t = await emu.issueToken(base());
    emu.rotateKeys(tenant.id);
    expect((await call(t)).status).toBe(200);
    const keys = (await (await fetch(`${emu.url}/${tenant.id}/discovery/v2.0/keys`)).json()) as { keys: unknown[] };
    expect(keys.keys).toHaveLength(2);
    emu.rotateKeys(tenant.id, { graceSec: 0 });
    const fresh = await emu.issueToken(base());
    expect((await call(fresh)).status).toBe(200);
    emu.rotateKeys(tenant.id, { graceSec: 0 });
    // The verified-token cache must not outlive the key that signed the token.
    expect((await call(fresh)).status).toBe(401);
    expect((await call(await emu.issueToken(base()))).status).toBe(200);
  });
});
