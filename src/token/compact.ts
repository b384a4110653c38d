/**
 * Bearer extraction and untrusted decoding of a JWS compact token, plus the Graph `nonce`
 * transform. Pure string work; does not verify signatures or claims (index.ts does).
 */
import { createHash } from 'node:crypto';

/** Entra access tokens are a few KB (large ones carry many `wids`/`groups`); anything far beyond is refused unread. */
export const MAX_TOKEN_CHARS = 16 * 1024;
/** Entra headers hold typ, nonce, alg, x5t, kid: a few hundred characters. */
export const MAX_HEADER_CHARS = 2048;

export type BearerResult = { ok: true; token: string } | { ok: false; code: 'GW_ERR_TOKEN_MISSING' | 'GW_ERR_TOKEN_MALFORMED' };

// Three base64url segments; the signature may be empty (`alg: none`) so that case is reported as
// a signature failure rather than a parse failure.
const COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** Accepts exactly `Bearer <token>` (scheme case-insensitive, RFC 6750 §2.1); anything else is refused. */
export function extractBearer(authorization: string | undefined): BearerResult {
  const bearer = bearerValue(authorization);
  if (bearer.ok && !isCompact(bearer.token)) return { ok: false, code: 'GW_ERR_TOKEN_MALFORMED' };
  return bearer;
}

/** A token of JWS compact shape. Checked once per distinct token: a cached token passed it already. */
export function isCompact(token: string): boolean {
  return COMPACT.test(token);
}

/** `extractBearer` without the shape check (see isCompact): the scheme, and a bounded single value. */
export function bearerValue(authorization: string | undefined): BearerResult {
  if (authorization === undefined) return { ok: false, code: 'GW_ERR_TOKEN_MISSING' };
  const value = authorization.trim();
  if (value.length === 0) return { ok: false, code: 'GW_ERR_TOKEN_MISSING' };
  const space = value.indexOf(' ');
  const scheme = space === -1 ? value : value.slice(0, space);
  if (scheme.toLowerCase() !== 'bearer') return { ok: false, code: 'GW_ERR_TOKEN_MISSING' };
  const token = space === -1 ? '' : value.slice(space + 1);
  if (token.length === 0) return { ok: false, code: 'GW_ERR_TOKEN_MISSING' };
  // One token only: a second credential (`Bearer a, Bearer b`, `Bearer a b`) is ambiguous.
  if (token.length > MAX_TOKEN_CHARS || token.includes(' ')) return { ok: false, code: 'GW_ERR_TOKEN_MALFORMED' };
  return { ok: true, token };
}

/**
 * The Authorization value to verify, from Node's `req.rawHeaders`. Node keeps only the first of
 * duplicated Authorization headers in `req.headers`, while a forwarder copying raw headers would
 * send both and Graph might act on the other one. Joining them (`a, b`) makes `extractBearer`
 * refuse the request as malformed instead.
 */
export function authorizationFromRawHeaders(rawHeaders: readonly string[]): string | undefined {
  const values: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    // Length first: most header names are not 13 characters, so few are lower-cased at all.
    if (name.length === 13 && name.toLowerCase() === 'authorization') values.push(rawHeaders[i + 1]!);
  }
  return values.length === 0 ? undefined : values.join(', ');
}

export interface DecodedToken {
  /** The three compact segments, as received. */
  headerB64: string;
  payloadB64: string;
  signatureB64: string;
  /** The decoded header JSON text, kept verbatim for the nonce transform. */
  headerText: string;
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
}

function decodeSegment(segment: string): string | undefined {
  const buf = Buffer.from(segment, 'base64url');
  // Node's decoder skips junk silently; a segment that does not round-trip is not canonical base64url.
  if (buf.toString('base64url') !== segment) return undefined;
  const text = buf.toString('utf8');
  // Invalid UTF-8 decodes to U+FFFD; treat it as malformed rather than guess.
  if (text.includes('\uFFFD')) return undefined;
  return text;
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Decodes header and payload without trusting them: used only to pick tenant and key before verification. */
export function decodeCompact(token: string): DecodedToken | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  const [headerB64, payloadB64, signatureB64] = parts as [string, string, string];
  if (headerB64.length > MAX_HEADER_CHARS) return undefined;
  const headerText = decodeSegment(headerB64);
  const payloadText = decodeSegment(payloadB64);
  if (headerText === undefined || payloadText === undefined) return undefined;
  // The signature too must be canonical: otherwise several strings would carry one valid signature.
  if (Buffer.from(signatureB64, 'base64url').toString('base64url') !== signatureB64) return undefined;
  const header = parseObject(headerText);
  const payload = parseObject(payloadText);
  if (!header || !payload) return undefined;
  return { headerB64, payloadB64, signatureB64, headerText, header, payload };
}

/** base64url(SHA-256(UTF-8 nonce)): the value Entra signs in place of the Graph header nonce (graph-facts §3.2). */
export function hashNonce(nonce: string): string {
  return createHash('sha256').update(nonce, 'utf8').digest('base64url');
}

/**
 * The compact token whose signature Entra actually produced for a Graph token carrying a header
 * `nonce`: the header text with the nonce value replaced by its hash. The replacement is done on
 * the decoded text (not by re-serialising) so key order and spacing stay byte-identical.
 * Returns undefined when the nonce value cannot be located exactly once.
 */
export function transformNonce(decoded: DecodedToken, nonce: string): string | undefined {
  const literal = JSON.stringify(nonce);
  const pattern = new RegExp(`("nonce"\\s*:\\s*)${escapeRegExp(literal)}`, 'g');
  const matches = decoded.headerText.match(pattern);
  if (!matches || matches.length !== 1) return undefined;
  const replaced = decoded.headerText.replace(pattern, (_m, prefix: string) => `${prefix}${JSON.stringify(hashNonce(nonce))}`);
  const headerB64 = Buffer.from(replaced, 'utf8').toString('base64url');
  return `${headerB64}.${decoded.payloadB64}.${decoded.signatureB64}`;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

