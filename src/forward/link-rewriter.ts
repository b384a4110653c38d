/**
 * Keeps paging inside the proxy: rewrites the origin of `@odata.nextLink` and
 * `@odata.deltaLink` values (including nested `members@odata.nextLink`) from Graph's
 * origin to graphwarden's, streaming, without buffering whole bodies. An agent that
 * follows a next link therefore comes back through enforcement.
 */
import { Transform, type TransformCallback } from 'node:stream';

// Graph emits compact JSON; allow some JSON whitespace (RFC 8259 §2) in case a proxy in between pretty-prints.
const KEY = /@odata\.(?:nextLink|deltaLink)"[ \t\r\n]{0,16}:[ \t\r\n]{0,16}"/g;
const LONGEST_KEY = '@odata.deltaLink"'.length + 16 + 1 + 16 + 1;

export interface LinkRewriteOptions {
  /** Origins to replace, e.g. the configured upstream and https://graph.microsoft.com. */
  from: readonly string[];
  /** The proxy's public origin. */
  to: string;
}

/** Rewrites a single absolute URL if it starts with one of the `from` origins (case-insensitive host). */
export function rewriteUrl(url: string, opts: LinkRewriteOptions): string {
  const lower = url.toLowerCase();
  for (const o of opts.from) {
    const ol = o.toLowerCase();
    if (lower.startsWith(ol) && (url.length === o.length || url[o.length] === '/' || url[o.length] === '?')) {
      return opts.to + url.slice(o.length);
    }
  }
  return url;
}

/** The origins prepared once: lower-cased, and how much of a value must be seen to compare them. */
interface Prepared {
  from: string[];
  to: string;
  maxOrigin: number;
}

function prepare(opts: LinkRewriteOptions): Prepared {
  return { from: opts.from.map((o) => o.toLowerCase()), to: opts.to, maxOrigin: Math.max(...opts.from.map((o) => o.length)) + 1 };
}

/**
 * Rewrites the links in `text` (latin1, so each byte is one char and multi-byte UTF-8 passes through
 * unchanged; patterns and origins are ASCII). Unless `final`, a tail that could be the start of a key
 * split across chunks is returned as `carry` for the next chunk.
 */
function rewriteText(text: string, p: Prepared, final: boolean): { out: string; carry: string } {
  let out = '';
  let pos = 0;
  KEY.lastIndex = 0;
  for (;;) {
    const m = KEY.exec(text);
    if (!m) break;
    const valueStart = m.index + m[0].length;
    if (!final && text.length - valueStart < p.maxOrigin) {
      // Not enough of the value yet to compare origins: keep from the key on.
      return { out: out + text.slice(pos, m.index), carry: text.slice(m.index) };
    }
    out += text.slice(pos, valueStart);
    pos = valueStart;
    const head = text.slice(valueStart, valueStart + p.maxOrigin).toLowerCase();
    for (const o of p.from) {
      const next = head[o.length];
      if (head.startsWith(o) && (next === '/' || next === '?' || next === '"')) {
        out += p.to;
        pos = valueStart + o.length;
        break;
      }
    }
    KEY.lastIndex = pos;
  }
  if (final) return { out: out + text.slice(pos), carry: '' };
  const keep = Math.max(pos, text.length - LONGEST_KEY);
  return { out: out + text.slice(pos, keep), carry: text.slice(keep) };
}

const LINK_END = Buffer.from('Link"');
const NEXT_KEY = Buffer.from('@odata.nextLink');
const DELTA_KEY = Buffer.from('@odata.deltaLink');
const MAX_WS = 16;
/** Lower-cased origins as bytes, per `from` list (the proxy passes the same array on every call). */
const originBytes = new WeakMap<readonly string[], Buffer[]>();

function keyEndsAt(body: Buffer, end: number, key: Buffer): boolean {
  const start = end - key.length;
  return start >= 0 && body.compare(key, 0, key.length, start, end) === 0;
}

/** Index after up to MAX_WS JSON whitespace bytes (space, tab, CR, LF) from `i`. */
function skipWs(body: Buffer, i: number): number {
  const stop = Math.min(body.length, i + MAX_WS);
  while (i < stop && (body[i] === 0x20 || body[i] === 0x09 || body[i] === 0x0d || body[i] === 0x0a)) i++;
  return i;
}

/** `origin` (lower-case ASCII) at `at`, compared case-insensitively, then a path, query or string end. */
function originAt(body: Buffer, at: number, origin: Buffer): boolean {
  if (at + origin.length >= body.length) return false;
  for (let k = 0; k < origin.length; k++) {
    let b = body[at + k]!;
    if (b >= 0x41 && b <= 0x5a) b += 0x20;
    if (b !== origin[k]) return false;
  }
  const next = body[at + origin.length];
  return next === 0x2f || next === 0x3f || next === 0x22; // '/', '?', '"'
}

/**
 * Rewrites a whole (small) body in one go, on the bytes (no decoding); returns the same buffer when it
 * has no paging link to rewrite. Matches exactly what the streaming form matches (`KEY` above).
 * The proxy uses it for small responses so they go out in one write.
 */
export function rewriteLinksInBuffer(body: Buffer, opts: LinkRewriteOptions): Buffer {
  let from = originBytes.get(opts.from);
  if (!from) {
    from = opts.from.map((o) => Buffer.from(o.toLowerCase(), 'latin1'));
    originBytes.set(opts.from, from);
  }
  let parts: Buffer[] | undefined;
  let pos = 0;
  for (let i = body.indexOf(LINK_END); i !== -1; i = body.indexOf(LINK_END, i + LINK_END.length)) {
    const keyEnd = i + 4; // just after `Link`
    if (!keyEndsAt(body, keyEnd, NEXT_KEY) && !keyEndsAt(body, keyEnd, DELTA_KEY)) continue;
    let j = skipWs(body, i + LINK_END.length);
    if (body[j] !== 0x3a) continue; // ':'
    j = skipWs(body, j + 1);
    if (body[j] !== 0x22) continue; // '"'
    j += 1;
    for (const o of from) {
      if (originAt(body, j, o)) {
        parts ??= [];
        parts.push(body.subarray(pos, j), Buffer.from(opts.to, 'latin1'));
        pos = j + o.length;
        break;
      }
    }
  }
  if (!parts) return body;
  parts.push(body.subarray(pos));
  return Buffer.concat(parts);
}

/** The streaming form, for bodies too large to hold. */
export class LinkRewriter extends Transform {
  readonly #p: Prepared;
  #carry = '';

  constructor(opts: LinkRewriteOptions) {
    super();
    this.#p = prepare(opts);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#emit(rewriteText(this.#carry + chunk.toString('latin1'), this.#p, false));
    cb();
  }

  override _flush(cb: TransformCallback): void {
    this.#emit(rewriteText(this.#carry, this.#p, true));
    cb();
  }

  #emit(r: { out: string; carry: string }): void {
    this.#carry = r.carry;
    if (r.out) this.push(Buffer.from(r.out, 'latin1'));
  }
}
