/**
 * Bad-token regressions: each describe names the bypass it prevents. Every forged token here is
 * refused with the expected code; where the attack is about making us fetch, the fake authority's
 * request log proves nothing was fetched.
 */
import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest';
import { constants, createHmac, createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID, sign as rsaSign } from 'node:crypto';
import { CompactSign, exportJWK } from 'jose';
import { authorizationFromRawHeaders, createTokenVerifier, type TokenVerifier } from '../../src/token/index.js';
import type { ErrorCode } from '../../src/errors.js';
import { hashNonce } from '../../src/token/compact.js';
import {
  addTenant,
  makeKey,
  mint,
  startAuthority,
  testClock,
  v1AppClaims,
  v1UserClaims,
  type FakeAuthority,
  type SigningKey,
} from '../unit/token/support/authority.js';
import { verifierOptions } from '../unit/token/support/options.js';

const TID = randomUUID();
const TID_B = randomUUID();
const NOT_ALLOWED = randomUUID();

let auth: FakeAuthority;
let kA: SigningKey;
let kB: SigningKey;
let attacker: SigningKey;
let verifier: TokenVerifier;
const clock = testClock();
const nowSec = () => clock.now() / 1000;
const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64url');

beforeAll(async () => {
  [kA, kB, attacker] = await Promise.all([makeKey(), makeKey(), makeKey()]);
  auth = await startAuthority();
  addTenant(auth, TID, [kA]);
  addTenant(auth, TID_B, [kB]);
  verifier = createTokenVerifier(verifierOptions(auth, [TID, TID_B], { now: clock.now, unknownKidMinIntervalMs: 60_000 }));
  await verifier.preload();
  auth.hits.length = 0;
});
afterAll(async () => {
  verifier.close();
  await auth.close();
});
afterEach(() => {
  auth.hits.length = 0;
});

async function expectRefused(token: string, code: ErrorCode): Promise<void> {
  const out = await verifier.verify(`Bearer ${token}`);
  expect(out).toMatchObject({ ok: false, code });
  // The client-facing message never echoes token material.
  if (!out.ok) for (const part of token.split('.').filter((p) => p.length >= 8)) expect(out.message).not.toContain(part.slice(0, 8));
}

/** Signs header.payload with node:crypto, for algorithms and headers jose refuses to produce. */
async function rawSigned(key: SigningKey, header: Record<string, unknown>, claims: Record<string, unknown>, how: 'sha256' | 'sha384' | 'sha512' | 'pss256'): Promise<string> {
  const input = unsigned(header, claims);
  const priv = createPrivateKey({ key: (await exportJWK(key.privateKey)) as never, format: 'jwk' });
  const sig =
    how === 'pss256'
      ? rsaSign('sha256', Buffer.from(input), { key: priv, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 })
      : rsaSign(how, Buffer.from(input), priv);
  return `${input}.${sig.toString('base64url')}`;
}

/** A well-formed header.payload with arbitrary signature bytes. */
function unsigned(header: Record<string, unknown>, claims: Record<string, unknown>): string {
  return `${b64(JSON.stringify(header))}.${b64(JSON.stringify(claims))}`;
}

describe('alg none (unsigned token accepted as signed)', () => {
  it.each(['none', 'None', 'NONE'])('alg %s with an empty signature is refused before any key fetch', async (alg) => {
    await expectRefused(`${unsigned({ alg, typ: 'JWT', kid: kA.kid }, v1AppClaims(TID, nowSec()))}.`, 'GW_ERR_TOKEN_SIGNATURE');
    expect(auth.hits).toEqual([]);
  });

  it('alg none with a copied RS256 signature is refused', async () => {
    const good = await mint({ key: kA, claims: v1AppClaims(TID, nowSec()) });
    const sig = good.split('.')[2]!;
    await expectRefused(`${unsigned({ alg: 'none', kid: kA.kid }, v1AppClaims(TID, nowSec()))}.${sig}`, 'GW_ERR_TOKEN_SIGNATURE');
  });

  it('a missing alg is refused', async () => {
    await expectRefused(`${unsigned({ kid: kA.kid }, v1AppClaims(TID, nowSec()))}.AAAA`, 'GW_ERR_TOKEN_SIGNATURE');
  });
});

describe('HS256 key confusion (public key used as an HMAC secret)', () => {
  const hmac = (alg: 'HS256' | 'RS256', secret: Buffer | string, claims: Record<string, unknown>) => {
    const input = unsigned({ alg, typ: 'JWT', kid: kA.kid }, claims);
    return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
  };

  it('HS256 signed with the tenant public key (PEM and JWK modulus) is refused', async () => {
    const pem = createPublicKey({ key: kA.publicJwk as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
    await expectRefused(hmac('HS256', pem, v1AppClaims(TID, nowSec())), 'GW_ERR_TOKEN_SIGNATURE');
    await expectRefused(hmac('HS256', Buffer.from(kA.publicJwk.n!, 'base64url'), v1AppClaims(TID, nowSec())), 'GW_ERR_TOKEN_SIGNATURE');
    expect(auth.hits).toEqual([]);
  });

  it('an HMAC signature under an RS256 header is refused', async () => {
    const pem = createPublicKey({ key: kA.publicJwk as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
    await expectRefused(hmac('RS256', pem, v1AppClaims(TID, nowSec())), 'GW_ERR_TOKEN_SIGNATURE');
  });
});

describe('algorithm substitution (valid signature under a non-RS256 alg)', () => {
  it.each([
    ['RS384', 'sha384'],
    ['RS512', 'sha512'],
    ['PS256', 'pss256'],
  ] as const)('%s signed with the real tenant key is refused', async (alg, how) => {
    await expectRefused(await rawSigned(kA, { alg, kid: kA.kid }, v1AppClaims(TID, nowSec()), how), 'GW_ERR_TOKEN_SIGNATURE');
  });

  it('the raw-signing helper itself produces tokens the verifier accepts under RS256', async () => {
    const t = await rawSigned(kA, { alg: 'RS256', kid: kA.kid }, v1AppClaims(TID, nowSec(), { uti: 'raw-ok' }), 'sha256');
    expect((await verifier.verify(`Bearer ${t}`)).ok).toBe(true);
  });
});

describe('tampered token (claims or header edited after signing)', () => {
  it('payload with escalated roles and the original signature is refused', async () => {
    const good = await mint({ key: kA, claims: v1AppClaims(TID, nowSec()), header: { nonce: 'n1' } });
    const [h, , s] = good.split('.');
    const evil = b64(JSON.stringify(v1AppClaims(TID, nowSec(), { roles: ['RoleManagement.ReadWrite.Directory'] })));
    await expectRefused(`${h}.${evil}.${s}`, 'GW_ERR_TOKEN_SIGNATURE');
  });

  it('a delegated token turned app-only by editing idtyp is refused', async () => {
    const good = await mint({ key: kA, claims: v1UserClaims(TID, nowSec()) });
    const [h, , s] = good.split('.');
    const { scp: _scp, ...rest } = v1UserClaims(TID, nowSec());
    await expectRefused(`${h}.${b64(JSON.stringify({ ...rest, idtyp: 'app', roles: ['Directory.ReadWrite.All'] }))}.${s}`, 'GW_ERR_TOKEN_SIGNATURE');
  });

  it('a flipped signature bit is refused', async () => {
    const good = await mint({ key: kA, claims: v1AppClaims(TID, nowSec()) });
    const [h, p, s] = good.split('.') as [string, string, string];
    const sig = Buffer.from(s, 'base64url');
    sig[10]! ^= 1;
    await expectRefused(`${h}.${p}.${sig.toString('base64url')}`, 'GW_ERR_TOKEN_SIGNATURE');
  });

  it('a cached valid token does not vouch for the same claims with another signature', async () => {
    const claims = v1AppClaims(TID, nowSec(), { uti: 'cache-poison' });
    const good = await mint({ key: kA, claims });
    expect((await verifier.verify(`Bearer ${good}`)).ok).toBe(true);
    const [h, p] = good.split('.');
    await expectRefused(`${h}.${p}.${b64('not the signature')}`, 'GW_ERR_TOKEN_SIGNATURE');
  });

  it('an unknown crit header is refused', async () => {
    const t = await rawSigned(kA, { alg: 'RS256', kid: kA.kid, crit: ['x-gw'], 'x-gw': 1 }, v1AppClaims(TID, nowSec()), 'sha256');
    await expectRefused(t, 'GW_ERR_TOKEN_SIGNATURE');
  });
});

describe('Graph nonce rule (verify only the transformed copy)', () => {
  it('a token signed over the raw nonce (not its hash) is refused', async () => {
    const forged = await mint({ key: kA, claims: v1AppClaims(TID, nowSec()), header: { nonce: 'raw-nonce' }, rawNonceSigning: true });
    await expectRefused(forged, 'GW_ERR_TOKEN_SIGNATURE');
  });

  it('the genuine Graph-style token verifies and is left unchanged', async () => {
    const t = await mint({ key: kA, claims: v1AppClaims(TID, nowSec(), { uti: 'nonce-ok' }), header: { nonce: 'raw-nonce' } });
    const copy = String(t);
    expect((await verifier.verify(`Bearer ${t}`)).ok).toBe(true);
    expect(t).toBe(copy);
  });

  it('stripping the nonce from a nonce-signed token is refused', async () => {
    const t = await mint({ key: kA, claims: v1AppClaims(TID, nowSec()), header: { nonce: 'raw-nonce' } });
    const [h, p, s] = t.split('.') as [string, string, string];
    const header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as Record<string, unknown>;
    delete header.nonce;
    await expectRefused(`${b64(JSON.stringify(header))}.${p}.${s}`, 'GW_ERR_TOKEN_SIGNATURE');
  });

  it('presenting the signed (hashed) header as-is is refused (no double transform passes)', async () => {
    const signed = await new CompactSign(new TextEncoder().encode(JSON.stringify(v1AppClaims(TID, nowSec()))))
      .setProtectedHeader({ alg: 'RS256', kid: kA.kid, nonce: hashNonce('raw-nonce') })
      .sign(kA.privateKey);
    await expectRefused(signed, 'GW_ERR_TOKEN_SIGNATURE');
  });

  it('a non-string nonce is refused', async () => {
    const t = await new CompactSign(new TextEncoder().encode(JSON.stringify(v1AppClaims(TID, nowSec()))))
      .setProtectedHeader({ alg: 'RS256', kid: kA.kid, nonce: 42 })
      .sign(kA.privateKey);
    await expectRefused(t, 'GW_ERR_TOKEN_MALFORMED');
  });
});

describe('tenant steering (making the proxy fetch keys for arbitrary tenants)', () => {
  it('a tenant outside allowedTenants is refused with no request to the authority', async () => {
    addTenant(auth, NOT_ALLOWED, [attacker]);
    const t = await mint({ key: attacker, claims: v1AppClaims(NOT_ALLOWED, nowSec()) });
    await expectRefused(t, 'GW_ERR_TOKEN_TENANT');
    expect(auth.hits).toEqual([]);
  });

  it.each([['common'], ['organizations'], ['../../evil'], [`${randomUUID()}/../x`], [42], [[randomUUID()]]])(
    'tid %j is refused with no request to the authority',
    async (tid) => {
      const t = await mint({ key: attacker, claims: v1AppClaims(TID, nowSec(), { tid }) });
      await expectRefused(t, 'GW_ERR_TOKEN_ISSUER');
      expect(auth.hits).toEqual([]);
    },
  );

  it('a not-allowed tenant signed with an allowed tenant key is still refused', async () => {
    await expectRefused(await mint({ key: kA, claims: v1AppClaims(NOT_ALLOWED, nowSec()) }), 'GW_ERR_TOKEN_TENANT');
  });
});

describe('cross-tenant confusion (one allowed tenant impersonating another)', () => {
  it('a token claiming tenant A but signed with tenant B key is refused', async () => {
    await expectRefused(await mint({ key: kB, claims: v1AppClaims(TID, nowSec()) }), 'GW_ERR_TOKEN_UNKNOWN_KEY');
  });

  it('a token of tenant A with tenant B issuer is refused', async () => {
    await expectRefused(await mint({ key: kA, claims: v1AppClaims(TID, nowSec(), { iss: `https://sts.windows.net/${TID_B}/` }) }), 'GW_ERR_TOKEN_ISSUER');
  });

  it('a token with a lookalike issuer host is refused', async () => {
    await expectRefused(await mint({ key: kA, claims: v1AppClaims(TID, nowSec(), { iss: `https://sts.windows.net.evil.example/${TID}/` }) }), 'GW_ERR_TOKEN_ISSUER');
  });
});

describe('embedded-key injection (jwk / jku / x5u / x5c headers)', () => {
  it('a token carrying its own key in the header is refused, and jku/x5u are never fetched', async () => {
    const jwk = attacker.publicJwk;
    const t = await mint({
      key: attacker,
      claims: v1AppClaims(TID, nowSec()),
      header: { jwk, jku: `${auth.base}/attacker/keys`, x5u: `${auth.base}/attacker/cert` },
    });
    await expectRefused(t, 'GW_ERR_TOKEN_UNKNOWN_KEY');
    expect(auth.hits.some((h) => h.startsWith('/attacker'))).toBe(false);
  });

  it('a missing kid is refused without a fetch', async () => {
    const t = await new CompactSign(new TextEncoder().encode(JSON.stringify(v1AppClaims(TID, nowSec())))).setProtectedHeader({ alg: 'RS256' }).sign(kA.privateKey);
    await expectRefused(t, 'GW_ERR_TOKEN_UNKNOWN_KEY');
    expect(auth.hits).toEqual([]);
  });
});

describe('unknown-kid flood (turning the proxy into a JWKS amplifier)', () => {
  it('a burst of random kids causes at most one refetch per interval', async () => {
    clock.advance(60_000);
    const tokens = await Promise.all(
      Array.from({ length: 20 }, () => mint({ key: { ...attacker, kid: randomUUID() }, claims: v1AppClaims(TID, nowSec()) })),
    );
    for (const t of tokens) await expectRefused(t, 'GW_ERR_TOKEN_UNKNOWN_KEY');
    expect(auth.jwksHits(TID)).toBe(2); // one refetch: the v1 and the v2 key documents
  });
});

describe('weak keys (a published RSA key below 2048 bits)', () => {
  it('a token signed by a 1024-bit key the JWKS publishes is refused', async () => {
    const tid = randomUUID();
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const kid = 'weak';
    // The private key is never used through jose here (it refuses to sign with short keys).
    addTenant(auth, tid, [{ kid, privateKey: attacker.privateKey, publicJwk: { ...(weak.publicKey.export({ format: 'jwk' }) as Record<string, string>), kid } }]);
    const v = createTokenVerifier(verifierOptions(auth, [tid], { now: clock.now }));
    try {
      const input = unsigned({ alg: 'RS256', kid }, v1AppClaims(tid, nowSec()));
      const sig = rsaSign('sha256', Buffer.from(input), weak.privateKey);
      expect(await v.verify(`Bearer ${input}.${sig.toString('base64url')}`)).toMatchObject({ ok: false, code: 'GW_ERR_TOKEN_SIGNATURE' });
    } finally {
      v.close();
    }
  });
});

describe('lifetime and audience bypasses', () => {
  it('an expired token is refused', async () => {
    await expectRefused(await mint({ key: kA, claims: v1AppClaims(TID, nowSec(), { exp: nowSec() - 3600 }) }), 'GW_ERR_TOKEN_EXPIRED');
  });

  it('a token not valid yet is refused', async () => {
    await expectRefused(await mint({ key: kA, claims: v1AppClaims(TID, nowSec(), { nbf: nowSec() + 3600 }) }), 'GW_ERR_TOKEN_NOT_YET_VALID');
  });

  it('a token for another API (confused deputy) is refused', async () => {
    await expectRefused(await mint({ key: kA, claims: v1AppClaims(TID, nowSec(), { aud: 'https://management.azure.com/' }) }), 'GW_ERR_TOKEN_AUDIENCE');
  });

  it('a token without exp is refused', async () => {
    const { exp: _exp, ...claims } = v1AppClaims(TID, nowSec());
    await expectRefused(await mint({ key: kA, claims }), 'GW_ERR_TOKEN_CLAIMS');
  });
});

describe('malformed input (parser abuse)', () => {
  it.each([
    ['two segments', () => `${b64('{"alg":"RS256"}')}.${b64('{}')}`],
    ['bad base64', () => 'e30.e30!.sig'],
    ['huge header', () => `${unsigned({ alg: 'RS256', kid: kA.kid, pad: 'x'.repeat(4000) }, v1AppClaims(TID, nowSec()))}.AAAA`],
    ['huge token', () => `${unsigned({ alg: 'RS256' }, { pad: 'x'.repeat(20_000) })}.AAAA`],
    ['payload array', () => `${b64('{"alg":"RS256"}')}.${b64('[1]')}.AAAA`],
  ])('%s is refused as malformed', async (_n, make) => {
    await expectRefused(make(), 'GW_ERR_TOKEN_MALFORMED');
    expect(auth.hits).toEqual([]);
  });
});

describe('duplicate Authorization headers (verify one token, forward another)', () => {
  it('two Authorization headers are refused even when the first is valid', async () => {
    const good = await mint({ key: kA, claims: v1AppClaims(TID, nowSec(), { uti: 'dup-1' }) });
    const other = await mint({ key: kA, claims: v1AppClaims(TID, nowSec(), { uti: 'dup-2' }) });
    // What Node's req.headers would show: only the first value.
    const raw = ['Host', 'graph', 'Authorization', `Bearer ${good}`, 'authorization', `Bearer ${other}`];
    const out = await verifier.verify(authorizationFromRawHeaders(raw));
    expect(out).toMatchObject({ ok: false, code: 'GW_ERR_TOKEN_MALFORMED' });
  });

  it('a single header passes through unchanged', async () => {
    const good = await mint({ key: kA, claims: v1AppClaims(TID, nowSec(), { uti: 'dup-3' }) });
    expect(authorizationFromRawHeaders(['authorization', `Bearer ${good}`, 'x', 'y'])).toBe(`Bearer ${good}`);
    expect(authorizationFromRawHeaders(['x', 'y'])).toBeUndefined();
    expect((await verifier.verify(authorizationFromRawHeaders(['Authorization', `Bearer ${good}`]))).ok).toBe(true);
  });
});
