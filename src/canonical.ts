/**
 * The byte forms and immutability every module that hashes or shares data relies on: canonical JSON
 * (sorted keys, no whitespace), SHA-256 hex digests of text, and deep freezing. Nothing else.
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
// object per call; the request path takes several per call (token cache key, facts digest, record hash).
export function sha256Hex(text: string): string {
  return hash('sha256', text, 'hex');
}

/** Freezes a value and everything reachable through its own members; already frozen parts are left as they are. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
