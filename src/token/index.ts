/**
 * token/: authenticates a Graph call from its Authorization header. Owns bearer extraction, jose
 * signature verification against the tenant's JWKS (with the Graph `nonce` rule), claim checks and
 * the verified-token cache. Does not decide what the caller may do, and never alters the token
 * (the proxy forwards the original; verification works on a copy).
 */
import { compactVerify } from 'jose';
import { LRUCache } from 'lru-cache';
import type { Dispatcher } from 'undici';
import type { ErrorCode } from '../errors.js';
import { isGuid, toPrincipal } from '../identity/index.js';
import type { Principal } from '../identity/principal.js';
import { checkClaims } from './claims.js';
import { sha256Hex } from '../canonical.js';
import { bearerValue, decodeCompact, isCompact, transformNonce } from './compact.js';
import { createKeyStore, type JwksFetchReason } from './keys.js';
import { TOKEN_DEFAULTS } from './defaults.js';

export { authorizationFromRawHeaders, extractBearer, decodeCompact, transformNonce, hashNonce } from './compact.js';
export { checkClaims, issuerFor, issuerTenant } from './claims.js';
export type { JwksFetchReason } from './keys.js';
export { GRAPH_AUDIENCES, TOKEN_DEFAULTS } from './defaults.js';
export { tokenConfigSchema, toVerifierOptions, type TokenConfig } from './config.js';

export interface TokenEvents {
  cacheHit?(): void;
  cacheMiss?(): void;
  jwksFetch?(tenantId: string, outcome: 'ok' | 'error', reason: JwksFetchReason): void;
  rejected?(code: ErrorCode): void;
}

export interface TokenVerifierOptions {
  /** Entra authority host (https), e.g. https://login.microsoftonline.com. */
  authorityHost: string;
  /** Metadata URL templates containing `{tenant}`; default `${authorityHost}/{tenant}[/v2.0]/.well-known/openid-configuration`. */
  metadataUrlTemplate?: { v1?: string; v2?: string };
  /** Tenant GUIDs; tokens from others are refused before any key fetch. */
  allowedTenants: string[];
  audiences: string[];
  clockSkewSec: number;
  /** Bound of the verified-token cache; 0 disables it. */
  cacheMaxEntries: number;
  jwksRefreshIntervalMs: number;
  /** Minimum time between JWKS refetches caused by an unknown kid, per tenant. */
  unknownKidMinIntervalMs: number;
  /** Minimum time between fetch attempts for a tenant whose keys never loaded (requests trigger them). Default 10 s. */
  missingKeysRetryMs?: number;
  fetchTimeoutMs: number;
  dispatcher?: Dispatcher;
  now?: () => number;
  events?: TokenEvents;
}

export type VerifyOutcome =
  | {
      ok: true;
      principal: Principal;
      /** SHA-256 hex of the raw token, for audit and correlation; never the token itself. */
      tokenDigest: string;
      /** SHA-256 hex of the verified payload JSON. */
      claimsDigest: string;
      /** True when answered from the verified-token cache. */
      cached: boolean;
    }
  | {
      ok: false;
      /** A GW_ERR_TOKEN_* code, GW_ERR_KEYS_UNAVAILABLE (503), or GW_ERR_INTERNAL. */
      code: ErrorCode;
      /** Safe to send to the client: a fixed sentence, no token content. */
      message: string;
    };

export interface TokenVerifier {
  /**
   * Takes the raw Authorization header value (or undefined). Never throws. `connection`, when given,
   * is the object the call arrived on (its socket): the token's digest is remembered for the next call
   * on the same connection, which nearly always carries the same token.
   */
  verify(authorization: string | undefined, connection?: object): Promise<VerifyOutcome>;
  /** Fetches metadata + keys for every allowed tenant not loaded yet; rejects listing each failure. */
  preload(): Promise<void>;
  /** Keys are loaded for every allowed tenant (readiness). */
  ready(): boolean;
  keysAgeMs(tenantId: string): number | undefined;
  /** Stops the refresh timer (it is unref'd anyway). */
  close(): void;
}

interface CacheEntry {
  principal: Principal;
  claimsDigest: string;
  expMs: number;
}

/** The last token seen on a connection and its digest: a pure function of the token, so never stale. */
interface ConnectionToken {
  token: string;
  digest: string;
}

// Client-facing messages: fixed text per code, never token content.
const MESSAGES: Partial<Record<ErrorCode, string>> = {
  GW_ERR_TOKEN_MISSING: 'Access token is empty.',
  GW_ERR_TOKEN_MALFORMED: 'Access token is not a well-formed JWT.',
  GW_ERR_TOKEN_SIGNATURE: 'Access token signature is invalid.',
  GW_ERR_TOKEN_UNKNOWN_KEY: 'Access token is signed by an unknown key.',
  GW_ERR_TOKEN_TENANT: 'Access token tenant is not allowed.',
  GW_ERR_TOKEN_CLAIMS: 'Access token is missing required claims.',
  GW_ERR_KEYS_UNAVAILABLE: 'Token signing keys are unavailable; try again later.',
};

/** Metrics watch, they never change the verdict: a throwing subscriber is ignored. */
function guardEvents(e: TokenEvents): Required<TokenEvents> {
  const guard =
    <A extends unknown[]>(fn: ((...args: A) => void) | undefined) =>
    (...args: A): void => {
      try {
        fn?.(...args);
      } catch {
        // ignored on purpose
      }
    };
  return { cacheHit: guard(e.cacheHit), cacheMiss: guard(e.cacheMiss), jwksFetch: guard(e.jwksFetch), rejected: guard(e.rejected) };
}

function freezePrincipal(p: Principal): Principal {
  Object.freeze(p.roles);
  Object.freeze(p.scopes);
  Object.freeze(p.wids);
  return Object.freeze(p);
}

export function createTokenVerifier(opts: TokenVerifierOptions): TokenVerifier {
  const now = opts.now ?? Date.now;
  const events = guardEvents(opts.events ?? {});
  if (!opts.authorityHost.startsWith('https://')) throw new Error('token: authorityHost must be an https URL');
  if (opts.allowedTenants.length === 0) throw new Error('token: allowedTenants must list at least one tenant id');
  for (const t of opts.allowedTenants) if (!isGuid(t)) throw new Error(`token: allowed tenant "${t}" is not a GUID`);
  if (opts.audiences.length === 0) throw new Error('token: audiences must not be empty');
  const allowed = new Set(opts.allowedTenants.map((t) => t.toLowerCase()));
  const authority = opts.authorityHost.replace(/\/+$/, '');

  const cache =
    opts.cacheMaxEntries > 0
      ? new LRUCache<string, CacheEntry>({ max: opts.cacheMaxEntries, ...(opts.now ? { perf: { now: opts.now } } : {}) })
      : undefined;

  // Hashing a 1–2 KB token costs more than the rest of a cache hit, and an agent sends the same token
  // on every call over a keep-alive connection. Comparing with the connection's previous token spares
  // the hash; only the caller's own earlier token is compared, so the comparison's timing tells a
  // client nothing about other clients' tokens. Held until the connection is gone or its token changes.
  const lastOnConnection = new WeakMap<object, ConnectionToken>();
  const digestOf = (token: string, connection: object | undefined): string => {
    if (connection === undefined) return sha256Hex(token);
    const last = lastOnConnection.get(connection);
    if (last !== undefined && last.token === token) return last.digest;
    const digest = sha256Hex(token);
    lastOnConnection.set(connection, { token, digest });
    return digest;
  };

  const keys = createKeyStore({
    authorityHost: authority,
    metadataUrlTemplate: opts.metadataUrlTemplate,
    fetchTimeoutMs: opts.fetchTimeoutMs,
    unknownKidMinIntervalMs: opts.unknownKidMinIntervalMs,
    missingKeysRetryMs: opts.missingKeysRetryMs ?? TOKEN_DEFAULTS.missingKeysRetryMs,
    dispatcher: opts.dispatcher,
    now,
    onFetch: (tid, outcome, reason) => events.jwksFetch(tid, outcome, reason),
    // A key Entra stopped publishing may have been retired for cause: forget what it vouched for.
    onKeysRetired: () => cache?.clear(),
  });

  const timer = setInterval(() => {
    for (const tid of allowed) void keys.refresh(tid, 'interval');
  }, opts.jwksRefreshIntervalMs);
  timer.unref();

  const reject = (code: ErrorCode, message?: string): VerifyOutcome => {
    events.rejected(code);
    return { ok: false, code, message: message ?? MESSAGES[code] ?? 'Access token validation failure.' };
  };

  async function verifyFresh(token: string, tokenDigest: string): Promise<VerifyOutcome> {
    const decoded = decodeCompact(token);
    if (!decoded) return reject('GW_ERR_TOKEN_MALFORMED');
    const { header, payload } = decoded;

    // Only RS256: Entra signs access tokens with RSA keys; `none`, HS256 (key confusion with the
    // public key as an HMAC secret) and every other algorithm are refused before any key lookup.
    if (header.alg !== 'RS256') return reject('GW_ERR_TOKEN_SIGNATURE');

    // The tenant is read from the unverified payload only to pick whose keys to use; it must be
    // allowed before anything is fetched, so a token cannot make us contact arbitrary tenants.
    if (!isGuid(payload.tid)) return reject('GW_ERR_TOKEN_ISSUER', 'Access token has no valid tenant id.');
    const tid = payload.tid.toLowerCase();
    if (!allowed.has(tid)) return reject('GW_ERR_TOKEN_TENANT');

    if (typeof header.kid !== 'string' || header.kid.length === 0) return reject('GW_ERR_TOKEN_UNKNOWN_KEY');
    const found = await keys.lookup(tid, header.kid);
    if (!found.ok) return reject(found.code);

    // Graph nonce rule (graph-facts §3.2): Entra signs the header with nonce = b64url(sha256(nonce))
    // and then puts the raw nonce in the token, so only the transformed copy verifies. Verifying
    // the copy alone also rejects a forger who signed the raw nonce.
    let signed = token;
    if (header.nonce !== undefined) {
      if (typeof header.nonce !== 'string') return reject('GW_ERR_TOKEN_MALFORMED');
      const transformed = transformNonce(decoded, header.nonce);
      if (transformed === undefined) return reject('GW_ERR_TOKEN_SIGNATURE');
      signed = transformed;
    }
    let verifiedPayload: Uint8Array;
    try {
      verifiedPayload = (await compactVerify(signed, found.key, { algorithms: ['RS256'] })).payload;
    } catch {
      return reject('GW_ERR_TOKEN_SIGNATURE');
    }
    const payloadText = Buffer.from(verifiedPayload).toString('utf8');
    const claims = JSON.parse(payloadText) as Record<string, unknown>; // same bytes decodeCompact parsed

    const nowMs = now();
    const check = checkClaims({
      payload: claims,
      tenantId: tid,
      issuers: {
        // v1 issuer https://sts.windows.net/{tid}/ and v2 https://login.microsoftonline.com/{tid}/v2.0
        // (access-token-claims-reference `iss`); the tenant's metadata, when served, is authoritative.
        v1: found.set.issuerV1 ?? 'https://sts.windows.net/{tenantid}/',
        v2: found.set.issuerV2 ?? `${authority}/{tenantid}/v2.0`,
      },
      audiences: opts.audiences,
      clockSkewSec: opts.clockSkewSec,
      nowMs,
    });
    if (!check.ok) return reject(check.code, check.message);

    const mapped = toPrincipal(claims.ver === undefined ? { ...claims, ver: check.version } : claims);
    if (!mapped.ok) return reject('GW_ERR_TOKEN_CLAIMS', `Access token claims are invalid (${mapped.reason}).`);
    const principal = freezePrincipal(mapped.principal);
    const claimsDigest = sha256Hex(payloadText);

    // Cache only successes, and never past exp (skew is a tolerance for fresh checks, not for the cache).
    const expMs = principal.expiresAt * 1000;
    if (cache && expMs > nowMs) cache.set(tokenDigest, { principal, claimsDigest, expMs }, { ttl: expMs - nowMs });
    return { ok: true, principal, tokenDigest, claimsDigest, cached: false };
  }

  return {
    async verify(authorization, connection) {
      const bearer = bearerValue(authorization);
      if (!bearer.ok) return reject(bearer.code);
      const tokenDigest = digestOf(bearer.token, connection);
      if (cache) {
        const hit = cache.get(tokenDigest);
        if (hit && now() < hit.expMs) {
          events.cacheHit();
          return { ok: true, principal: hit.principal, tokenDigest, claimsDigest: hit.claimsDigest, cached: true };
        }
        if (hit) cache.delete(tokenDigest);
        events.cacheMiss();
      }
      if (!isCompact(bearer.token)) return reject('GW_ERR_TOKEN_MALFORMED');
      try {
        return await verifyFresh(bearer.token, tokenDigest);
      } catch {
        // A bug, not a verdict: refuse rather than let the call through unverified.
        return reject('GW_ERR_INTERNAL', 'Access token could not be verified.');
      }
    },

    async preload() {
      const failures: string[] = [];
      await Promise.all(
        [...allowed].map(async (tid) => {
          if (keys.get(tid)) return;
          const err = await keys.refresh(tid, 'startup');
          if (err !== undefined) failures.push(`tenant ${tid}: ${err}`);
        }),
      );
      if (failures.length > 0) throw new Error(`token signing keys not loaded for ${failures.length} tenant(s):\n  ${failures.join('\n  ')}`);
    },

    ready() {
      for (const tid of allowed) if (!keys.get(tid)) return false;
      return true;
    },

    keysAgeMs(tenantId) {
      const set = keys.get(tenantId.toLowerCase());
      return set ? now() - set.loadedAtMs : undefined;
    },

    close() {
      clearInterval(timer);
    },
  };
}
