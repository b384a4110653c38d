/**
 * A loopback HTTPS stand-in for the Entra authority (per-tenant v1/v2 OpenID metadata and JWKS)
 * plus a token minter, for token/ tests. Keys are generated per test file; nothing leaves 127.0.0.1.
 */
import https from 'node:https';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { CompactSign, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { testPki } from '../../../support/pki.js';
import { hashNonce } from '../../../../src/token/compact.js';

export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export async function makeKey(kid: string = randomUUID()): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
  const jwk = await exportJWK(publicKey);
  return { kid, privateKey, publicJwk: { ...jwk, kid, use: 'sig', kty: 'RSA' } };
}

interface TenantSetup {
  keys: SigningKey[];
  serveV1: boolean;
  serveV2: boolean;
  /** Override the metadata issuer (v1/v2) to simulate a misconfigured or hostile authority. */
  issuerV1?: string;
  issuerV2?: string;
  /** Override the jwks_uri both metadata documents name. */
  jwksUri?: string;
}

export interface FakeAuthority {
  base: string;
  tenants: Map<string, TenantSetup>;
  /** Every request path served, in order. */
  hits: string[];
  jwksHits(tid: string): number;
  /** When set, every response is this HTTP status (simulates an outage). */
  failWith: number | undefined;
  /** Holds JWKS responses until the returned function is called; resolves `held` once a request is waiting. */
  holdJwks(): { release: () => void; held: Promise<void> };
  close(): Promise<void>;
}

export async function startAuthority(): Promise<FakeAuthority> {
  const pki = testPki();
  const tenants = new Map<string, TenantSetup>();
  const hits: string[] = [];
  let gate: { wait: Promise<void>; onHeld: () => void } | undefined;

  const auth: FakeAuthority = {
    base: '',
    tenants,
    hits,
    failWith: undefined,
    jwksHits: (tid) => hits.filter((h) => h.startsWith(`/${tid}/discovery/`)).length,
    holdJwks() {
      let release!: () => void;
      let onHeld!: () => void;
      const wait = new Promise<void>((r) => (release = r));
      const held = new Promise<void>((r) => (onHeld = r));
      gate = { wait, onHeld };
      return {
        release: () => {
          gate = undefined;
          release();
        },
        held,
      };
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };

  const server = https.createServer({ key: pki.server.keyPem, cert: pki.server.certPem }, (req, res) => {
    const path = (req.url ?? '').split('?')[0]!;
    hits.push(path);
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (auth.failWith !== undefined) return send(auth.failWith, { error: 'temporarily_unavailable' });
    const m = /^\/([^/]+)\/(v2\.0\/\.well-known\/openid-configuration|\.well-known\/openid-configuration|discovery\/keys|discovery\/v2\.0\/keys)$/.exec(path);
    const t = m ? tenants.get(m[1]!) : undefined;
    if (!m || !t) return send(404, { error: 'invalid_tenant' });
    const tid = m[1]!;
    switch (m[2]) {
      case '.well-known/openid-configuration':
        if (!t.serveV1) return send(404, { error: 'not_found' });
        return send(200, { issuer: t.issuerV1 ?? `https://sts.windows.net/${tid}/`, jwks_uri: t.jwksUri ?? `${auth.base}/${tid}/discovery/keys` });
      case 'v2.0/.well-known/openid-configuration':
        if (!t.serveV2) return send(404, { error: 'not_found' });
        return send(200, { issuer: t.issuerV2 ?? `${auth.base}/${tid}/v2.0`, jwks_uri: t.jwksUri ?? `${auth.base}/${tid}/discovery/v2.0/keys` });
      default: {
        const body = { keys: t.keys.map((k) => k.publicJwk) };
        if (gate) {
          const g = gate;
          g.onHeld();
          void g.wait.then(() => send(200, body));
          return;
        }
        return send(200, body);
      }
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  auth.base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return auth;
}

export function addTenant(auth: FakeAuthority, tid: string, keys: SigningKey[], opts: Partial<Omit<TenantSetup, 'keys'>> = {}): void {
  auth.tenants.set(tid, { keys, serveV1: true, serveV2: true, ...opts });
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64url');

export interface MintOptions {
  key: SigningKey;
  claims: Record<string, unknown>;
  /** Extra header fields; `nonce` here triggers Graph-style signing unless `rawNonceSigning`. */
  header?: Record<string, unknown>;
  /** Forger mode: sign over the raw nonce instead of its hash. */
  rawNonceSigning?: boolean;
}

/**
 * Mints an RS256 token. With a header `nonce`, signs the way Entra signs Graph tokens: over a header
 * whose nonce is base64url(sha256(nonce)), then emits the raw nonce in the header text.
 */
export async function mint(o: MintOptions): Promise<string> {
  const header: Record<string, unknown> = { typ: 'JWT', alg: 'RS256', kid: o.key.kid, ...o.header };
  const payload = new TextEncoder().encode(JSON.stringify(o.claims));
  const nonce = header.nonce;
  if (typeof nonce !== 'string' || o.rawNonceSigning) {
    return new CompactSign(payload).setProtectedHeader(header as { alg: string } & Record<string, unknown>).sign(o.key.privateKey);
  }
  const signed = await new CompactSign(payload).setProtectedHeader({ ...header, alg: 'RS256', nonce: hashNonce(nonce) }).sign(o.key.privateKey);
  const [h, p, s] = signed.split('.') as [string, string, string];
  const headerText = Buffer.from(h, 'base64url').toString('utf8').replace(JSON.stringify(hashNonce(nonce)), JSON.stringify(nonce));
  return `${b64(headerText)}.${p}.${s}`;
}

export const GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000';

/** Claims shaped like a real v1 Graph token (access-token-claims-reference; graph-facts §3.1). */
export function v1AppClaims(tid: string, nowSec: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    aud: GRAPH_APP_ID,
    iss: `https://sts.windows.net/${tid}/`,
    iat: nowSec - 10,
    nbf: nowSec - 10,
    exp: nowSec + 3600,
    aio: 'opaque',
    app_displayname: 'test agent',
    appid: '11111111-2222-3333-4444-555555555555',
    appidacr: '2',
    idp: `https://sts.windows.net/${tid}/`,
    idtyp: 'app',
    oid: '66666666-7777-8888-9999-000000000000',
    rh: 'opaque',
    roles: ['User.Read.All', 'Group.Read.All'],
    sub: '66666666-7777-8888-9999-000000000000',
    tid,
    uti: 'uti-app-1',
    ver: '1.0',
    wids: ['0997a1d0-0d1d-4acb-b408-d5ca73121e90'],
    xms_tcdt: 1600000000,
    ...extra,
  };
}

export function v1UserClaims(tid: string, nowSec: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const { roles: _roles, ...base } = v1AppClaims(tid, nowSec);
  return {
    ...base,
    idtyp: 'user',
    appidacr: '0',
    oid: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee',
    scp: 'User.Read Mail.Read openid profile',
    upn: 'adele@contoso.example',
    uti: 'uti-user-1',
    wids: ['b79fbf4d-3ef9-4689-8143-76b194e85509'],
    ...extra,
  };
}

export function v2AppClaims(base: string, tid: string, nowSec: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const { appid, appidacr, ...rest } = v1AppClaims(tid, nowSec);
  return { ...rest, iss: `${base}/${tid}/v2.0`, ver: '2.0', azp: appid, azpacr: appidacr, ...extra };
}

/** A settable clock in ms, for cache and lifetime tests. */
export function testClock(startMs = Date.UTC(2026, 0, 15, 12, 0, 0)): { now: () => number; set: (ms: number) => void; advance: (ms: number) => void } {
  let t = startMs;
  return { now: () => t, set: (ms) => (t = ms), advance: (ms) => (t += ms) };
}
