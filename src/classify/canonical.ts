/**
 * Canonicalisation of a Graph request target: version, tenant segment, path tokens, query options.
 * Owns every rejection of ambiguous URL forms (encoded slash, dot segments, double encoding, control
 * characters, overlong URLs); does not know the permission map (see map.ts) or targets (target.ts). Pure.
 */
import type { GraphVersion } from './operation.js';

/** One path position after canonicalisation. */
export type PathToken =
  /** A plain segment: an entity set, navigation, function or cast name, or an id written `/id`. */
  | { kind: 'name'; text: string; key: string }
  /** An OData key written in parentheses: `users('x')`, `users(x)` → name `users`, then this value. */
  | { kind: 'value'; text: string }
  /** A segment with named parameters: alternate keys `applications(appId='x')`, functions `range(address='A1')`. */
  | { kind: 'call'; text: string; name: string; key: string; args: Array<[string, string]> }
  /** A drive item path between colons: `root:/folder/file.txt:` → `root`, then this. */
  | { kind: 'colon'; text: string };

export interface CanonicalTarget {
  version: GraphVersion;
  tenantSegment?: string;
  tokens: PathToken[];
  /** Query options; system options (`$select`, `select`, `%24select`) normalised to `$select`. */
  query: Record<string, string>;
}

export type CanonicalResult =
  | { ok: true; value: CanonicalTarget }
  | {
      ok: false;
      code: 'GW_ERR_REQUEST_INVALID' | 'GW_ERR_REQUEST_URI_TOO_LONG' | 'GW_ERR_NOT_FOUND';
      message: string;
      /** In a `$batch` item: the whole batch is refused, not only the item. */
      batchFatal?: boolean;
    };

/** OData system query options (concepts/query-parameters.md); on beta, and for some v1.0 APIs, the `$` is optional. */
const SYSTEM_OPTIONS = new Set([
  'select', 'expand', 'filter', 'top', 'skip', 'count', 'orderby', 'search', 'format', 'skiptoken',
  'deltatoken', 'id', 'apply', 'levels', 'compute', 'index', 'schemaversion',
]);

/** Query options whose value decides what data comes back; double-encoding them is refused. */
const STRICT_VALUE_OPTIONS = new Set(['$select', '$expand', '$id']);

const MAX_SEGMENTS = 64;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DOMAIN = /^[a-z0-9-]+(\.[a-z0-9-]+)+$/i;

function invalid(message: string): CanonicalResult {
  return { ok: false, code: 'GW_ERR_REQUEST_INVALID', message };
}

/** True for C0 controls and DEL: never legitimate in a Graph URL once decoded. */
function hasControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

/**
 * Decodes one path segment exactly once. Refuses `%2F`/`%5C` (Graph routes an encoded slash as a
 * separator: docs-contrib#4470), any `%25` (a second decode would change the path), malformed escapes,
 * raw backslashes and control characters.
 */
function decodeSegment(raw: string): string | { error: string } {
  let hasPct = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 0x5c) return { error: 'backslash in path' };
    if (c === 0x25) {
      hasPct = true;
      const a = raw.charCodeAt(i + 1);
      const b = raw.charCodeAt(i + 2);
      if (!isHex(a) || !isHex(b)) return { error: 'malformed percent-encoding in path' };
      const byte = parseInt(raw.slice(i + 1, i + 3), 16);
      if (byte === 0x2f || byte === 0x5c) return { error: 'encoded slash or backslash in path' };
      if (byte === 0x25) return { error: 'double percent-encoding in path' };
      // An encoded `?` would end the path for anyone who decodes before splitting off the query.
      if (byte === 0x3f) return { error: 'encoded question mark in path' };
      i += 2;
    }
  }
  let out = raw;
  if (hasPct) {
    try {
      out = decodeURIComponent(raw);
    } catch {
      return { error: 'percent-encoding is not valid UTF-8' };
    }
  }
  if (hasControl(out)) return { error: 'control character in path' };
  if (out === '.' || out === '..') return { error: 'dot segment in path' };
  return out;
}

function decodeQueryPart(raw: string): string | null {
  for (let i = 0; i < raw.length; i++) {
    if (raw.charCodeAt(i) === 0x25 && (!isHex(raw.charCodeAt(i + 1)) || !isHex(raw.charCodeAt(i + 2)))) return null;
  }
  try {
    const out = raw.indexOf('%') === -1 ? raw : decodeURIComponent(raw);
    return hasControl(out) ? null : out;
  } catch {
    return null;
  }
}

/**
 * Parses `name(args)`: `('v')`/`(v)` is a key, `(k='v',k2=v2)` named parameters, `()` nothing.
 * Quoted values double `'` to escape it (OData). Returns null when malformed.
 */
export function parseCall(seg: string): { name: string; key: string | null; args: Array<[string, string]> } | null {
  const open = seg.indexOf('(');
  if (open < 0 || seg.charCodeAt(seg.length - 1) !== 0x29) return null;
  const name = seg.slice(0, open);
  const inner = seg.slice(open + 1, -1);
  const args: Array<[string, string]> = [];
  let i = 0;
  const n = inner.length;
  const skipWs = (): void => {
    while (i < n && inner[i] === ' ') i++;
  };
  const readValue = (): string | null => {
    skipWs();
    if (inner[i] === "'") {
      let v = '';
      i++;
      for (;;) {
        if (i >= n) return null;
        const ch = inner[i]!;
        if (ch === "'") {
          if (inner[i + 1] === "'") {
            v += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        v += ch;
        i++;
      }
      skipWs();
      return v;
    }
    const start = i;
    while (i < n && inner[i] !== ',' && inner[i] !== '=' && inner[i] !== "'" && inner[i] !== '(' && inner[i] !== ')') i++;
    return inner.slice(start, i).trim();
  };
  skipWs();
  if (i === n) return { name, key: null, args };
  // One positional key: `('x')` or `(x)`.
  const save = i;
  const first = readValue();
  if (first === null) return null;
  if (i === n) return first === '' ? null : { name, key: first, args };
  if (inner[i] !== '=') return null;
  i = save;
  while (i < n) {
    skipWs();
    const ks = i;
    while (i < n && /[A-Za-z0-9_.@-]/.test(inner[i]!)) i++;
    const k = inner.slice(ks, i);
    skipWs();
    if (!k || inner[i] !== '=') return null;
    i++;
    const v = readValue();
    if (v === null) return null;
    args.push([k, v]);
    if (i === n) break;
    if (inner[i] !== ',') return null;
    i++;
    if (i === n) return null;
  }
  return args.length ? { name, key: null, args } : null;
}

/** Lower-cased parameter names, sorted: the trie key of a call segment (`applications(appid)`). */
export function callKey(name: string, argNames: string[]): string {
  return `${name.toLowerCase()}(${argNames.map((a) => a.toLowerCase()).sort().join(',')})`;
}

function segmentTokens(seg: string, out: PathToken[]): string | null {
  if (seg.indexOf('(') >= 0) {
    const call = parseCall(seg);
    if (!call || !call.name) return `cannot parse key or parameters in segment '${seg}'`;
    if (call.key !== null) {
      out.push({ kind: 'name', text: call.name, key: call.name.toLowerCase() }, { kind: 'value', text: call.key });
    } else if (call.args.length === 0) {
      out.push({ kind: 'name', text: call.name, key: call.name.toLowerCase() });
    } else {
      const names = call.args.map((a) => a[0].toLowerCase());
      if (new Set(names).size !== names.length) return `repeated parameter in segment '${seg}'`;
      out.push({ kind: 'call', text: seg, name: call.name, key: callKey(call.name, names), args: call.args });
    }
    return null;
  }
  if (seg.indexOf(')') >= 0) return `unbalanced parenthesis in segment '${seg}'`;
  out.push({ kind: 'name', text: seg, key: seg.toLowerCase() });
  return null;
}

export interface CanonicalizeOptions {
  maxUrlLength: number;
  /** For `$batch` items: the version of the enclosing batch; the url is relative to the version root. */
  batchVersion?: GraphVersion;
}

/** Canonicalises a raw request target (`/v1.0/...?...`) or, with `batchVersion`, a `$batch` item url. */
export function canonicalize(rawUrl: string, opts: CanonicalizeOptions): CanonicalResult {
  if (rawUrl.length > opts.maxUrlLength) {
    return { ok: false, code: 'GW_ERR_REQUEST_URI_TOO_LONG', message: `URL longer than ${opts.maxUrlLength} characters` };
  }
  if (rawUrl.indexOf('#') >= 0) return invalid('fragment in request target');
  const q = rawUrl.indexOf('?');
  let rawPath = q < 0 ? rawUrl : rawUrl.slice(0, q);
  const rawQuery = q < 0 ? '' : rawUrl.slice(q + 1);
  if (opts.batchVersion && rawUrl.trim() !== rawUrl) return invalid('leading or trailing whitespace in $batch item url');
  if (opts.batchVersion) {
    // Batch item urls are relative to the version root; the leading slash is optional (json-batching.md).
    if (/^[a-z][a-z0-9+.-]*:/i.test(rawPath) || rawPath.startsWith('//')) return { ok: false, code: 'GW_ERR_REQUEST_INVALID', message: 'absolute URL in $batch item', batchFatal: true };
    if (!rawPath.startsWith('/')) rawPath = '/' + rawPath;
  } else if (!rawPath.startsWith('/')) {
    return invalid('request target must be an absolute path');
  }
  if (rawPath === '/' && !opts.batchVersion) return { ok: false, code: 'GW_ERR_NOT_FOUND', message: 'path is not under a Graph API version (/v1.0 or /beta)' };
  const rawSegs = rawPath.slice(1).split('/');
  if (rawSegs.length > 1 && rawSegs[rawSegs.length - 1] === '') rawSegs.pop();
  if (rawSegs.length > MAX_SEGMENTS) return invalid(`more than ${MAX_SEGMENTS} path segments`);
  const segs: string[] = [];
  for (const raw of rawSegs) {
    if (raw === '') return invalid('empty path segment');
    const d = decodeSegment(raw);
    if (typeof d !== 'string') return invalid(d.error);
    segs.push(d);
  }
  let version: GraphVersion;
  let start = 0;
  const first = segs[0]?.toLowerCase();
  if (opts.batchVersion) {
    version = opts.batchVersion;
    // Graph fails item urls that repeat the version ("Resource not found for the segment 'v1.0'").
    if (first === 'v1.0' || first === 'beta') return { ok: false, code: 'GW_ERR_REQUEST_INVALID', message: 'item url must be relative to the version root (no /v1.0 or /beta)', batchFatal: true };
  } else {
    if (first === 'v1.0') version = 'v1.0';
    else if (first === 'beta') version = 'beta';
    else return { ok: false, code: 'GW_ERR_NOT_FOUND', message: 'path is not under a Graph API version (/v1.0 or /beta)' };
    start = 1;
  }
  let tenantSegment: string | undefined;
  const t = segs[start];
  // A tenant segment after the version addresses the same resources (Azure AD Graph migration guidance).
  if (t !== undefined && segs.length > start + 1 && (t.toLowerCase() === 'myorganization' || GUID.test(t) || (DOMAIN.test(t) && !t.toLowerCase().startsWith('microsoft.')))) {
    tenantSegment = t;
    start++;
  }
  const tokens: PathToken[] = [];
  for (let i = start; i < segs.length; i++) {
    const seg = segs[i]!;
    if (seg.length > 1 && seg.endsWith(':') && seg.indexOf('(') < 0) {
      // Drive item path syntax `root:/path/to/item:` (the closing colon is optional at the end).
      const err = segmentTokens(seg.slice(0, -1), tokens);
      if (err) return invalid(err);
      const parts: string[] = [];
      let closed = false;
      for (i = i + 1; i < segs.length; i++) {
        const p = segs[i]!;
        if (p.endsWith(':')) {
          parts.push(p.slice(0, -1));
          closed = true;
          break;
        }
        parts.push(p);
      }
      const text = parts.join('/');
      if (!text || (closed && parts[parts.length - 1] === '')) return invalid('empty drive item path');
      tokens.push({ kind: 'colon', text });
      continue;
    }
    const err = segmentTokens(seg, tokens);
    if (err) return invalid(err);
  }
  // Null prototype: option names come from the client (`__proto__` must stay a plain key).
  const query = Object.create(null) as Record<string, string>;
  if (rawQuery) {
    for (const part of rawQuery.split('&')) {
      if (!part) continue;
      const eq = part.indexOf('=');
      const name = decodeQueryPart(eq < 0 ? part : part.slice(0, eq));
      const value = decodeQueryPart(eq < 0 ? '' : part.slice(eq + 1));
      if (name === null || value === null) return invalid('malformed query string');
      if (name.indexOf('%') >= 0) return invalid('double percent-encoding in query option name');
      const lower = name.toLowerCase();
      const bare = lower.startsWith('$') ? lower.slice(1) : lower;
      const norm = SYSTEM_OPTIONS.has(bare) ? '$' + bare : name;
      if (Object.hasOwn(query, norm)) return invalid(`query option '${norm}' given more than once`);
      if (STRICT_VALUE_OPTIONS.has(norm) && value.indexOf('%') >= 0) return invalid(`double percent-encoding in ${norm}`);
      query[norm] = value;
    }
  }
  return { ok: true, value: { version, ...(tenantSegment !== undefined ? { tenantSegment } : {}), tokens, query } };
}
