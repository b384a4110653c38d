/**
 * Sends allowed calls to Graph over an undici keep-alive pool, streaming both ways.
 * Owns the upstream connection, timeouts and mapping of transport failures to
 * graphwarden error codes; does not decide whether a call may go (that is already done).
 */
import { Pool, errors as undiciErrors, type Dispatcher } from 'undici';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import type { IncomingHttpHeaders } from 'node:http';
import { rootCertificates, createSecureContext } from 'node:tls';
import type { ErrorCode } from '../errors.js';
import { upstreamRequestHeaders } from './headers.js';

export interface ForwarderOptions {
  upstreamUrl: string;
  /** Extra PEM CA certificates to trust for the upstream. */
  ca?: string;
  connections: number;
  connectTimeoutMs: number;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  keepAliveTimeoutMs?: number;
}

export interface ForwardRequest {
  method: string;
  /** The request target exactly as the agent sent it (path + query): never rewritten. */
  target: string;
  headers: IncomingHttpHeaders;
  /** The agent's body: a stream (passed through, counted against maxBodyBytes) or a buffer already read. */
  body: Readable | Buffer | null;
  maxBodyBytes: number;
  signal?: AbortSignal;
}

export type ForwardResult =
  | { ok: true; statusCode: number; headers: Record<string, string | string[] | undefined>; body: Readable }
  | { ok: false; code: ErrorCode; kind: 'connect' | 'timeout' | 'reset' | 'tls' | 'closed' | 'too-large' | 'aborted'; message: string };

export interface Forwarder {
  forward(req: ForwardRequest): Promise<ForwardResult>;
  close(): Promise<void>;
  readonly upstreamOrigin: string;
}

class BodyTooLarge extends Error {
  constructor(limit: number) {
    super(`request body exceeds ${limit} bytes`);
    this.name = 'BodyTooLarge';
  }
}

/** Counts body bytes on their way upstream and fails the stream past the limit. */
class ByteLimit extends Transform {
  #seen = 0;
  readonly #limit: number;
  constructor(limit: number) {
    super();
    this.#limit = limit;
  }
  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    this.#seen += chunk.length;
    if (this.#seen > this.#limit) cb(new BodyTooLarge(this.#limit));
    else cb(null, chunk);
  }
}

const TLS_CODES = new Set([
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'ERR_SSL_WRONG_VERSION_NUMBER',
]);

function findCause(err: unknown): { code?: string; name?: string } {
  let e = err as { code?: string; name?: string; cause?: unknown } | undefined;
  for (let i = 0; e && i < 5; i++) {
    if (e.code && e.code !== 'UND_ERR_SOCKET') return e;
    if (!e.cause) return e;
    e = e.cause as typeof e;
  }
  return e ?? {};
}

/** Maps a transport failure to the Graph-shaped error the agent receives. */
export function classifyUpstreamError(err: unknown): Extract<ForwardResult, { ok: false }> {
  if (err instanceof BodyTooLarge || (err as { cause?: unknown })?.cause instanceof BodyTooLarge) {
    return { ok: false, code: 'GW_ERR_REQUEST_BODY_TOO_LARGE', kind: 'too-large', message: 'The request body is larger than graphwarden accepts.' };
  }
  if (err instanceof undiciErrors.ConnectTimeoutError) {
    return { ok: false, code: 'GW_ERR_UPSTREAM_TIMEOUT', kind: 'timeout', message: 'Timed out connecting to Microsoft Graph.' };
  }
  if (err instanceof undiciErrors.HeadersTimeoutError) {
    return { ok: false, code: 'GW_ERR_UPSTREAM_TIMEOUT', kind: 'timeout', message: 'Microsoft Graph did not answer in time.' };
  }
  if (err instanceof undiciErrors.RequestAbortedError) {
    return { ok: false, code: 'GW_ERR_UPSTREAM_UNAVAILABLE', kind: 'aborted', message: 'The call was aborted.' };
  }
  if (err instanceof undiciErrors.ClientDestroyedError || err instanceof undiciErrors.ClientClosedError) {
    return { ok: false, code: 'GW_ERR_UPSTREAM_UNAVAILABLE', kind: 'closed', message: 'graphwarden is shutting down.' };
  }
  const cause = findCause(err);
  if (cause.code && TLS_CODES.has(cause.code)) {
    return { ok: false, code: 'GW_ERR_UPSTREAM_UNREACHABLE', kind: 'tls', message: 'TLS with Microsoft Graph failed.' };
  }
  if (cause.code === 'ECONNRESET' || cause.code === 'EPIPE' || err instanceof undiciErrors.SocketError) {
    return { ok: false, code: 'GW_ERR_UPSTREAM_UNREACHABLE', kind: 'reset', message: 'The connection to Microsoft Graph was reset.' };
  }
  return { ok: false, code: 'GW_ERR_UPSTREAM_UNREACHABLE', kind: 'connect', message: 'Microsoft Graph could not be reached.' };
}

export function createForwarder(opts: ForwarderOptions): Forwarder {
  const origin = new URL(opts.upstreamUrl).origin;
  const pool = new Pool(origin, {
    connections: opts.connections,
    pipelining: 1,
    keepAliveTimeout: opts.keepAliveTimeoutMs ?? 30_000,
    headersTimeout: opts.headersTimeoutMs,
    bodyTimeout: opts.bodyTimeoutMs,
    // A `ca` option replaces Node's trust store, so add the extra CA to the public roots; build
    // the context once (a `ca` list per connection costs a full parse of every root each time).
    connect: { timeout: opts.connectTimeoutMs, ...(opts.ca ? { secureContext: createSecureContext({ ca: [...rootCertificates, opts.ca] }) } : {}) },
  });

  async function forward(req: ForwardRequest): Promise<ForwardResult> {
    let body: Dispatcher.DispatchOptions['body'] = null;
    let limiter: ByteLimit | undefined;
    if (Buffer.isBuffer(req.body)) {
      body = req.body.length > 0 ? req.body : null;
    } else if (req.body) {
      limiter = new ByteLimit(req.maxBodyBytes);
      req.body.on('error', (e) => limiter?.destroy(e));
      body = req.body.pipe(limiter);
    }
    const headers = upstreamRequestHeaders(req.headers);
    if (Buffer.isBuffer(req.body)) headers['content-length'] = String(req.body.length);
    try {
      const res = await pool.request({
        method: req.method as Dispatcher.HttpMethod,
        path: req.target,
        headers,
        body,
        signal: req.signal,
      });
      return { ok: true, statusCode: res.statusCode, headers: res.headers, body: res.body };
    } catch (err) {
      limiter?.destroy();
      return classifyUpstreamError(err);
    }
  }

  return {
    forward,
    upstreamOrigin: origin,
    async close() {
      await pool.close();
    },
  };
}
