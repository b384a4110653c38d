/**
 * Which headers cross the proxy. Owns hop-by-hop stripping (RFC 9110 §7.6.1) and the
 * few Graph-specific rules; does not decide anything about the call.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Headers never forwarded to Graph, beyond hop-by-hop ones. */
const DROP_TO_UPSTREAM = new Set([
  'host',
  // Graph ignores X-HTTP-Method-Override (graph-facts Addendum); drop it so nothing
  // downstream can act on a method other than the one graphwarden classified.
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
  // Always asked as identity so paging links can be rewritten (see forward/index.ts).
  'accept-encoding',
  'expect',
]);

const NONE: ReadonlySet<string> = new Set();

function connectionListed(headers: IncomingHttpHeaders | Record<string, unknown>): ReadonlySet<string> {
  const c = headers['connection'];
  // Usually absent or just keep-alive/close (themselves hop-by-hop): no set to build on the hot path.
  if (c === undefined || c === 'keep-alive' || c === 'close') return NONE;
  const listed = new Set<string>();
  for (const v of Array.isArray(c) ? c : typeof c === 'string' ? [c] : []) {
    for (const t of v.split(',')) {
      const name = t.trim().toLowerCase();
      if (name) listed.add(name);
    }
  }
  return listed;
}

/** Request headers to send upstream: the agent's own, less hop-by-hop and proxy-local ones. */
export function upstreamRequestHeaders(incoming: IncomingHttpHeaders): Record<string, string | string[]> {
  const listed = connectionListed(incoming);
  const out: Record<string, string | string[]> = {};
  for (const name of Object.keys(incoming)) {
    const value = incoming[name];
    if (value === undefined) continue;
    if (HOP_BY_HOP.has(name) || DROP_TO_UPSTREAM.has(name) || listed.has(name)) continue;
    out[name] = value;
  }
  out['accept-encoding'] = 'identity';
  return out;
}

/** Response headers to send the agent: Graph's own, less hop-by-hop ones. */
export function downstreamResponseHeaders(upstream: Record<string, string | string[] | undefined>): OutgoingHttpHeaders {
  const listed = connectionListed(upstream);
  const out: OutgoingHttpHeaders = {};
  for (const name of Object.keys(upstream)) {
    const value = upstream[name];
    if (value === undefined) continue;
    const n = name.toLowerCase();
    if (HOP_BY_HOP.has(n) || listed.has(n)) continue;
    out[n] = value;
  }
  return out;
}
