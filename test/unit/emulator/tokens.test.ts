// Token shape and the Graph nonce signing rule (graph-facts §3.2).
import { describe, expect, it } from 'vitest';
import { compactVerify, createLocalJWKSet, decodeProtectedHeader, decodeJwt } from 'jose';
import { createHash } from 'node:crypto';
import { mintAccessToken } from '../../../src/emulator/entra.js';
import { jwk, verifyJwt } from '../../../src/emulator/tokens.js';
import { makeState } from './helpers.js';

function transformed(token: string): string {
  const [h, p, s] = token.split('.');
  const header = JSON.parse(Buffer.from(h!, 'base64url').toString('utf8')) as Record<string, unknown>;
  header.nonce = createHash('sha256').update(String(header.nonce), 'utf8').digest('base64url');
  return `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${p}.${s}`;
}

describe('emulated Graph access tokens', () => {
  const { state, ts } = makeState();
  const jwks = () => createLocalJWKSet({ keys: ts.keys.published(state.now()).map((k) => jwk(k)) as never });

  it('has the v1 Graph header and claims, with roles derived from app role assignments', () => {
    const agent = ts.tenant.agents['provisioning-bot']!;
    const token = mintAccessToken(state, ts, { tenantId: ts.tenant.id, appId: agent.appId, kind: 'app' });
    const header = decodeProtectedHeader(token);
    expect(Object.keys(header)).toEqual(['typ', 'nonce', 'alg', 'x5t', 'kid']);
    expect(header).toMatchObject({ typ: 'JWT', alg: 'RS256', kid: ts.keys.current.kid, x5t: ts.keys.current.x5t });
    const c = decodeJwt(token);
    const nowSec = Math.floor(state.now() / 1000);
    expect(c).toMatchObject({
      aud: '00000003-0000-0000-c000-000000000000', iss: `https://sts.windows.net/${ts.tenant.id}/`, iat: nowSec, nbf: nowSec, exp: nowSec + 3600,
      app_displayname: 'Provisioning Bot', appid: agent.appId, appidacr: '1', idp: `https://sts.windows.net/${ts.tenant.id}/`, idtyp: 'app',
      oid: agent.servicePrincipalId, sub: agent.servicePrincipalId, roles: ['GroupMember.ReadWrite.All', 'User.ReadWrite.All'], tid: ts.tenant.id, ver: '1.0', tenant_region_scope: 'EU',
    });
    for (const k of ['aio', 'rh', 'uti', 'xms_ftd', 'xms_idrel', 'xms_tcdt']) expect(c[k]).toBeDefined();
    expect(c.scp).toBeUndefined();
  });

  it('delegated tokens carry scp from oauth2PermissionGrants, wids and user claims', () => {
    const app = ts.tenant.agents['copilot-assistant']!;
    const carol = ts.tenant.users.carol!;
    const c = decodeJwt(mintAccessToken(state, ts, { tenantId: ts.tenant.id, appId: app.appId, kind: 'delegated', userId: carol.id }));
    expect(String(c.scp).split(' ').sort()).toEqual(['Group.ReadWrite.All', 'Mail.Read', 'User.Read']);
    expect(c).toMatchObject({ idtyp: 'user', oid: carol.id, upn: carol.userPrincipalName, unique_name: carol.userPrincipalName, name: 'Carol Copilot', given_name: 'Carol', family_name: 'Copilot', appidacr: '0' });
    expect(c.roles).toBeUndefined();
    const helpdesk = decodeJwt(mintAccessToken(state, ts, { tenantId: ts.tenant.id, appId: app.appId, kind: 'delegated', userId: ts.tenant.users.helpdesk!.id }));
    // Helpdesk Administrator comes through the role-assignable group.
    expect(helpdesk.wids).toEqual(['729827e3-9c14-49f7-bb1b-9608f156bbb8']);
  });

  it('signs over the transformed nonce: plain JWS verification fails, the transformed copy verifies', async () => {
    const agent = ts.tenant.agents['mail-summarizer']!;
    const token = mintAccessToken(state, ts, { tenantId: ts.tenant.id, appId: agent.appId, kind: 'app' });
    await expect(compactVerify(token, jwks())).rejects.toThrow(/signature verification failed/);
    const { payload } = await compactVerify(transformed(token), jwks());
    expect(JSON.parse(Buffer.from(payload).toString('utf8')).appid).toBe(agent.appId);
    expect(verifyJwt(token, (kid) => ts.keys.find(kid, state.now())).ok).toBe(true);
  });

  it("'no-nonce-transform' tokens verify plainly and so fail Graph's rule; unknown-key and alg none fail", async () => {
    const appId = ts.tenant.agents['mail-summarizer']!.appId;
    const find = (kid: string) => ts.keys.find(kid, state.now());
    const plain = mintAccessToken(state, ts, { tenantId: ts.tenant.id, appId, kind: 'app', sign: 'no-nonce-transform' });
    await expect(compactVerify(plain, jwks())).resolves.toBeDefined();
    expect(verifyJwt(plain, find)).toEqual({ ok: false, reason: 'signature' });
    expect(verifyJwt(mintAccessToken(state, ts, { tenantId: ts.tenant.id, appId, kind: 'app', sign: 'unknown-key' }), find)).toEqual({ ok: false, reason: 'unknown-key' });
    const none = mintAccessToken(state, ts, { tenantId: ts.tenant.id, appId, kind: 'app', sign: 'none' });
    expect(decodeProtectedHeader(none).alg).toBe('none');
    expect(none.endsWith('.')).toBe(true);
    expect(verifyJwt(none, find)).toEqual({ ok: false, reason: 'alg' });
  });

  it('applies claim and header overrides (remove with undefined) and relative nbf/lifetime', () => {
    const appId = ts.tenant.agents['mail-summarizer']!.appId;
    const t = mintAccessToken(state, ts, { tenantId: ts.tenant.id, appId, kind: 'app', notBeforeSec: 600, lifetimeSec: 60, claims: { aud: 'https://example.org', xms_ftd: undefined }, header: { x5t: undefined } });
    const c = decodeJwt(t);
    const nowSec = Math.floor(state.now() / 1000);
    expect(c.nbf).toBe(nowSec + 600);
    expect(c.exp).toBe(nowSec + 660);
    expect(c.aud).toBe('https://example.org');
    expect('xms_ftd' in c).toBe(false);
    expect('x5t' in decodeProtectedHeader(t)).toBe(false);
  });

  it('rotation keeps the old key published for the grace period, then drops it', () => {
    const { state: s2, ts: t2 } = makeState();
    const appId = t2.tenant.agents['mail-summarizer']!.appId;
    const old = mintAccessToken(s2, t2, { tenantId: t2.tenant.id, appId, kind: 'app' });
    const oldKid = t2.keys.current.kid;
    t2.keys.rotate(s2.now(), 60_000);
    expect(t2.keys.current.kid).not.toBe(oldKid);
    expect(t2.keys.published(s2.now()).map((k) => k.kid)).toContain(oldKid);
    expect(verifyJwt(old, (kid) => t2.keys.find(kid, s2.now())).ok).toBe(true);
    expect(t2.keys.published(s2.now() + 60_001).map((k) => k.kid)).not.toContain(oldKid);
    t2.keys.rotate(s2.now(), 0);
    expect(t2.keys.published(s2.now())).toHaveLength(1);
  });
});
