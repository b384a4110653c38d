/**
 * Sends allowed calls to Graph over an undici keep-alive pool, streaming both ways.
 * Owns the upstream connection, timeouts and mapping of transport failures to
 * graphwarden error codes; does not decide whether a call may go (that is already done).
 */
import { Pool, errors as undiciErrors, type Dispatcher } from 'undici';
import { Readable, Transform, type TransformCallback } from 'node:stream';
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
}

/** Graph's answer body, read either whole (small pages) or as a stream, never both from the start. */
export interface UpstreamBody {
  /**
   * Buffers the body until it ends (`done` with the bytes) or passes `limit` bytes (not done: continue
   * with `stream()`, which replays what was buffered). Null when Graph or the agent went away mid-body.
   */
  collect(limit: number): Promise<{ done: true; body: Buffer } | { done: false } | null>;
  /** The body from its first byte as a stream, with backpressure towards Graph; destroying it aborts the call. */
  stream(): Readable;
}

export type ForwardResult =
  | { ok: true; statusCode: number; headers: Record<string, string | string[] | undefined>; body: UpstreamBody }
  | { ok: false; code: ErrorCode; kind: 'connect' | 'timeout' | 'reset' | 'tls' | 'closed' | 'too-large' | 'aborted'; message: string };

/** One call in flight: its outcome once Graph's headers arrive, and a way to abandon it (the agent went away). */
export interface ForwardCall {
  readonly result: Promise<ForwardResult>;
  abort(): void;
}

export interface Forwarder {
  forward(req: ForwardRequest): ForwardCall;
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

type Collected = { done: true; body: Buffer } | { done: false } | null;

/**
 * One upstream call as an undici dispatch handler. Small answers are gathered straight from the parser's
 * chunks with no stream in between (most Graph pages are a few KB); a body that outgrows the caller's
 * limit, or one the caller wants streamed, becomes a Readable that replays the chunks gathered so far.
 * Aborting goes through undici's controller, so no AbortSignal is allocated per call.
 */
class UpstreamCall implements Dispatcher.DispatchHandler, ForwardCall, UpstreamBody {
  readonly result: Promise<ForwardResult>;
  #settle!: (r: ForwardResult) => void;
  #controller: Dispatcher.DispatchController | undefined;
  #limiter: ByteLimit | undefined;
  #aborted = false;
  #started = false;
  #chunks: Buffer[] = [];
  #size = 0;
  #ended = false;
  #error: Error | undefined;
  #limit = 0;
  #waiter: ((c: Collected) => void) | undefined;
  #stream: Readable | undefined;

  constructor(limiter: ByteLimit | undefined) {
    this.#limiter = limiter;
    this.result = new Promise<ForwardResult>((resolve) => (this.#settle = resolve));
  }

  abort(): void {
    if (this.#aborted || this.#ended || this.#error) return;
    this.#aborted = true;
    // Before undici hands over its controller the call is still queued: onRequestStart aborts it then.
    this.#controller?.abort(new undiciErrors.RequestAbortedError());
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#aborted) controller.abort(new undiciErrors.RequestAbortedError());
  }

  onResponseStart(_c: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    this.#started = true;
    this.#settle({ ok: true, statusCode, headers, body: this });
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#stream) {
      if (!this.#stream.push(chunk)) controller.pause();
      return;
    }
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    if (this.#waiter && this.#size > this.#limit) {
      // Past the caller's limit: stop reading until it asks for the stream.
      controller.pause();
      this.#wake({ done: false });
    }
  }

  onResponseEnd(): void {
    this.#ended = true;
    if (this.#stream) this.#stream.push(null);
    else if (this.#waiter) this.#wake({ done: true, body: this.#whole() });
  }

  onResponseError(_c: Dispatcher.DispatchController | undefined, err: Error): void {
    this.#error = err;
    this.#limiter?.destroy();
    if (!this.#started) {
      this.#settle(classifyUpstreamError(err));
      return;
    }
    if (this.#stream) this.#stream.destroy(err);
    else this.#wake(null);
  }

  collect(limit: number): Promise<Collected> {
    if (this.#error) return Promise.resolve(null);
    if (this.#ended) return Promise.resolve({ done: true, body: this.#whole() });
    if (this.#size > limit) {
      this.#controller?.pause();
      return Promise.resolve({ done: false });
    }
    this.#limit = limit;
    return new Promise<Collected>((resolve) => (this.#waiter = resolve));
  }

  stream(): Readable {
    if (this.#stream) return this.#stream;
    const s = new Readable({
      read: () => this.#controller?.resume(),
      destroy: (err, cb) => {
        // The reader gave up (the agent went away): stop Graph's side too and free the connection.
        if (!this.#ended && !this.#error) this.abort();
        cb(err);
      },
    });
    this.#stream = s;
    for (const c of this.#chunks) s.push(c);
    this.#chunks = [];
    if (this.#error) s.destroy(this.#error);
    else if (this.#ended) s.push(null);
    return s;
  }

  #whole(): Buffer {
    const body = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks, this.#size);
    this.#chunks = [];
    return body;
  }

  #wake(c: Collected): void {
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.(c);
  }
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

  function forward(req: ForwardRequest): ForwardCall {
    let body: Dispatcher.DispatchOptions['body'] = null;
    let limiter: ByteLimit | undefined;
    const headers = upstreamRequestHeaders(req.headers);
    if (Buffer.isBuffer(req.body)) {
      body = req.body.length > 0 ? req.body : null;
      headers['content-length'] = String(req.body.length);
    } else if (req.body) {
      limiter = new ByteLimit(req.maxBodyBytes);
      req.body.on('error', (e) => limiter?.destroy(e));
      body = req.body.pipe(limiter);
    }
    const call = new UpstreamCall(limiter);
    // dispatch() reports its own failures (closed pool, bad options) through onResponseError.
    pool.dispatch({ method: req.method as Dispatcher.HttpMethod, path: req.target, headers, body }, call);
    return call;
  }

  return {
    forward,
    upstreamOrigin: origin,
    async close() {
      await pool.close();
    },
  };
}
