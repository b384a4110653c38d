/**
 * A small read-only Microsoft Graph client for the directory connector: bearer auth, @odata.nextLink
 * paging, a concurrency limit, and Retry-After / exponential backoff with jitter on 429, 503, 504.
 * Owns HTTP to Graph for discovery only; never logs tokens or bodies, never follows links off-origin.
 */
import { Agent, request, type Dispatcher } from 'undici';

export class GraphRequestError extends Error {
  readonly status: number;
  /** Graph error.code (e.g. Authorization_RequestDenied, syncStateNotFound), when the body had one. */
  readonly graphCode: string | undefined;
  readonly path: string;
  constructor(status: number, graphCode: string | undefined, path: string, message: string) {
    super(message);
    this.name = 'GraphRequestError';
    this.status = status;
    this.graphCode = graphCode;
    this.path = path;
  }
}

export interface GraphClientOptions {
  /** Graph origin, e.g. https://graph.microsoft.com (paths carry /v1.0 or /beta). */
  baseUrl: string;
  getToken(force: boolean): Promise<string>;
  /** Retries per request after the first attempt (429/503/504 and network errors). */
  maxRetries?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Upper bound for a Retry-After a server asks for. */
  maxRetryAfterMs?: number;
  concurrency?: number;
  requestTimeoutMs?: number;
  /** Injected for tests; defaults to a timer. */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  dispatcher?: Dispatcher;
  /** Observes each retry (status, delay) for metrics and progress; never sees tokens. */
  onRetry?: (info: { path: string; status: number | 'network'; delayMs: number; attempt: number }) => void;
}

export interface GraphPage {
  value: Array<Record<string, unknown>>;
  nextLink?: string;
  deltaLink?: string;
}

export interface GraphClient {
  get(pathOrUrl: string): Promise<Record<string, unknown>>;
  /** Follows @odata.nextLink to the end; returns every item and the final @odata.deltaLink if any. */
  list(pathOrUrl: string, onPage?: (count: number) => void): Promise<{ items: Array<Record<string, unknown>>; deltaLink?: string }>;
  close(): Promise<void>;
}

const RETRYABLE = new Set([429, 503, 504]);

function parseRetryAfter(v: string | string[] | undefined, nowMs: number): number | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  if (!s) return undefined;
  if (/^\d+(\.\d+)?$/.test(s.trim())) return Math.round(Number(s) * 1000);
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : Math.max(0, t - nowMs);
}

/** A counting semaphore: at most `n` holders at once. */
export function createLimiter(n: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiters: Array<() => void> = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (active >= n) await new Promise<void>((resolve) => waiters.push(resolve));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      waiters.shift()?.();
    }
  };
}

export function createGraphClient(opts: GraphClientOptions): GraphClient {
  const base = new URL(opts.baseUrl);
  const maxRetries = opts.maxRetries ?? 6;
  const baseDelay = opts.baseDelayMs ?? 500;
  const maxDelay = opts.maxDelayMs ?? 30_000;
  const maxRetryAfter = opts.maxRetryAfterMs ?? 120_000;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const random = opts.random ?? Math.random;
  const limit = createLimiter(opts.concurrency ?? 8);
  const ownDispatcher = opts.dispatcher ? undefined : new Agent({ connections: opts.concurrency ?? 8, headersTimeout: opts.requestTimeoutMs ?? 60_000, bodyTimeout: opts.requestTimeoutMs ?? 60_000 });
  const dispatcher = opts.dispatcher ?? (ownDispatcher as Dispatcher);

  const resolve = (pathOrUrl: string): URL => {
    const u = new URL(pathOrUrl, base);
    // nextLink/deltaLink come from the server: the bearer token must never go to another origin.
    if (u.origin !== base.origin) throw new GraphRequestError(0, undefined, u.pathname, `refusing to follow a Graph link to another origin (${u.origin})`);
    return u;
  };

  const once = async (url: URL, token: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: unknown }> => {
    const res = await request(url, {
      method: 'GET',
      dispatcher,
      headers: { authorization: `Bearer ${token}`, accept: 'application/json'},
    });
    const text = await res.body.text();
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    return { status: res.statusCode, headers: res.headers, body };
  };

  const get = async (pathOrUrl: string): Promise<Record<string, unknown>> => {
    const url = resolve(pathOrUrl);
    let forceToken = false;
    let refreshed = false;
    for (let attempt = 0; ; attempt++) {
      let outcome: { status: number; headers: Record<string, string | string[] | undefined>; body: unknown } | undefined;
      let networkError: unknown;
      try {
        const token = await opts.getToken(forceToken);
        forceToken = false;
        outcome = await limit(() => once(url, token));
      } catch (err) {
        if (err instanceof GraphRequestError) throw err;
        networkError = err;
      }
      if (outcome && outcome.status >= 200 && outcome.status < 300) {
        if (!outcome.body || typeof outcome.body !== 'object') throw new GraphRequestError(outcome.status, undefined, url.pathname, `Graph returned a non-JSON body for ${url.pathname}`);
        return outcome.body as Record<string, unknown>;
      }
      if (outcome && outcome.status === 401 && !refreshed) {
        // An expired or revoked token: get a fresh one once, then give up.
        refreshed = true;
        forceToken = true;
        continue;
      }
      const retryable = networkError !== undefined || (outcome !== undefined && RETRYABLE.has(outcome.status));
      if (!retryable || attempt >= maxRetries) {
        if (outcome) {
          const err = (outcome.body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
          const code = typeof err?.code === 'string' ? err.code : undefined;
          const msg = typeof err?.message === 'string' ? err.message : '';
          throw new GraphRequestError(outcome.status, code, url.pathname, `Graph GET ${url.pathname} failed: ${outcome.status}${code ? ` ${code}` : ''}${msg ? ` (${msg.slice(0, 200)})` : ''}${retryable ? ` after ${attempt + 1} attempts` : ''}`);
        }
        const reason = networkError instanceof Error ? networkError.message : String(networkError);
        throw new GraphRequestError(0, undefined, url.pathname, `Graph GET ${url.pathname} failed: ${reason} after ${attempt + 1} attempts`);
      }
      const retryAfter = outcome ? parseRetryAfter(outcome.headers['retry-after'], Date.now()) : undefined;
      // Honour Retry-After when given (throttling.md); otherwise full-jitter exponential backoff.
      const delay = retryAfter !== undefined ? Math.min(retryAfter, maxRetryAfter) : Math.floor(random() * Math.min(maxDelay, baseDelay * 2 ** attempt));
      opts.onRetry?.({ path: url.pathname, status: outcome ? outcome.status : 'network', delayMs: delay, attempt: attempt + 1 });
      await sleep(delay);
    }
  };

  const list = async (pathOrUrl: string, onPage?: (count: number) => void): Promise<{ items: Array<Record<string, unknown>>; deltaLink?: string }> => {
    const items: Array<Record<string, unknown>> = [];
    let next: string | undefined = pathOrUrl;
    let deltaLink: string | undefined;
    const seen = new Set<string>();
    while (next) {
      if (seen.has(next)) throw new GraphRequestError(0, undefined, pathOrUrl, 'Graph paging loop: the same nextLink came back twice');
      seen.add(next);
      const page = await get(next);
      const value = page.value;
      if (!Array.isArray(value)) throw new GraphRequestError(200, undefined, pathOrUrl, `Graph collection response without a value array for ${pathOrUrl}`);
      for (const v of value) if (v && typeof v === 'object') items.push(v as Record<string, unknown>);
      onPage?.(items.length);
      const nl = page['@odata.nextLink'];
      const dl = page['@odata.deltaLink'];
      next = typeof nl === 'string' ? nl : undefined;
      if (typeof dl === 'string') deltaLink = dl;
    }
    return deltaLink ? { items, deltaLink } : { items };
  };

  return {
    get,
    list,
    async close() {
      await ownDispatcher?.close();
    },
  };
}
