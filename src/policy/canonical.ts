/**
 * Canonical JSON (sorted keys, no whitespace) and sha256 helpers shared by policy, decision and audit.
 * Owns the byte form that revisions, fact digests and audit hashes are computed over; nothing else.
 */
import { hash } from 'node:crypto';

/** JSON with object keys sorted recursively; `undefined` members are dropped as JSON.stringify does. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    const s = JSON.stringify(value);
    return s === undefined ? 'null' : s;
  }
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
}

// One-shot `crypto.hash` (Node >= 20.12): same digest as createHash().update().digest(), without a Hash
// object per call; the request path takes two of these per decision (facts digest, record hash).
export function sha256Hex(text: string): string {
  return hash('sha256', text, 'hex');
}
