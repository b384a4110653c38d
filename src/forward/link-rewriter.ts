/**
 * Keeps paging inside the proxy: rewrites the origin of `@odata.nextLink` and
 * `@odata.deltaLink` values (including nested `members@odata.nextLink`) from Graph's
 * origin to graphwarden's, streaming, without buffering whole bodies. An agent that
 * follows a next link therefore comes back through enforcement.
 */
import { Transform, type TransformCallback } from 'node:stream';

// Graph emits compact JSON; allow some whitespace in case a proxy in between pretty-prints.
const KEY = /@odata\.(?:nextLink|deltaLink)"\s{0,16}:\s{0,16}"/g;
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

const MARKER = Buffer.from('@odata.');

/**
 * Rewrites a whole (small) body in one go; returns the same buffer when it has no paging link.
 * The proxy uses it for responses of known, small length so they go out in one write.
 */
export function rewriteLinksInBuffer(body: Buffer, opts: LinkRewriteOptions): Buffer {
  if (body.indexOf(MARKER) === -1) return body;
  const rw = new LinkRewriter(opts);
  return Buffer.from(rw.rewriteAll(body.toString('latin1')), 'latin1');
}

/**
 * Works on latin1 strings so each byte maps to one char and multi-byte UTF-8 passes
 * through unchanged; the patterns and origins are ASCII.
 */
export class LinkRewriter extends Transform {
  readonly #from: string[];
  readonly #to: string;
  readonly #maxOrigin: number;
  #carry = '';

  constructor(opts: LinkRewriteOptions) {
    super();
    this.#from = opts.from.map((o) => o.toLowerCase());
    this.#to = opts.to;
    this.#maxOrigin = Math.max(...opts.from.map((o) => o.length)) + 1;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    const out = this.#process(this.#carry + chunk.toString('latin1'), false);
    if (out) this.push(Buffer.from(out, 'latin1'));
    cb();
  }

  /** The whole text at once (no chunk boundaries to carry across). */
  rewriteAll(text: string): string {
    return this.#process(text, true);
  }

  override _flush(cb: TransformCallback): void {
    const out = this.#process(this.#carry, true);
    this.#carry = '';
    if (out) this.push(Buffer.from(out, 'latin1'));
    cb();
  }

  #process(text: string, final: boolean): string {
    let out = '';
    let pos = 0;
    KEY.lastIndex = 0;
    for (;;) {
      const m = KEY.exec(text);
      if (!m) break;
      const valueStart = m.index + m[0].length;
      if (!final && text.length - valueStart < this.#maxOrigin) {
        // Not enough of the value yet to compare origins: keep from the key on.
        this.#carry = text.slice(m.index);
        return out + text.slice(pos, m.index);
      }
      out += text.slice(pos, valueStart);
      pos = valueStart;
      const head = text.slice(valueStart, valueStart + this.#maxOrigin).toLowerCase();
      for (const o of this.#from) {
        const next = head[o.length];
        if (head.startsWith(o) && (next === '/' || next === '?' || next === '"')) {
          out += this.#to;
          pos = valueStart + o.length;
          break;
        }
      }
      KEY.lastIndex = pos;
    }
    if (final) {
      this.#carry = '';
      return out + text.slice(pos);
    }
    // Hold back a tail that could be the start of a key split across chunks.
    const keep = Math.max(pos, text.length - LONGEST_KEY);
    this.#carry = text.slice(keep);
    return out + text.slice(pos, keep);
  }
}
