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

// Parts of decision facts that many decisions share (a token's facts, an operation's permission list, a
// directory snapshot's id): frozen once and serialised once. The text stays valid because the value can
// no longer change; a caller that tried to change a shared part fails loudly (strict mode TypeError).
const sharedText = new WeakMap<object, string>();

function deepFreeze(value: unknown): void {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return;
  for (const v of Object.values(value)) deepFreeze(v);
  Object.freeze(value);
}

/** Deep-freezes a JSON value (plain objects, arrays, strings, numbers, booleans, null) and remembers its JSON text. */
export function shareJson<T extends object>(value: T): T {
  deepFreeze(value);
  sharedText.set(value, JSON.stringify(value));
  return value;
}

/**
 * `JSON.stringify(value)` for plain JSON data, byte for byte, reusing the remembered text of shared parts
 * (`shareJson`) found in objects down to `depth` levels. Member order is the objects' own, as
 * JSON.stringify has it; `undefined` members are left out as it does.
 */
export function jsonWithShared(value: unknown, depth: number): string {
  if (value !== null && typeof value === 'object') {
    const known = sharedText.get(value);
    if (known !== undefined) return known;
    if (depth > 0 && !Array.isArray(value)) {
      const obj = value as Record<string, unknown>;
      let out = '{';
      for (const key of Object.keys(obj)) {
        const v = obj[key];
        if (v === undefined) continue;
        out += `${out.length > 1 ? ',' : ''}${JSON.stringify(key)}:${jsonWithShared(v, depth - 1)}`;
      }
      return `${out}}`;
    }
  }
  return JSON.stringify(value) ?? 'null';
}
