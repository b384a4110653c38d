import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest';
import { createHash, createPrivateKey, randomUUID, sign as cryptoSign } from 'node:crypto';
import { exportJWK } from 'jose';
import { testPki } from '../../support/pki.js';
import { certDerBase64 } from '../../../src/certs/index.js';
import { createTokenVerifier, type TokenVerifier, type TokenEvents } from '../../../src/token/index.js';
import type { ErrorCode } from '../../../src/errors.js';
import {
  addTenant,
  makeKey,
  mint,
  startAuthority,
  testClock,
  v1AppClaims,
  v1UserClaims,
  v2AppClaims,
  type FakeAuthority,
  type SigningKey,
} from './support/authority.js';
import { verifierOptions } from './support/options.js';

const TID = randomUUID();
const TID2 = randomUUID();

let auth: FakeAuthority;
let k1: SigningKey;
let k2: SigningKey;
let k3: SigningKey;
const open: TokenVerifier[] = [];

function track(v: TokenVerifier): TokenVerifier {
  open.push(v);
  return v;
}

beforeAll(async () => {
  [k1, k2, k3] = await Promise.all([makeKey('kid-1'), makeKey('kid-2'), makeKey('kid-3')]);
  auth = await startAuthority();
});
afterAll(() => auth.close());
afterEach(() => {
  for (const v of open.splice(0)) v.close();
  auth.failWith = undefined;
  auth.hits.length = 0;
  auth.tenants.clear();
});

const bearer = (t: string) => `Bearer ${t}`;

function recorder() {
  const log = { hits: 0, misses: 0, fetches: [] as Array<[string, string, string]>, rejected: [] as ErrorCode[] };
  const events: TokenEvents = {
    cacheHit: () => log.hits++,
    cacheMiss: () => log.misses++,
    jwksFetch: (t, o, r) => log.fetches.push([t, o, r]),
    rejected: (c) => log.rejected.push(c),
  };
  return { log, events };
}

describe('createTokenVerifier: valid tokens', () => {
  it('verifies a v1 app-only Graph token with a header nonce and returns an app principal', async () => {
    addTenant(auth, TID, [k1]);
    const clock = testClock();
    const v = track(createTokenVerifier(verifierOptions(auth, [TID], { now: clock.now })));
    const nowSec = clock.now() / 1000;
    const token = await mint({ key: k1, claims: v1AppClaims(TID, nowSec), header: { nonce: 'raw-nonce-abc123', x5t: 'thumb' } });
    const out = await v.verify(bearer(token));
    expect(out.ok).toBe(true);
    if (!out.ok) return;
    expect(out.cached).toBe(false);
    expect(out.principal.kind).toBe('app');
    expect(out.principal.tenantId).toBe(TID);
    expect(out.principal.servicePrincipalId).toBe('66666666-7777-8888-9999-000000000000');
    expect(out.principal.userId).toBeUndefined();
    expect(out.principal.roles).toEqual(['User.Read.All', 'Group.Read.All']);
    expect(out.principal.tokenVersion).toBe('1.0');
    expect(out.principal.clientAuth).toBe('certificate');
    expect(out.tokenDigest).toBe(createHash('sha256').update(token).digest('hex'));
    expect(out.tokenDigest).not.toContain(token.slice(0, 20));
    expect(out.claimsDigest).toBe(createHash('sha256').update(Buffer.from(token.split('.')[1]!, 'base64url')).digest('hex'));
  });

  it('verifies a token laid out exactly like an Entra Graph token, signed by hand per the documented recipe', async () => {
    addTenant(auth, TID, [k1]);
    const clock = testClock();
    const v = track(createTokenVerifier(verifierOptions(auth, [TID], { now: clock.now })));
    // Entra's header order: typ, nonce, alg, x5t, kid (graph-facts §3.2 recipe, independent of jose's serialiser).
    const nonce = 'AQABAAAAAABnfiG-mA6NTae7CdWW7QfdSnUK';
    const headerFor = (n: string) => `{"typ":"JWT","nonce":"${n}","alg":"RS256","x5t":"z039zdsFuizpBfBVK1Tn25QHYO0","kid":"${k1.kid}"}`;
    const payloadB64 = Buffer.from(JSON.stringify(v1UserClaims(TID, clock.now() / 1000))).toString('base64url');
    const hashed = createHash('sha256').update(nonce, 'utf8').digest('base64url');
    const signingInput = `${Buffer.from(headerFor(hashed)).toString('base64url')}.${payloadB64}`;
    const priv = createPrivateKey({ key: (await exportJWK(k1.privateKey)) as never, format: 'jwk' });
    const sig = cryptoSign('sha256', Buffer.from(signingInput), priv).toString('base64url');
    const token = `${Buffer.from(headerFor(nonce)).toString('base64url')}.${payloadB64}.${sig}`;
    expect(await v.verify(bearer(token))).toMatchObject({ ok: true, principal: { kind: 'delegated' } });
    // And the same bytes signed over the raw nonce are refused.
    const rawSig = cryptoSign('sha256', Buffer.from(`${Buffer.from(headerFor(nonce)).toString('base64url')}.${payloadB64}`), priv).toString('base64url');
    expect(await v.verify(bearer(`${Buffer.from(headerFor(nonce)).toString('base64url')}.${payloadB64}.${rawSig}`))).toMatchObject({
      ok: false,
      code: 'GW_ERR_TOKEN_SIGNATURE',
    });
  });

  it('accepts keys published only as an x5c certificate chain (no n/e)', async () => {
    const pki = testPki();
    const kid = 'cert-only';
    auth.tenants.set(TID, { keys: [{ kid, privateKey: k1.privateKey, publicJwk: { kty: 'RSA', use: 'sig', kid, x5c: [certDerBase64(pki.server.certPem)] } }], serveV1: true, serveV2: true });
    const clock = testClock();
    const v = track(createTokenVerifier(verifierOptions(auth, [TID], { now: clock.now })));
    const input = `${Buffer.from(JSON.stringify({ typ: 'JWT', alg: 'RS256', kid })).toString('base64url')}.${Buffer.from(JSON.stringify(v1AppClaims(TID, clock.now() / 1000))).toString('base64url')}`;
    const sig = cryptoSign('sha256', Buffer.from(input), createPrivateKey(pki.server.keyPem)).toString('base64url');
    expect((await v.verify(bearer(`${input}.${sig}`))).ok).toBe(true);
  });

  it('verifies a v1 delegated token and returns a delegated principal with scopes', async () => {
    addTenant(auth, TID, [k1]);
    const clock = testClock();
    const v = track(createTokenVerifier(verifierOptions(auth, [TID], { now: clock.now })));
    const token = await mint({ key: k1, claims: v1UserClaims(TID, clock.now() / 1000), header: { nonce: 'n-2' } });
    const out = await v.verify(bearer(token));
    expect(out.ok && out.principal).toMatchObject({
      kind: 'delegated',
      userId: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee',
      scopes: ['User.Read', 'Mail.Read', 'openid', 'profile'],
      userPrincipalName: 'adele@contoso.example',
      clientAuth: 'public',
    });
  });

  it('verifies a v2 token (azp, v2 metadata issuer) without a nonce', async () => {
    addTenant(auth, TID, [k1]);
    const clock = testClock();
    const v = track(createTokenVerifier(verifierOptions(auth, [TID], { now: clock.now })));
    const token = await mint({ key: k1, claims: v2AppClaims(auth.base, TID, clock.now() / 1000) });
    const out = await v.verify(bearer(token));
    expect(out.ok && out.principal).toMatchObject({ kind: 'app', tokenVersion: '2.0', appId: '11111111-2222-3333-4444-555555555555' });
  });

  it('accepts a token without `ver` by matching its issuer, and attributes the version', async () => {
    addTenant(auth, TID, [k1]);
    const clock = testClock();
    const v = track(createTokenVerifier(verifierOptions(auth, [TID], { now: clock.now })));
    const { ver: _ver, ...claims } = v1AppClaims(TID, clock.now() / 1000);
    const out = await v.verify(bearer(await mint({ key: k1, claims })));
    expect(out.ok && out.principal.tokenVersion).toBe('1.0');
  });

  it('accepts any configured audience form and the scheme in any case', async () => {
    addTenant(auth, TID, [k1]);
    const clock = testClock();
    const v = track(createTokenVerifier(verifierOptions(auth, [TID], { now: clock.now })));
    const nowSec = clock.now() / 1000;
    for (const aud of ['https://graph.microsoft.com', 'https://graph.microsoft.com/']) {
      const token = await mint({ key: k1, claims: v1AppClaims(TID, nowSec, { aud }) });
      expect((await v.verify(`bEaReR ${token}`)).ok).toBe(true);
    }
  });

  it('returns a frozen principal so no later stage can alter who the caller is', async () => {
    addTenant(auth, TID, [k1]);
    const clock = testClock();
    const v = track(createTokenVerifier(verifierOptions(auth, [TID], { now: clock.now })));
    const out = await v.verify(bearer(await mint({ key: k1, claims: v1AppClaims(TID, clock.now() / 1000) })));
    if (!out.ok) throw new Error(out.code);
    expect(Object.isFrozen(out.principal)).toBe(true);
    expect(Object.isFrozen(out.principal.roles)).toBe(true);
  });

  it('uses metadata URL templates when configured', async () => {
    addTenant(auth, TID, [k1]);
    const clock = testClock();
    const v = track(
      createTokenVerifier(
        verifierOptions(auth, [TID], {
          authorityHost: 'https://login.microsoftonline.com',
          metadataUrlTemplate: {
            v1: `${auth.base}/{tenant}/.well-known/openid-configuration`,
            v2: `${auth.base}/{tenant}/v2.0/.well-known/openid-configuration`,
          },
          now: clock.now,
        }),
      ),
    );
    await v.preload();
    expect(auth.hits).toContain(`/${TID}/v2.0/.well-known/openid-configuration`);
    const out = await v.verify(bearer(await mint({ key: k1, claims: v1AppClaims(TID, clock.now() / 1000) })));
    expect(out.ok).toBe(true);
  });

  it('works when the authority serves only v2 metadata: v1 tokens use the documented v1 issuer', async () => {
    addTenant(auth, TID, [k1], { serveV1: false });
    const clock = testClock();
    const v = track(createTokenVerifier(verifierOptions(auth, [TID], { now: clock.now })));
    await v.preload();
    expect((await v.verify(bearer(await mint({ key: k1, claims: v1AppClaims(TID, clock.now() / 1000) })))).ok).toBe(true);
  });
});

describe('createTokenVerifier: rejections', () => {
  async function setup() {
    addTenant(auth, TID, [k1]);
    const clock = testClock();
    const rec = recorder();
    const v = track(createTokenVerifier(verifierOptions(auth, [TID], { now: clock.now, events: rec.events })));
    return { v, clock, rec, nowSec: clock.now() / 1000 };
  }

  it.each([
    ['missing header', 'GW_ERR_TOKEN_MISSING', undefined],
    ['empty header', 'GW_ERR_TOKEN_MISSING', ''],
    ['Basic scheme', 'GW_ERR_TOKEN_MISSING', 'Basic dXNlcjpwYXNz'],
    ['Bearer without token', 'GW_ERR_TOKEN_MISSING', 'Bearer '],
    ['two tokens', 'GW_ERR_TOKEN_MALFORMED', 'Bearer a.b.c, Bearer d.e.f'],
    ['two parts', 'GW_ERR_TOKEN_MALFORMED', 'Bearer abc.def'],
    ['bad base64', 'GW_ERR_TOKEN_MALFORMED', 'Bearer ab!c.def.ghi'],
    ['not JSON', 'GW_ERR_TOKEN_MALFORMED', `Bearer ${Buffer.from('nope').toString('base64url')}.${Buffer.from('{}').toString('base64url')}.sig`],
  ] as const)('%s → %s', async (_name, code, header) => {
    const { v, rec } = await setup();
    const out = await v.verify(header);
    expect(out).toMatchObject({ ok: false, code });
    expect(rec.log.rejected).toEqual([code]);
    expect(auth.hits).toEqual([]);
  });

  it('expired beyond skew → EXPIRED; within skew → accepted', async () => {
    const { v, nowSec } = await setup();
    const stale = await mint({ key: k1, claims: v1AppClaims(TID, nowSec, { exp: nowSec - 61 }) });
    expect(await v.verify(bearer(stale))).toMatchObject({ ok: false, code: 'GW_ERR_TOKEN_EXPIRED' });
    const justStale = await mint({ key: k1, claims: v1AppClaims(TID, nowSec, { exp: nowSec - 30 }) });
    expect((await v.verify(bearer(justStale))).ok).toBe(true);
  });

  it('nbf in the future beyond skew → NOT_YET_VALID', async () => {
    const { v, nowSec } = await setup();
    const early = await mint({ key: k1, claims: v1AppClaims(TID, nowSec, { nbf: nowSec + 300 }) });
    expect(await v.verify(bearer(early))).toMatchObject({ ok: false, code: 'GW_ERR_TOKEN_NOT_YET_VALID' });
  });

  it('wrong audience → AUDIENCE', async () => {
    const { v, nowSec } = await setup();
    const t = await mint({ key: k1, claims: v1AppClaims(TID, nowSec, { aud: 'https://management.azure.com' }) });
    expect(await v.verify(bearer(t))).toMatchObject({ ok: false, code: 'GW_ERR_TOKEN_AUDIENCE' });
  });

  it('v2 token claiming the v1 issuer → ISSUER', async () => {
    const { v, nowSec } = await setup();
    const t = await mint({ key: k1, claims: v2AppClaims(auth.base, TID, nowSec, { iss: `https://sts.windows.net/${TID}/` }) });
    expect(await v.verify(bearer(t))).toMatchObject({ ok: false, code: 'GW_ERR_TOKEN_ISSUER' });
  });

  it('missing identity claims → CLAIMS, naming the reason but no values', async () => {
    const { v, nowSec } = await setup();
    const { oid: _oid, ...noOid } = v1AppClaims(TID, nowSec);
    const out = await v.verify(bearer(await mint({ key: k1, claims: noOid })));
    expect(out).toMatchObject({ ok: false, code: 'GW_ERR_TOKEN_CLAIMS' });
    if (!out.ok) expect(out.message).toContain('oid');
  });

  it('tenant keys unreachable and none cached → KEYS_UNAVAILABLE (fail closed)', async () => {
    const { v, nowSec, rec } = await setup();
    auth.failWith = 503;
    const t = await mint({ key: k1, claims: v1AppClaims(TID, nowSec) });
    expect(await v.verify(bearer(t))).toMatchObject({ ok: false, code: 'GW_ERR_KEYS_UNAVAILABLE' });
    expect(rec.log.fetches).toEqual([[TID, 'error', 'startup']]);
    expect(v.ready()).toBe(false);
  });

  it('a key fetch that hangs fails after fetchTimeoutMs (fail closed, not stuck)', async () => {
    addTenant(auth, TID, [k1]);
    const gate = auth.holdJwks();
    const v = track(createTokenVerifier(verifierOptions(auth, [TID], { fetchTimeoutMs: 200 })));
    try {
      await expect(v.preload()).rejects.toThrow(TID);
      expect(v.ready()).toBe(false);
    } finally {
      gate.release();
    }
  });

  it('refuses metadata that names a non-https jwks_uri', async () => {
    addTenant(auth, TID, [k1], { jwksUri: 'http://127.0.0.1:9/keys' });
    const v = track(createTokenVerifier(verifierOptions(auth, [TID])));
    await expect(v.preload()).rejects.toThrow(/non-https jwks_uri/);
  });

  it('retries a tenant whose keys never loaded only after missingKeysRetryMs', async () => {
    addTenant(auth, TID, [k1]);
    const clock = testClock();
    const v = track(createTokenVerifier(verifierOptions(auth, [TID], { now: clock.now, missingKeysRetryMs: 1000 })));
    const t = await mint({ key: k1, claims: v1AppClaims(TID, clock.now() / 1000) });
    auth.failWith = 503;
    expect(await v.verify(bearer(t))).toMatchObject({ code: 'GW_ERR_KEYS_UNAVAILABLE' });
    auth.failWith = undefined;
    expect(await v.verify(bearer(t))).toMatchObject({ code: 'GW_ERR_KEYS_UNAVAILABLE' });
    expect(auth.jwksHits(TID)).toBe(0);
    clock.advance(1000);
    expect((await v.verify(bearer(t))).ok).toBe(true);
  });
});

describe('createTokenVerifier: keys, rotation and refresh', () => {
  it('preload loads every allowed tenant; ready and keysAgeMs follow', async () => {
    addTenant(auth, TID, [k1]);
    addTenant(auth, TID2, [k2]);
    const clock = testClock();
    const rec = recorder();
    const v = track(createTokenVerifier(verifierOptions(auth, [TID, TID2], { now: clock.now, events: rec.events })));
    expect(v.ready()).toBe(false);
    expect(v.keysAgeMs(TID)).toBeUndefined();
    await v.preload();
    expect(v.ready()).toBe(true);
    clock.advance(1234);
    expect(v.keysAgeMs(TID)).toBe(1234);
    expect(v.keysAgeMs(TID.toUpperCase())).toBe(1234);
    expect(rec.log.fetches.sort()).toEqual([[TID, 'ok', 'startup'], [TID2, 'ok', 'startup']].sort());
  });

  it('preload rejects naming every tenant that failed', async () => {
    addTenant(auth, TID, [k1]);
    // TID2 is not served: 404 for its metadata.
    const v = track(createTokenVerifier(verifierOptions(auth, [TID, TID2])));
    await expect(v.preload()).rejects.toThrow(new RegExp(`1 tenant\\(s\\)[\\s\\S]*${TID2}[\\s\\S]*404`));
    expect(v.ready()).toBe(false);
    expect(v.keysAgeMs(TID)).toBeTypeOf('number');
  });

  it('picks up a rotated-in key after refetching on an unknown kid', async () => {
    addTenant(auth, TID, [k1]);
    const clock = testClock();
    const rec = recorder();
    const v = track(createTokenVerifier(verifierOptions(auth, [TID], { now: clock.now, events: rec.events, unknownKidMinIntervalMs: 1000 })));
    await v.preload();
    addTenant(auth, TID, [k1, k2]); // Entra publishes a new key
    clock.advance(1000);
    const t = await mint({ key: k2, claims: v1AppClaims(TID, clock.now() / 1000) });
    expect((await v.verify(bearer(t))).ok).toBe(true);
    expect(rec.log.fetches).toEqual([
      [TID, 'ok', 'startup'],
      [TID, 'ok', 'unknown-kid'],
    ]);
  });

  it('rate-limits unknown-kid refetches per tenant', async () => {
    addTenant(auth, TID, [k1]);
    const clock = testClock();
    const v = track(createTokenVerifier(verifierOptions(auth, [TID], { now: clock.now, unknownKidMinIntervalMs: 60_000 })));
    await v.preload();
    const before = auth.jwksHits(TID);
    clock.advance(60_000);
    const forged = await mint({ key: k3, claims: v1AppClaims(TID, clock.now() / 1000) });
    for (let i = 0; i < 5; i++) expect(await v.verify(bearer(forged))).toMatchObject({ ok: false, code: 'GW_ERR_TOKEN_UNKNOWN_KEY' });
    expect(auth.jwksHits(TID) - before).toBe(2); // one refetch (v1 + v2 key documents), then refused without fetching
    // Within the window even a legitimately rotated-in key waits for the next allowed refetch.
    addTenant(auth, TID, [k1, k3]);
    expect(await v.verify(bearer(forged))).toMatchObject({ code: 'GW_ERR_TOKEN_UNKNOWN_KEY' });
    clock.advance(60_000);
    expect((await v.verify(bearer(forged))).ok).toBe(true);
  });

  it('concurrent callers with an unknown kid share one in-flight refetch', async () => {
    addTenant(auth, TID, [k1]);
    const clock = testClock();
    const v = track(createTokenVerifier(verifierOptions(auth, [TID], { now: clock.now, unknownKidMinIntervalMs: 0 })));
    await v.preload();
    addTenant(auth, TID, [k1, k2]);
    const before = auth.jwksHits(TID);
    const gate = auth.holdJwks();
    const t = await mint({ key: k2, claims: v1AppClaims(TID, clock.now() / 1000) });
    const pending = Array.from({ length: 10 }, () => v.verify(bearer(t)));
    await gate.held;
    gate.release();
    const outs = await Promise.all(pending);
    expect(outs.every((o) => o.ok)).toBe(true);
    expect(auth.jwksHits(TID) - before).toBe(2);
  });

  it('keeps serving the last good keys when a refresh fails', async () => {
    addTenant(auth, TID, [k1]);
    const clock = testClock();
    const rec = recorder();
    const v = track(createTokenVerifier(verifierOptions(auth, [TID], { now: clock.now, events: rec.events, unknownKidMinIntervalMs: 0 })));
    await v.preload();
    auth.failWith = 500;
    const unknown = await mint({ key: k2, claims: v1AppClaims(TID, clock.now() / 1000) });
    expect(await v.verify(bearer(unknown))).toMatchObject({ code: 'GW_ERR_TOKEN_UNKNOWN_KEY' });
    expect(rec.log.fetches.at(-1)).toEqual([TID, 'error', 'unknown-kid']);
    expect(v.ready()).toBe(true);
    const good = await mint({ key: k1, claims: v1AppClaims(TID, clock.now() / 1000) });
    expect((await v.verify(bearer(good))).ok).toBe(true);
  });

  it('refreshes keys on the interval timer', async () => {
    addTenant(auth, TID, [k1]);
    let onInterval!: () => void;
    const intervalFetched = new Promise<void>((r) => (onInterval = r));
    const v = track(
      createTokenVerifier(
        verifierOptions(auth, [TID], {
          jwksRefreshIntervalMs: 5,
          events: { jwksFetch: (_t, o, r) => r === 'interval' && o === 'ok' && onInterval() },
        }),
      ),
    );
    await intervalFetched;
    expect(v.ready()).toBe(true);
  });

  it('forgets cached tokens when their signing key is retired', async () => {
    addTenant(auth, TID, [k1, k2]);
    const clock = testClock();
    const v = track(createTokenVerifier(verifierOptions(auth, [TID], { now: clock.now, unknownKidMinIntervalMs: 0 })));
    await v.preload();
    const t = await mint({ key: k1, claims: v1AppClaims(TID, clock.now() / 1000) });
    expect(await v.verify(bearer(t))).toMatchObject({ ok: true, cached: false });
    expect(await v.verify(bearer(t))).toMatchObject({ ok: true, cached: true });
    addTenant(auth, TID, [k2]); // k1 retired
    const other = await mint({ key: k3, claims: v1AppClaims(TID, clock.now() / 1000) });
    await v.verify(bearer(other)); // unknown kid → refetch → k1 gone
    expect(await v.verify(bearer(t))).toMatchObject({ ok: false, code: 'GW_ERR_TOKEN_UNKNOWN_KEY' });
  });
});

describe('createTokenVerifier: verified-token cache', () => {
  it('hits on the second verify of the same token, with events', async () => {
    addTenant(auth, TID, [k1]);
    const clock = testClock();
    const rec = recorder();
    const v = track(createTokenVerifier(verifierOptions(auth, [TID], { now: clock.now, events: rec.events })));
    const t = await mint({ key: k1, claims: v1AppClaims(TID, clock.now() / 1000) });
    const first = await v.verify(bearer(t));
    const second = await v.verify(bearer(t));
    expect(first).toMatchObject({ ok: true, cached: false });
    expect(second).toMatchObject({ ok: true, cached: true });
    if (first.ok && second.ok) {
      expect(second.principal).toEqual(first.principal);
      expect(second.tokenDigest).toBe(first.tokenDigest);
      expect(second.claimsDigest).toBe(first.claimsDigest);
    }
    expect(rec.log).toMatchObject({ hits: 1, misses: 1 });
  });

  it('never serves an entry at or past exp (injected clock), even inside the skew', async () => {
    addTenant(auth, TID, [k1]);
    const clock = testClock();
    const v = track(createTokenVerifier(verifierOptions(auth, [TID], { now: clock.now })));
    const nowSec = clock.now() / 1000;
    const t = await mint({ key: k1, claims: v1AppClaims(TID, nowSec, { exp: nowSec + 100 }) });
    expect(await v.verify(bearer(t))).toMatchObject({ ok: true, cached: false });
    clock.advance(99_000);
    expect(await v.verify(bearer(t))).toMatchObject({ ok: true, cached: true });
    clock.advance(1_000); // exactly exp: the fresh check still accepts (skew), the cache must not answer
    expect(await v.verify(bearer(t))).toMatchObject({ ok: true, cached: false });
    clock.advance(61_000);
    expect(await v.verify(bearer(t))).toMatchObject({ ok: false, code: 'GW_ERR_TOKEN_EXPIRED' });
  });

  it('is bounded by cacheMaxEntries (least recently used evicted)', async () => {
    addTenant(auth, TID, [k1]);
    const clock = testClock();
    const v = track(createTokenVerifier(verifierOptions(auth, [TID], { now: clock.now, cacheMaxEntries: 2 })));
    const nowSec = clock.now() / 1000;
    const tokens = await Promise.all([1, 2, 3].map((i) => mint({ key: k1, claims: v1AppClaims(TID, nowSec, { uti: `u${i}` }) })));
    for (const t of tokens) await v.verify(bearer(t));
    expect(await v.verify(bearer(tokens[2]!))).toMatchObject({ cached: true });
    expect(await v.verify(bearer(tokens[0]!))).toMatchObject({ cached: false });
  });

  it('does not cache failures', async () => {
    addTenant(auth, TID, [k1]);
    const clock = testClock();
    const rec = recorder();
    const v = track(createTokenVerifier(verifierOptions(auth, [TID], { now: clock.now, events: rec.events })));
    const t = await mint({ key: k1, claims: v1AppClaims(TID, clock.now() / 1000, { aud: 'api://other' }) });
    await v.verify(bearer(t));
    await v.verify(bearer(t));
    expect(rec.log).toMatchObject({ hits: 0, misses: 2, rejected: ['GW_ERR_TOKEN_AUDIENCE', 'GW_ERR_TOKEN_AUDIENCE'] });
  });

  it('remembers a connection’s last token digest without confusing it with another token on that connection', async () => {
    addTenant(auth, TID, [k1]);
    const clock = testClock();
    const rec = recorder();
    const v = track(createTokenVerifier(verifierOptions(auth, [TID], { now: clock.now, events: rec.events })));
    const nowSec = clock.now() / 1000;
    const [a, b] = await Promise.all(['ua', 'ub'].map((uti) => mint({ key: k1, claims: v1AppClaims(TID, nowSec, { uti }) })));
    const connection = {};
    const sha = (t: string) => createHash('sha256').update(t).digest('hex');
    const seen: Array<[string | undefined, string | undefined, boolean | undefined]> = [];
    for (const t of [a!, a!, b!, a!, b!]) {
      const out = await v.verify(bearer(t), connection);
      seen.push(out.ok ? [out.tokenDigest, out.principal.tokenId, out.cached] : [undefined, undefined, undefined]);
    }
    expect(seen).toEqual([
      [sha(a!), 'ua', false],
      [sha(a!), 'ua', true],
      [sha(b!), 'ub', false],
      [sha(a!), 'ua', true],
      [sha(b!), 'ub', true],
    ]);
    // A forged token of the same length, differing from the remembered one in one signature character
    // (not the last: its low bits are padding that decoders may ignore).
    const i = a!.length - 10;
    const forged = `${a!.slice(0, i)}${a![i] === 'A' ? 'B' : 'A'}${a!.slice(i + 1)}`;
    await v.verify(bearer(a!), connection);
    expect(await v.verify(bearer(forged), connection)).toMatchObject({ ok: false, code: 'GW_ERR_TOKEN_SIGNATURE' });
    expect(rec.log.rejected).toEqual(['GW_ERR_TOKEN_SIGNATURE']);
  });

  it('a token remembered on its connection is still refused once expired or its key retired', async () => {
    addTenant(auth, TID, [k1, k2]);
    const clock = testClock();
    const v = track(createTokenVerifier(verifierOptions(auth, [TID], { now: clock.now, unknownKidMinIntervalMs: 0 })));
    const nowSec = clock.now() / 1000;
    const connection = {};
    const shortLived = await mint({ key: k2, claims: v1AppClaims(TID, nowSec, { exp: nowSec + 100 }) });
    expect(await v.verify(bearer(shortLived), connection)).toMatchObject({ ok: true, cached: false });
    expect(await v.verify(bearer(shortLived), connection)).toMatchObject({ ok: true, cached: true });
    clock.advance(161_000); // past exp and the skew
    expect(await v.verify(bearer(shortLived), connection)).toMatchObject({ ok: false, code: 'GW_ERR_TOKEN_EXPIRED' });

    const t = await mint({ key: k1, claims: v1AppClaims(TID, clock.now() / 1000) });
    expect(await v.verify(bearer(t), connection)).toMatchObject({ ok: true, cached: false });
    expect(await v.verify(bearer(t), connection)).toMatchObject({ ok: true, cached: true });
    addTenant(auth, TID, [k2]); // k1 retired
    await v.verify(bearer(await mint({ key: k3, claims: v1AppClaims(TID, clock.now() / 1000) })), {}); // unknown kid → refetch
    expect(await v.verify(bearer(t), connection)).toMatchObject({ ok: false, code: 'GW_ERR_TOKEN_UNKNOWN_KEY' });
  });

  it('cacheMaxEntries 0 disables the cache', async () => {
    addTenant(auth, TID, [k1]);
    const clock = testClock();
    const v = track(createTokenVerifier(verifierOptions(auth, [TID], { now: clock.now, cacheMaxEntries: 0 })));
    const t = await mint({ key: k1, claims: v1AppClaims(TID, clock.now() / 1000) });
    await v.verify(bearer(t));
    expect(await v.verify(bearer(t))).toMatchObject({ ok: true, cached: false });
  });
});

describe('createTokenVerifier: event subscribers', () => {
  it('a throwing subscriber never changes the verdict', async () => {
    addTenant(auth, TID, [k1]);
    const clock = testClock();
    const boom = () => {
      throw new Error('metrics bug');
    };
    const v = track(
      createTokenVerifier(verifierOptions(auth, [TID], { now: clock.now, events: { cacheHit: boom, cacheMiss: boom, jwksFetch: boom, rejected: boom } })),
    );
    await v.preload();
    const t = await mint({ key: k1, claims: v1AppClaims(TID, clock.now() / 1000) });
    expect(await v.verify(bearer(t))).toMatchObject({ ok: true, cached: false });
    expect(await v.verify(bearer(t))).toMatchObject({ ok: true, cached: true });
    expect(await v.verify(undefined)).toMatchObject({ ok: false, code: 'GW_ERR_TOKEN_MISSING' });
  });
});

describe('createTokenVerifier: configuration', () => {
  it.each([
    [{ allowedTenants: [] }, /at least one/],
    [{ allowedTenants: ['contoso.onmicrosoft.com'] }, /not a GUID/],
    [{ authorityHost: 'http://login.microsoftonline.com' }, /https/],
    [{ audiences: [] }, /audiences/],
  ])('refuses %o', (over, msg) => {
    expect(() => createTokenVerifier({ ...verifierOptions(auth, [TID]), ...over })).toThrow(msg);
  });
});
