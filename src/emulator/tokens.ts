/**
 * Emulated Entra signing keys (JWKS with kid/x5t/x5c, rotation with a grace period) and
 * Graph access tokens shaped like real v1 ones, signed with Graph's nonce rule
 * (graph-facts §3.2). Owns key material and JWS encoding/verification; does not decide
 * which roles or scopes a client gets (the token endpoint and directory do).
 */
import { createHash, createPrivateKey, createPublicKey, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { createSelfSignedCert, thumbprints, certDerBase64 } from '../certs/index.js';
import { GRAPH_APP_ID } from './catalog.js';

export interface SigningKey {
  kid: string;
  x5t: string;
  x5c: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

function b64u(input: Buffer | string): string {
  return Buffer.from(input).toString('base64url');
}

export function newSigningKey(commonName = 'accounts.emulator.graphwarden.local'): SigningKey {
  const { keyPem, certPem } = createSelfSignedCert(commonName, 3650);
  const tp = thumbprints(certPem);
  // Entra uses the SHA-1 thumbprint (base64url) both as x5t and as kid for v1 keys.
  return { kid: tp.sha1B64u, x5t: tp.sha1B64u, x5c: certDerBase64(certPem), privateKey: createPrivateKey(keyPem), publicKey: createPublicKey(keyPem) };
}

/**
 * One tenant's signing keys: the first is current; retired keys stay published until
 * their grace period ends. Retirement is tracked here, not on the (shareable) key objects.
 */
export class TenantKeys {
  #entries: { key: SigningKey; retireAfter?: number }[];
  constructor(initial: SigningKey = newSigningKey()) {
    this.#entries = [{ key: initial }];
  }

  get current(): SigningKey {
    return this.#entries[0]!.key;
  }

  /** Keys that verify tokens now (the JWKS content), pruning expired grace periods. */
  published(now: number): SigningKey[] {
    this.#entries = this.#entries.filter((e) => e.retireAfter === undefined || e.retireAfter > now);
    return this.#entries.map((e) => e.key);
  }

  find(kid: string, now: number): SigningKey | undefined {
    return this.published(now).find((k) => k.kid === kid);
  }

  /** Makes a new key current. Old keys stay published for `graceMs` (0 drops them at once). */
  rotate(now: number, graceMs: number, next: SigningKey = newSigningKey()): SigningKey {
    const old = this.#entries
      .map((e) => ({ key: e.key, retireAfter: Math.min(e.retireAfter ?? Infinity, now + graceMs) }))
      .filter((e) => e.retireAfter > now);
    this.#entries = [{ key: next }, ...old];
    return next;
  }
}

export function jwk(key: SigningKey, issuer?: string): Record<string, unknown> {
  const pub = key.publicKey.export({ format: 'jwk' }) as { n: string; e: string };
  return { kty: 'RSA', use: 'sig', kid: key.kid, x5t: key.x5t, n: pub.n, e: pub.e, x5c: [key.x5c], ...(issuer ? { issuer } : {}), cloud_instance_name: 'microsoftonline.com' };
}

export type SignMode = 'current' | 'unknown-key' | 'no-nonce-transform' | 'none';

/** base64url(SHA-256(nonce UTF-8)): the value Graph's signature covers in place of the emitted nonce. */
export function transformNonce(nonce: string): string {
  return createHash('sha256').update(nonce, 'utf8').digest('base64url');
}

/**
 * Encodes and signs a JWS. With a `nonce` header and mode 'current', the signature is
 * over the header whose nonce is replaced by its transform, as Graph tokens are; the
 * emitted header keeps the raw nonce, so a plain JWS verification of the result fails.
 */
export function signJwt(header: Record<string, unknown>, payload: Record<string, unknown>, key: SigningKey, mode: SignMode = 'current'): string {
  const payloadB64 = b64u(JSON.stringify(payload));
  if (mode === 'none') {
    const h: Record<string, unknown> = { ...header, alg: 'none' };
    delete h.kid; delete h.x5t; delete h.nonce;
    return `${b64u(JSON.stringify(h))}.${payloadB64}.`;
  }
  const emitted = b64u(JSON.stringify(header));
  let signedHeader = emitted;
  if (mode !== 'no-nonce-transform' && typeof header.nonce === 'string') {
    signedHeader = b64u(JSON.stringify({ ...header, nonce: transformNonce(header.nonce) }));
  }
  const sig = sign('RSA-SHA256', Buffer.from(`${signedHeader}.${payloadB64}`), key.privateKey);
  return `${emitted}.${payloadB64}.${b64u(sig)}`;
}

export type VerifyResult = { ok: true; header: Record<string, unknown>; claims: Record<string, unknown> } | { ok: false; reason: string };

/**
 * Verifies a token the way Graph would: RS256 only, key by kid, and when the header has a
 * nonce, the signature over the transformed header (string replacement in the decoded
 * header text, so key order and spacing are kept).
 */
export function verifyJwt(token: string, findKey: (kid: string) => SigningKey | undefined): VerifyResult {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts[0] || !parts[1]) return { ok: false, reason: 'malformed' };
  let header: Record<string, unknown>;
  let claims: Record<string, unknown>;
  let headerText: string;
  try {
    headerText = Buffer.from(parts[0], 'base64url').toString('utf8');
    header = JSON.parse(headerText) as Record<string, unknown>;
    claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (header.alg !== 'RS256') return { ok: false, reason: 'alg' };
  const key = typeof header.kid === 'string' ? findKey(header.kid) : undefined;
  if (!key) return { ok: false, reason: 'unknown-key' };
  let signedHeader = parts[0];
  if (typeof header.nonce === 'string') {
    signedHeader = b64u(headerText.replace(JSON.stringify(header.nonce), JSON.stringify(transformNonce(header.nonce))));
  }
  const okSig = verify('RSA-SHA256', Buffer.from(`${signedHeader}.${parts[1]}`), key.publicKey, Buffer.from(parts[2] ?? '', 'base64url'));
  return okSig ? { ok: true, header, claims } : { ok: false, reason: 'signature' };
}

export function opaque(bytes = 18): string {
  return randomBytes(bytes).toString('base64url');
}

export interface AccessTokenInput {
  baseUrl: string;
  tenantId: string;
  tenantCreatedSec: number;
  appId: string;
  appDisplayName: string;
  servicePrincipalId: string;
  /** '0' public client, '1' secret, '2' certificate. */
  appidacr: '0' | '1' | '2';
  kind: 'app' | 'delegated';
  roles?: string[];
  scopes?: string[];
  wids?: string[];
  user?: { id: string; userPrincipalName: string; displayName: string; givenName?: string | null; surname?: string | null };
  nowSec: number;
  lifetimeSec: number;
  notBeforeSec?: number;
  version?: '1.0' | '2.0';
}

/** Claims of a Graph access token, in the order real tokens list them. */
export function accessTokenClaims(i: AccessTokenInput): Record<string, unknown> {
  const v2 = i.version === '2.0';
  const iss = v2 ? `${i.baseUrl}/${i.tenantId}/v2.0` : `https://sts.windows.net/${i.tenantId}/`;
  const nbf = i.nowSec + (i.notBeforeSec ?? 0);
  const c: Record<string, unknown> = {
    aud: GRAPH_APP_ID,
    iss,
    iat: i.nowSec,
    nbf,
    exp: nbf + i.lifetimeSec,
  };
  if (i.kind === 'delegated') {
    c.acct = 0;
    c.acr = '1';
    c.amr = ['pwd'];
  }
  c.aio = opaque(48);
  c.app_displayname = i.appDisplayName;
  if (v2) { c.azp = i.appId; c.azpacr = i.appidacr; } else { c.appid = i.appId; c.appidacr = i.appidacr; }
  if (i.kind === 'delegated' && i.user) {
    if (i.user.surname) c.family_name = i.user.surname;
    if (i.user.givenName) c.given_name = i.user.givenName;
  }
  c.idp = `https://sts.windows.net/${i.tenantId}/`;
  c.idtyp = i.kind === 'app' ? 'app' : 'user';
  if (i.kind === 'delegated' && i.user) {
    c.ipaddr = '127.0.0.1';
    c.name = i.user.displayName;
  }
  c.oid = i.kind === 'app' ? i.servicePrincipalId : i.user?.id;
  if (i.kind === 'delegated') c.platf = '14';
  c.rh = `1.${opaque(40)}.`;
  if (i.kind === 'app') c.roles = i.roles ?? [];
  else c.scp = (i.scopes ?? []).join(' ');
  // `sub` is pairwise: stable for one user and one client app, different across apps.
  c.sub = i.kind === 'app' ? i.servicePrincipalId : createHash('sha256').update(`${i.user?.id ?? ''}:${i.appId}`).digest('base64url').slice(0, 43);
  c.tenant_region_scope = 'EU';
  c.tid = i.tenantId;
  if (i.kind === 'delegated' && i.user) {
    c.unique_name = i.user.userPrincipalName;
    c.upn = i.user.userPrincipalName;
  }
  c.uti = opaque(16);
  c.ver = v2 ? '2.0' : '1.0';
  if (i.wids && i.wids.length) c.wids = i.wids;
  c.xms_ftd = opaque(40);
  c.xms_idrel = i.kind === 'app' ? '7 28' : '1 14';
  c.xms_tcdt = i.tenantCreatedSec;
  return c;
}

/** The JWS header of a v1 Graph token: nonce first after typ, as Entra emits it. */
export function accessTokenHeader(key: SigningKey, version: '1.0' | '2.0' = '1.0'): Record<string, unknown> {
  if (version === '2.0') return { typ: 'JWT', alg: 'RS256', kid: key.kid };
  return { typ: 'JWT', nonce: opaque(32), alg: 'RS256', x5t: key.x5t, kid: key.kid };
}
