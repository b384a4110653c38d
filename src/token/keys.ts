/**
 * Per-tenant signing keys: OpenID metadata (v1 and v2) and JWKS fetched from the configured
 * authority, swapped in whole on each successful fetch, refetched on an unknown kid (rate-limited,
 * one in-flight fetch per tenant) and on an interval. Does not verify tokens (index.ts does).
 */
import { request, type Dispatcher } from 'undici';
import { importJWK, importX509, type CryptoKey } from 'jose';

export type JwksFetchReason = 'startup' | 'interval' | 'unknown-kid';

export interface KeyStoreOptions {
  authorityHost: string;
  metadataUrlTemplate?: { v1?: string; v2?: string };
  fetchTimeoutMs: number;
  unknownKidMinIntervalMs: number;
  missingKeysRetryMs: number;
  dispatcher?: Dispatcher;
  now: () => number;
  onFetch?: (tenantId: string, outcome: 'ok' | 'error', reason: JwksFetchReason) => void;
  /** Called after a swap that dropped a kid, so verified tokens signed by a retired key can be forgotten. */
  onKeysRetired?: (tenantId: string) => void;
}

/** What the verifier needs from one tenant's metadata + JWKS. */
export interface TenantKeySet {
  keys: ReadonlyMap<string, CryptoKey>;
  /** Issuers from the metadata documents (undefined when that document was not served). */
  issuerV1?: string;
  issuerV2?: string;
  loadedAtMs: number;
}

export type KeyLookup =
  | { ok: true; key: CryptoKey; set: TenantKeySet }
  | { ok: false; code: 'GW_ERR_TOKEN_UNKNOWN_KEY' | 'GW_ERR_KEYS_UNAVAILABLE' };

export interface KeyStore {
  lookup(tenantId: string, kid: string): Promise<KeyLookup>;
  /** Fetches now (sharing any in-flight fetch); resolves with an error description or undefined on success. */
  refresh(tenantId: string, reason: JwksFetchReason): Promise<string | undefined>;
  get(tenantId: string): TenantKeySet | undefined;
}

/** Upper bound on a metadata or JWKS document: real ones are a few KB. */
const MAX_DOC_BYTES = 1024 * 1024;

interface TenantState {
  set?: TenantKeySet;
  inFlight?: Promise<string | undefined>;
  lastAttemptMs?: number;
}

export function metadataUrls(opts: Pick<KeyStoreOptions, 'authorityHost' | 'metadataUrlTemplate'>, tenantId: string): { v1: string; v2: string } {
  const host = opts.authorityHost.replace(/\/+$/, '');
  const fill = (t: string) => t.replace(/\{tenant\}/g, encodeURIComponent(tenantId));
  return {
    // entra-docs access-tokens.md: v1 metadata at /{tenant}/.well-known/openid-configuration,
    // v2 at /{tenant}/v2.0/.well-known/openid-configuration.
    v1: fill(opts.metadataUrlTemplate?.v1 ?? `${host}/{tenant}/.well-known/openid-configuration`),
    v2: fill(opts.metadataUrlTemplate?.v2 ?? `${host}/{tenant}/v2.0/.well-known/openid-configuration`),
  };
}

async function fetchJson(url: string, opts: KeyStoreOptions): Promise<unknown> {
  if (!url.startsWith('https://')) throw new Error(`refusing non-https URL ${url}`);
  const res = await request(url, {
    method: 'GET',
    headers: { accept: 'application/json' },
    ...(opts.dispatcher ? { dispatcher: opts.dispatcher } : {}),
    signal: AbortSignal.timeout(opts.fetchTimeoutMs),
    headersTimeout: opts.fetchTimeoutMs,
    bodyTimeout: opts.fetchTimeoutMs,
  });
  if (res.statusCode !== 200) {
    await res.body.dump();
    throw new Error(`${url} answered HTTP ${res.statusCode}`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > MAX_DOC_BYTES) {
      res.body.destroy();
      throw new Error(`${url} answered more than ${MAX_DOC_BYTES} bytes`);
    }
    chunks.push(buf);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new Error(`${url} did not answer JSON`);
  }
}

interface Metadata {
  issuer: string;
  jwksUri: string;
}

function readMetadata(doc: unknown, url: string): Metadata {
  const d = doc as { issuer?: unknown; jwks_uri?: unknown } | null;
  if (typeof d !== 'object' || d === null || typeof d.issuer !== 'string' || typeof d.jwks_uri !== 'string') {
    throw new Error(`${url} lacks issuer or jwks_uri`);
  }
  if (!d.jwks_uri.startsWith('https://')) throw new Error(`${url} names a non-https jwks_uri`);
  return { issuer: d.issuer, jwksUri: d.jwks_uri };
}

/** RSA signing keys by kid. Keys that are not RSA signature keys, or do not import, are skipped. */
async function readJwks(doc: unknown, url: string, into: Map<string, CryptoKey>): Promise<void> {
  const keys = (doc as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) throw new Error(`${url} has no keys array`);
  for (const k of keys as Array<Record<string, unknown>>) {
    if (typeof k !== 'object' || k === null) continue;
    if (k.kty !== 'RSA' || typeof k.kid !== 'string' || k.kid.length === 0) continue;
    if (k.use !== undefined && k.use !== 'sig') continue;
    if (k.alg !== undefined && k.alg !== 'RS256') continue;
    if (into.has(k.kid)) continue;
    try {
      let key: CryptoKey;
      if (typeof k.n === 'string' && typeof k.e === 'string') {
        key = (await importJWK({ kty: 'RSA', n: k.n, e: k.e }, 'RS256')) as CryptoKey;
      } else if (Array.isArray(k.x5c) && typeof k.x5c[0] === 'string') {
        const b64 = k.x5c[0].replace(/(.{64})/g, '$1\n');
        key = await importX509(`-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----`, 'RS256');
      } else {
        continue;
      }
      into.set(k.kid, key);
    } catch {
      // A key we cannot import cannot verify anything: skipping it fails closed for its kid.
      continue;
    }
  }
}

export function createKeyStore(opts: KeyStoreOptions): KeyStore {
  const tenants = new Map<string, TenantState>();
  const stateOf = (tid: string): TenantState => {
    let s = tenants.get(tid);
    if (!s) {
      s = {};
      tenants.set(tid, s);
    }
    return s;
  };

  async function load(tid: string): Promise<TenantKeySet> {
    const urls = metadataUrls(opts, tid);
    const [v1, v2] = await Promise.allSettled([
      fetchJson(urls.v1, opts).then((d) => readMetadata(d, urls.v1)),
      fetchJson(urls.v2, opts).then((d) => readMetadata(d, urls.v2)),
    ]);
    if (v1.status === 'rejected' && v2.status === 'rejected') {
      throw new Error(`metadata unavailable: ${errText(v2.reason)}; ${errText(v1.reason)}`);
    }
    const jwksUris = [...new Set([v2, v1].flatMap((r) => (r.status === 'fulfilled' ? [r.value.jwksUri] : [])))];
    const keys = new Map<string, CryptoKey>();
    for (const uri of jwksUris) await readJwks(await fetchJson(uri, opts), uri, keys);
    if (keys.size === 0) throw new Error('JWKS holds no usable RSA signing key');
    const set: TenantKeySet = { keys, loadedAtMs: opts.now() };
    if (v1.status === 'fulfilled') set.issuerV1 = v1.value.issuer;
    if (v2.status === 'fulfilled') set.issuerV2 = v2.value.issuer;
    return set;
  }

  function refresh(tid: string, reason: JwksFetchReason): Promise<string | undefined> {
    const s = stateOf(tid);
    if (s.inFlight) return s.inFlight;
    s.lastAttemptMs = opts.now();
    const p = load(tid).then(
      (set) => {
        const retired = s.set ? [...s.set.keys.keys()].some((kid) => !set.keys.has(kid)) : false;
        s.set = set; // swap, never mutate
        opts.onFetch?.(tid, 'ok', reason);
        if (retired) opts.onKeysRetired?.(tid);
        return undefined;
      },
      (err: unknown) => {
        // Keep serving the last good keys: a failed refresh changes nothing but the report.
        opts.onFetch?.(tid, 'error', reason);
        return errText(err);
      },
    );
    s.inFlight = p.finally(() => {
      s.inFlight = undefined;
    });
    return s.inFlight;
  }

  function mayFetch(s: TenantState, minIntervalMs: number): boolean {
    return s.lastAttemptMs === undefined || opts.now() - s.lastAttemptMs >= minIntervalMs;
  }

  async function lookup(tid: string, kid: string): Promise<KeyLookup> {
    const s = stateOf(tid);
    if (s.inFlight) await s.inFlight;
    if (!s.set) {
      if (!mayFetch(s, opts.missingKeysRetryMs)) return { ok: false, code: 'GW_ERR_KEYS_UNAVAILABLE' };
      await refresh(tid, 'startup');
      if (!s.set) return { ok: false, code: 'GW_ERR_KEYS_UNAVAILABLE' };
    }
    let set: TenantKeySet = s.set;
    let key = set.keys.get(kid);
    if (key) return { ok: true, key, set };
    // Unknown kid: Entra may have rotated a key in. Refetch at most once per interval per tenant,
    // so a stream of forged kids cannot turn us into a JWKS flood against the authority.
    if (!mayFetch(s, opts.unknownKidMinIntervalMs)) return { ok: false, code: 'GW_ERR_TOKEN_UNKNOWN_KEY' };
    await refresh(tid, 'unknown-kid');
    set = s.set;
    key = set.keys.get(kid);
    return key ? { ok: true, key, set } : { ok: false, code: 'GW_ERR_TOKEN_UNKNOWN_KEY' };
  }

  return { lookup, refresh, get: (tid) => tenants.get(tid)?.set };
}

function errText(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    return cause instanceof Error ? `${err.message} (${cause.message})` : err.message;
  }
  return String(err);
}
