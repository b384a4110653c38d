/**
 * The request path: authenticate → inspect (classify, decide, hold) → forward → stream
 * the answer back with paging links pointing at graphwarden. Owns the order of stages
 * and turning each verdict into a response; the stages themselves live in their modules.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import zlib from 'node:zlib';
import { performance } from 'node:perf_hooks';
import type { Readable, Transform } from 'node:stream';
import type { ErrorCode } from '../errors.js';
import type { Principal } from '../identity/principal.js';
import type { ForwardCall, Forwarder } from '../forward/index.js';
import { downstreamResponseHeaders } from '../forward/headers.js';
import { LinkRewriter, rewriteLinksInBuffer, rewriteUrl } from '../forward/link-rewriter.js';
import type { Metrics } from '../metrics/index.js';
import { statusClass } from '../metrics/index.js';
import type { Logger } from '../log.js';
import { sendError, sendJson, type LocalReplyContext } from './respond.js';
import { authorizationFromRawHeaders } from '../token/index.js';

export type AuthOutcome =
  | { ok: true; principal: Principal; tokenDigest: string; claimsDigest: string; cached: boolean }
  | { ok: false; code: ErrorCode; message: string };

export interface InspectInput {
  requestId: string;
  method: string;
  target: string;
  headers: IncomingMessage['headers'];
  principal: Principal;
  tokenDigest: string;
  claimsDigest: string;
  /** Reads the whole body (bounded by maxBodyBytes); call only when a stage must see it. */
  readBody(): Promise<{ ok: true; body: Buffer } | { ok: false; code: ErrorCode; message: string }>;
  /** A signal aborted when the agent goes away (made on first call: most calls never need one). */
  abortSignal(): AbortSignal;
}

export type InspectVerdict =
  | {
      kind: 'forward';
      /** Set when the body was read (or replaced, e.g. a $batch with only allowed items). */
      body?: Buffer;
      /** Buffers and rewrites Graph's answer (e.g. merging local $batch item answers). */
      rewriteResponse?: (status: number, body: Buffer) => { status: number; body: Buffer };
      outcome?: string;
      decisionId?: string;
    }
  | { kind: 'reject'; code: ErrorCode; message: string; headers?: Record<string, string>; extra?: Record<string, unknown>; outcome: string }
  | { kind: 'respond'; status: number; body: unknown; outcome: string; headers?: Record<string, string> };

export interface ProxyDeps {
  /** `connection` identifies the client connection (the socket), so per-connection work can be reused. */
  authenticate(authorization: string | undefined, connection: object): Promise<AuthOutcome>;
  inspect?(input: InspectInput): Promise<InspectVerdict>;
  forwarder: Forwarder;
  metrics: Metrics;
  logger: Logger;
  now(): number;
  newId(): string;
  limits: { maxBodyBytes: number; maxUrlLength: number };
  publicUrl?: string;
  tlsEnabled: boolean;
  accessLog: boolean;
}

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const SAFE_CLIENT_REQUEST_ID = /^[\w.:-]{1,128}$/;
const GRAPH_ORIGIN = 'https://graph.microsoft.com';
/** Responses up to this size with a declared length are rewritten whole; larger ones stream. */
const SMALL_BODY_BYTES = 256 * 1024;

function hasBody(req: IncomingMessage): boolean {
  const cl = req.headers['content-length'];
  return (cl !== undefined && cl !== '0') || req.headers['transfer-encoding'] !== undefined;
}

async function readBounded(req: IncomingMessage, limit: number): Promise<{ ok: true; body: Buffer } | { ok: false; code: ErrorCode; message: string }> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) return { ok: false, code: 'GW_ERR_REQUEST_BODY_TOO_LARGE', message: `The request body is larger than ${limit} bytes.` };
      chunks.push(chunk);
    }
  } catch {
    return { ok: false, code: 'GW_ERR_REQUEST_TIMEOUT', message: 'The request body could not be read.' };
  }
  return { ok: true, body: Buffer.concat(chunks) };
}

type Coding = 'identity' | 'gzip' | 'deflate' | 'br';

/** The content-coding of a response, or undefined for one graphwarden cannot decode. */
function codingOf(encoding: string | undefined): Coding | undefined {
  const e = (encoding ?? 'identity').trim().toLowerCase();
  if (e === 'identity' || e === '') return 'identity';
  if (e === 'gzip' || e === 'x-gzip') return 'gzip';
  if (e === 'deflate' || e === 'br') return e;
  return undefined;
}

/** A streaming decoder: null for identity, undefined when the coding is unknown (cannot rewrite safely). */
function decoderFor(encoding: string | undefined): Transform | null | undefined {
  const c = codingOf(encoding);
  if (c === 'identity') return null;
  if (c === 'gzip') return zlib.createGunzip();
  if (c === 'deflate') return zlib.createInflate();
  if (c === 'br') return zlib.createBrotliDecompress();
  return undefined;
}

/** Decodes a whole body (callers refuse unknown codings first; one that slips through is returned as it is). Throws on corrupt data. */
function decodeWhole(raw: Buffer, encoding: string | undefined): Buffer {
  const c = codingOf(encoding);
  if (c === 'gzip') return zlib.gunzipSync(raw);
  if (c === 'deflate') return zlib.inflateSync(raw);
  if (c === 'br') return zlib.brotliDecompressSync(raw);
  return raw;
}

/** Sends a whole, already rewritten body with its length, in one write. */
function sendWhole(res: ServerResponse, status: number, headers: OutgoingHttpHeaders, body: Buffer): void {
  delete headers['content-encoding'];
  delete headers['transfer-encoding'];
  headers['content-length'] = String(body.length);
  res.writeHead(status, headers);
  res.end(body);
}

export function createProxyHandler(deps: ProxyDeps) {
  const { metrics, logger } = deps;
  const rewriteFrom = [...new Set([deps.forwarder.upstreamOrigin, GRAPH_ORIGIN])];

  function publicOrigin(req: IncomingMessage): string {
    if (deps.publicUrl) return deps.publicUrl.replace(/\/$/, '');
    return `${deps.tlsEnabled ? 'https' : 'http'}://${req.headers.host ?? 'localhost'}`;
  }

  return async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const requestId = deps.newId();
    const crid = req.headers['client-request-id'];
    const clientRequestId = typeof crid === 'string' && SAFE_CLIENT_REQUEST_ID.test(crid) ? crid : undefined;
    const ctx = (): LocalReplyContext => ({ requestId, clientRequestId, date: new Date(deps.now()) });
    const method = (req.method ?? 'GET').toUpperCase();
    const target = req.url ?? '/';
    // The agent going away stops whatever is pending: a held call (through the signal, created only if a
    // stage asks for it) and the upstream call (through undici's controller).
    let gone = false;
    let abort: AbortController | undefined;
    let upstream: ForwardCall | undefined;
    res.once('close', () => {
      if (res.writableFinished) return;
      gone = true;
      abort?.abort();
      upstream?.abort();
    });
    metrics.inFlight.inc();
    let outcome = 'rejected';
    let status = 500;
    let principal: Principal | undefined;
    let upstreamSeconds: number | undefined;
    let decisionId: string | undefined;

    const reject = (code: ErrorCode, message: string, opts: Parameters<typeof sendError>[4] = {}) => {
      // An unread body would be drained or stall keep-alive: close instead.
      status = sendError(res, code, message, ctx(), { ...opts, closeConnection: opts.closeConnection ?? (hasBody(req) && !req.readableEnded) });
    };

    // Graph or the agent went away mid-body, before anything was sent: cut the connection.
    const bodyFailed = () => {
      if (!gone) metrics.upstreamErrors.inc({ kind: 'body' });
      res.destroy();
    };

    try {
      if (!METHODS.has(method)) {
        reject('GW_ERR_REQUEST_INVALID', `The HTTP method ${method} is not supported by Microsoft Graph.`);
        return;
      }
      if (target.length > deps.limits.maxUrlLength) {
        reject('GW_ERR_REQUEST_URI_TOO_LONG', `The request URL is longer than ${deps.limits.maxUrlLength} characters.`);
        return;
      }
      // All Authorization headers, joined: duplicates make the token malformed, so the one
      // verified is always the one forwarded (Node would keep only the first in req.headers).
      const auth = await deps.authenticate(authorizationFromRawHeaders(req.rawHeaders), req.socket);
      if (!auth.ok) {
        metrics.tokenRejections.inc({ code: auth.code });
        reject(auth.code, auth.message, auth.code === 'GW_ERR_KEYS_UNAVAILABLE' ? { headers: { 'retry-after': '5' } } : {});
        return;
      }
      principal = auth.principal;
      const declared = Number(req.headers['content-length'] ?? 0);
      if (Number.isFinite(declared) && declared > deps.limits.maxBodyBytes) {
        reject('GW_ERR_REQUEST_BODY_TOO_LARGE', `The request body is larger than ${deps.limits.maxBodyBytes} bytes.`);
        return;
      }

      let bodyRead: Buffer | undefined;
      let verdict: InspectVerdict = { kind: 'forward' };
      if (deps.inspect) {
        verdict = await deps.inspect({
          requestId,
          method,
          target,
          headers: req.headers,
          principal,
          tokenDigest: auth.tokenDigest,
          claimsDigest: auth.claimsDigest,
          // A method, not a getter: with a getter here, each request's objects (req, res, buffers) lived
          // on into V8's old generation (measured: 25 times the bytes promoted and 5 times the pause of
          // each young-generation collection, about a third more CPU per call). V8 keeps an object
          // literal's getter closure in the object's hidden class, the likely path that kept them.
          abortSignal: () => {
            abort ??= new AbortController();
            if (gone) abort.abort();
            return abort.signal;
          },
          readBody: async () => {
            const r = await readBounded(req, deps.limits.maxBodyBytes);
            if (r.ok) bodyRead = r.body;
            return r;
          },
        });
      }
      if (verdict.kind === 'reject') {
        outcome = verdict.outcome;
        reject(verdict.code, verdict.message, { headers: verdict.headers, extra: verdict.extra });
        return;
      }
      if (verdict.kind === 'respond') {
        outcome = verdict.outcome;
        status = verdict.status;
        sendJson(res, verdict.status, verdict.body, {
          'request-id': requestId,
          'x-graphwarden-request-id': requestId,
          ...(clientRequestId ? { 'client-request-id': clientRequestId } : {}),
          ...(hasBody(req) && !req.readableEnded ? { connection: 'close' } : {}),
          ...verdict.headers,
        });
        return;
      }
      decisionId = verdict.decisionId;

      const body = verdict.body ?? bodyRead ?? (hasBody(req) ? req : null);
      const upStart = performance.now();
      if (gone) {
        outcome = 'client-gone';
        status = 499;
        return;
      }
      upstream = deps.forwarder.forward({ method, target, headers: req.headers, body, maxBodyBytes: deps.limits.maxBodyBytes });
      const result = await upstream.result;
      upstreamSeconds = (performance.now() - upStart) / 1e3;
      if (!result.ok) {
        if (result.kind === 'aborted' && gone) {
          outcome = 'client-gone';
          status = 499;
          return;
        }
        outcome = result.kind === 'too-large' ? 'rejected' : 'upstream-error';
        if (result.kind !== 'too-large') metrics.upstreamErrors.inc({ kind: result.kind });
        reject(result.code, result.message, { closeConnection: result.kind === 'too-large' });
        return;
      }
      metrics.upstreamDuration.observe({ status_class: statusClass(result.statusCode) }, upstreamSeconds);
      outcome = verdict.outcome ?? 'forwarded';
      status = result.statusCode;
      const headers = downstreamResponseHeaders(result.headers);
      headers['x-graphwarden-request-id'] = requestId;
      const origin = publicOrigin(req);
      for (const h of ['location', 'content-location'] as const) {
        const v = headers[h];
        if (typeof v === 'string') headers[h] = rewriteUrl(v, { from: rewriteFrom, to: origin });
      }

      if (verdict.rewriteResponse) {
        // Merging needs the plain bytes: an answer graphwarden cannot decode is refused, not passed on mislabelled.
        const encoding = headers['content-encoding'] as string | undefined;
        const invalid = () => {
          upstream?.abort();
          outcome = 'upstream-error';
          metrics.upstreamErrors.inc({ kind: 'encoding' });
          reject('GW_ERR_UPSTREAM_RESPONSE_INVALID', `Microsoft Graph's $batch answer is in a content-coding graphwarden cannot decode (${String(encoding).slice(0, 40)}).`);
        };
        if (codingOf(encoding) === undefined) {
          invalid();
          return;
        }
        const whole = await result.body.collect(Infinity);
        if (!whole?.done) {
          bodyFailed();
          return;
        }
        let plain: Buffer;
        try {
          plain = decodeWhole(whole.body, encoding);
        } catch {
          invalid();
          return;
        }
        const rewritten = verdict.rewriteResponse(result.statusCode, plain);
        status = rewritten.status;
        sendWhole(res, rewritten.status, headers, rewriteLinksInBuffer(rewritten.body, { from: rewriteFrom, to: origin }));
        return;
      }

      if (method === 'HEAD' || result.statusCode === 204 || result.statusCode === 304) {
        // No body by definition (RFC 9110 §9.3.2, §15.3.5, §15.4.5): Graph's headers go as they are,
        // without a content-length of graphwarden's making.
        res.writeHead(result.statusCode, headers);
        res.end();
        void result.body.collect(Infinity); // lets the call finish (and its connection go back to the pool)
        return;
      }

      const contentType = String(headers['content-type'] ?? '');
      const isJson = contentType.includes('json');
      const decoder = isJson ? decoderFor(headers['content-encoding'] as string | undefined) : null;
      if (isJson && decoder === null) {
        // Most Graph answers are small pages: read up to SMALL_BODY_BYTES, rewrite and send them in
        // one write with their length (cheaper than a streaming transform and chunked encoding).
        // Larger bodies continue as a stream that starts with what was read.
        const head = await result.body.collect(SMALL_BODY_BYTES);
        if (head === null) {
          bodyFailed();
          return;
        }
        if (head.done) {
          // Identity coding here, so sendWhole's removal of content-encoding changes nothing.
          sendWhole(res, result.statusCode, headers, rewriteLinksInBuffer(head.body, { from: rewriteFrom, to: origin }));
          return;
        }
      }
      const stages: Array<Readable | Transform> = [result.body.stream()];
      if (isJson && decoder !== undefined) {
        if (decoder) {
          stages.push(decoder);
          delete headers['content-encoding'];
        }
        stages.push(new LinkRewriter({ from: rewriteFrom, to: origin }));
        delete headers['content-length'];
      } else if (isJson) {
        logger.warn({ requestId, contentEncoding: headers['content-encoding'] }, 'JSON response in an unknown content-encoding: paging links not rewritten');
      }
      res.writeHead(result.statusCode, headers);
      // Plain pipe(): stream/promises.pipeline allocates an AbortSignal and error objects
      // per call, a measurable share of proxy CPU on small Graph responses.
      await pipeChain(stages, res, () => {
        // Graph or the agent went away mid-body: the client sees a truncated response, as with any proxy.
        if (!gone) metrics.upstreamErrors.inc({ kind: 'body' });
      });
    } catch (err) {
      outcome = 'error';
      logger.error({ requestId, err: err instanceof Error ? { message: err.message, stack: err.stack } : String(err) }, 'unexpected error on the request path');
      if (!res.headersSent) reject('GW_ERR_INTERNAL', 'graphwarden failed to handle the call; it was not forwarded.');
      else res.destroy();
    } finally {
      metrics.inFlight.dec();
      const seconds = (performance.now() - started) / 1e3;
      metrics.requests.inc({ method, status: String(status), outcome });
      metrics.requestDuration.observe({ outcome }, seconds);
      if (deps.accessLog) {
        logger.info(
          {
            requestId,
            clientRequestId,
            decisionId,
            method,
            path: target.split('?')[0],
            status,
            outcome,
            tenantId: principal?.tenantId,
            appId: principal?.appId,
            kind: principal?.kind,
            userId: principal?.userId,
            ms: Math.round(seconds * 1e4) / 10,
            upstreamMs: upstreamSeconds === undefined ? undefined : Math.round(upstreamSeconds * 1e4) / 10,
          },
          'call',
        );
      }
    }
  };
}

/** Pipes stages into the response; on any error destroys everything and reports once. Resolves when done. */
function pipeChain(stages: Array<Readable | Transform>, res: ServerResponse, onError: () => void): Promise<void> {
  return new Promise<void>((resolve) => {
    let failed = false;
    const fail = () => {
      if (failed) return;
      failed = true;
      onError();
      for (const s of stages) s.destroy();
      res.destroy();
      resolve();
    };
    let src: Readable = stages[0]!;
    src.on('error', fail);
    for (const s of stages.slice(1)) {
      s.on('error', fail);
      src = src.pipe(s as Transform);
    }
    src.pipe(res);
    res.on('error', fail);
    res.on('close', () => {
      if (!res.writableFinished) fail();
      else resolve();
    });
  });
}
