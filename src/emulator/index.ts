/**
 * The Entra + Graph emulator: one HTTPS origin serving login.microsoftonline.com-shaped
 * Entra endpoints and graph.microsoft.com-shaped /v1.0 and /beta over seeded tenants,
 * with configurable latency and throttling. Owns the listener and the programmatic API
 * tests, the demo and the benchmark use; the directory, tokens and Graph shapes live in
 * their own modules.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { handleEntra, mintAccessToken, type IssueTokenRequest } from './entra.js';
import { GraphAuthenticator, decodeSegments, graphError, handleBatch, handleGraphRequest, type Caller, type GraphRequest } from './graph.js';
import { seedTenant, type EmulatorTenant } from './seed.js';
import { TenantKeys, newSigningKey, type SigningKey } from './tokens.js';
import type { TenantDirectory } from './directory.js';
import type { EmulatorState, Resp, TenantState } from './types.js';

export type { IssueTokenRequest } from './entra.js';
export type { EmulatorTenant, EmulatorAgent, EmulatorUser, EmulatorApp, EmulatorAgentCertificate } from './seed.js';
export type { TenantDirectory as EmulatorDirectory } from './directory.js';

/**
 * Throttling: requests matching every given filter are "eligible"; every Nth eligible
 * request (default: every one) gets 429 with Retry-After, as Graph does
 * (concepts/throttling.md). `$batch` items are throttled individually.
 */
export interface ThrottleOptions {
  /** Throttle every Nth eligible request (1 = all). Default 1. */
  everyNth?: number;
  /** Retry-After seconds. Default 10. */
  retryAfterSec?: number;
  /** Path prefixes after the version, case-insensitive, e.g. ['users', 'servicePrincipals/']. */
  paths?: string[];
  /** HTTP methods, e.g. ['GET']. */
  methods?: string[];
  /** Only calls made with tokens of these client app ids. */
  appIds?: string[];
}

export interface EmulatorOptions {
  host?: string;
  port?: number;
  tls: { keyPem: string; certPem: string };
  seed?: string;
  tenants?: number;
  size?: number;
  latencyMs?: number;
  throttle?: ThrottleOptions | null;
  publicUrl?: string;
  tokenLifetimeSec?: number;
  /** Clock (ms epoch) for token times and expiry checks; default Date.now. */
  now?: () => number;
}

export interface GraphRequestRecord { method: string; path: string; authorized: boolean; status: number }

export interface RotateKeysOptions {
  /** How long the previous key stays in the JWKS. Default 24 h; 0 drops it at once. */
  graceSec?: number;
}

export interface Emulator {
  readonly url: string;
  readonly tenants: EmulatorTenant[];
  issueToken(req: IssueTokenRequest): Promise<string>;
  rotateKeys(tenantId?: string, opts?: RotateKeysOptions): void;
  setLatency(ms: number): void;
  setThrottle(t: ThrottleOptions | null): void;
  graphRequests(): ReadonlyArray<GraphRequestRecord>;
  clearGraphRequests(): void;
  /** Entra-side request log (metadata, keys, token endpoint), e.g. to prove a client cached its token. */
  entraRequests(): ReadonlyArray<{ method: string; path: string; status: number; grantType?: string }>;
  directory(tenantId: string): TenantDirectory;
  close(): Promise<void>;
}

// Same idea as the seeded certificates: the first signing key of a tenant is made once per
// process and seed; rotation always makes fresh keys.
const initialKeys = new Map<string, SigningKey>();
function initialSigningKey(label: string): SigningKey {
  let k = initialKeys.get(label);
  if (!k) initialKeys.set(label, (k = newSigningKey()));
  return k;
}

const BODY_LIMIT = 4 * 1024 * 1024;
const LOG_LIMIT = 10_000;
const JSON_TYPE = 'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8';

function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > BODY_LIMIT) {
        resolve(undefined);
        req.resume();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function headerMap(req: IncomingMessage): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(req.headers)) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

export async function startEmulator(opts: EmulatorOptions): Promise<Emulator> {
  const host = opts.host ?? '127.0.0.1';
  const seed = opts.seed ?? 'graphwarden';
  const size = opts.size ?? 2000;
  const now = opts.now ?? Date.now;
  let latencyMs = opts.latencyMs ?? 0;
  let throttle: ThrottleOptions | null = opts.throttle ?? null;
  let throttleCounter = 0;
  const log: GraphRequestRecord[] = [];
  const entraLog: { method: string; path: string; status: number; grantType?: string }[] = [];

  const tenants = new Map<string, TenantState>();
  const byDomain = new Map<string, string>();
  const tenantList: EmulatorTenant[] = [];
  for (let i = 0; i < (opts.tenants ?? 1); i++) {
    const { directory, tenant } = seedTenant({ seed, index: i, size, now });
    tenants.set(tenant.id, { tenant, directory, keys: new TenantKeys(initialSigningKey(`${seed}:${i}`)) });
    byDomain.set(tenant.primaryDomain.toLowerCase(), tenant.id);
    tenantList.push(tenant);
  }
  const state: EmulatorState = {
    url: '', publicUrl: '', tenants, byDomain, now, tokenLifetimeSec: opts.tokenLifetimeSec ?? 3600, refreshTokens: new Map(), usedAssertions: new Map(),
  };
  const auth = new GraphAuthenticator(state);

  const record = (r: GraphRequestRecord) => {
    if (log.length >= LOG_LIMIT) log.splice(0, LOG_LIMIT / 2);
    log.push(r);
  };

  const throttled = (method: string, path: string, caller: Caller): Resp | undefined => {
    const t = throttle;
    if (!t) return undefined;
    const p = path.toLowerCase();
    if (t.paths && !t.paths.some((x) => p.startsWith(x.toLowerCase().replace(/^\//, '')))) return undefined;
    if (t.methods && !t.methods.some((m) => m.toUpperCase() === method)) return undefined;
    if (t.appIds && !t.appIds.some((a) => a.toLowerCase() === caller.appId.toLowerCase())) return undefined;
    throttleCounter += 1;
    if (throttleCounter % Math.max(1, t.everyNth ?? 1) !== 0) return undefined;
    const r = graphError(429, 'TooManyRequests', 'Too many requests. Please retry after the time given in the Retry-After header.', {}, now());
    r.headers = { ...r.headers, 'retry-after': String(t.retryAfterSec ?? 10) };
    return r;
  };

  const runGraph = (caller: Caller, req: GraphRequest, pathForLog: string): Resp => {
    const t = throttled(req.method, req.segments.join('/'), caller);
    const resp = t ?? handleGraphRequest(state, caller, req);
    record({ method: req.method, path: pathForLog, authorized: true, status: resp.status });
    return resp;
  };

  const send = async (res: ServerResponse, resp: Resp, reqHeaders: Record<string, string | undefined>, graph: boolean): Promise<void> => {
    if (graph && latencyMs > 0) await delay(latencyMs);
    const headers: Record<string, string> = { ...(resp.headers ?? {}) };
    if (graph) {
      headers['request-id'] ??= crypto.randomUUID();
      headers['client-request-id'] = reqHeaders['client-request-id'] ?? headers['client-request-id'] ?? headers['request-id'];
      headers['x-ms-ags-diagnostic'] = '{"ServerInfo":{"DataCenter":"Emulator","Slice":"E","Ring":"0","ScaleUnit":"000","RoleInstance":"graphwarden-emulator"}}';
      headers['strict-transport-security'] = 'max-age=31536000';
    }
    let payload: string | undefined;
    if (resp.text !== undefined) {
      headers['content-type'] = 'text/plain';
      payload = resp.text;
    } else if (resp.body !== undefined) {
      headers['content-type'] = graph ? JSON_TYPE : 'application/json; charset=utf-8';
      if (graph) headers['odata-version'] = '4.0';
      payload = JSON.stringify(resp.body);
    }
    res.writeHead(resp.status, headers);
    res.end(payload);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const method = (req.method ?? 'GET').toUpperCase();
    const u = new URL(req.url ?? '/', 'https://emulator.invalid');
    const headers = headerMap(req);
    const segments = decodeSegments(u.pathname.replace(/^\/+/, ''));
    const first = segments[0]?.toLowerCase();
    const raw = await readBody(req);
    if (raw === undefined) {
      await send(res, graphError(413, 'RequestEntityTooLarge', 'The request body is too large.', headers, now()), headers, true);
      return;
    }
    if (first === 'v1.0' || first === 'beta') {
      const version = first;
      const pathForLog = u.pathname;
      const a = auth.authenticate(headers.authorization);
      if ('message' in a) {
        record({ method, path: pathForLog, authorized: false, status: 401 });
        const r = graphError(401, 'InvalidAuthenticationToken', a.message, headers, now());
        r.headers = { ...r.headers, 'www-authenticate': `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"` };
        await send(res, r, headers, true);
        return;
      }
      let body: unknown;
      if (raw.length) {
        try {
          body = JSON.parse(raw.toString('utf8')) as unknown;
        } catch {
          record({ method, path: pathForLog, authorized: true, status: 400 });
          await send(res, graphError(400, 'BadRequest', 'Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.', headers, now()), headers, true);
          return;
        }
      }
      const rest = segments.slice(1);
      if (rest.length === 1 && rest[0] === '$batch' && method === 'POST') {
        record({ method, path: pathForLog, authorized: true, status: 200 });
        const resp = handleBatch(state, version, body, headers, (item) => runGraph(a.caller, { ...item, headers: { ...item.headers, authorization: headers.authorization } }, `/${version}/${item.segments.join('/')}`));
        await send(res, resp, headers, true);
        return;
      }
      const resp = runGraph(a.caller, { method, version, segments: rest, query: u.searchParams, headers, body }, pathForLog);
      await send(res, resp, headers, true);
      return;
    }
    let form: URLSearchParams | undefined;
    if (method === 'POST') {
      form = new URLSearchParams(raw.toString('utf8'));
      const basic = /^Basic\s+(\S+)$/i.exec(headers.authorization ?? '');
      if (basic) {
        const [id, secret] = Buffer.from(basic[1]!, 'base64').toString('utf8').split(':');
        if (id && !form.has('client_id')) form.set('client_id', decodeURIComponent(id));
        if (secret !== undefined && !form.has('client_secret')) form.set('client_secret', decodeURIComponent(secret));
      }
    }
    const resp = handleEntra(state, method, segments, form) ?? { status: 404, body: { error: 'not_found', error_description: `No Entra or Graph endpoint at ${u.pathname}.` } };
    if (entraLog.length >= LOG_LIMIT) entraLog.splice(0, LOG_LIMIT / 2);
    const grantType = form?.get('grant_type') ?? undefined;
    entraLog.push({ method, path: u.pathname, status: resp.status, ...(grantType ? { grantType } : {}) });
    await send(res, resp, headers, false);
  };

  const server: Server = createServer({ key: opts.tls.keyPem, cert: opts.tls.certPem, keepAlive: true }, (req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'generalException', message: 'The emulator failed to handle the request.' } }));
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const hostForUrl = host.includes(':') ? `[${host}]` : host;
  state.url = `https://${hostForUrl}:${port}`;
  state.publicUrl = (opts.publicUrl ?? state.url).replace(/\/+$/, '');

  const tenantState = (id: string): TenantState => {
    const ts = tenants.get(id.toLowerCase()) ?? tenants.get(byDomain.get(id.toLowerCase()) ?? '');
    if (!ts) throw new Error(`unknown emulator tenant ${id}`);
    return ts;
  };

  return {
    url: state.url,
    tenants: tenantList,
    issueToken: (r) => Promise.resolve(mintAccessToken(state, tenantState(r.tenantId), r)),
    rotateKeys: (tenantId, o) => {
      const grace = (o?.graceSec ?? 86_400) * 1000;
      for (const ts of tenantId ? [tenantState(tenantId)] : tenants.values()) ts.keys.rotate(now(), grace);
    },
    setLatency: (ms) => { latencyMs = Math.max(0, ms); },
    setThrottle: (t) => { throttle = t; throttleCounter = 0; },
    graphRequests: () => log.slice(),
    clearGraphRequests: () => { log.length = 0; },
    entraRequests: () => entraLog.slice(),
    directory: (tenantId) => tenantState(tenantId).directory,
    close: () => new Promise<void>((resolve, reject) => {
      server.close((err) => (err ? reject(err) : resolve()));
      server.closeAllConnections();
    }),
  };
}
