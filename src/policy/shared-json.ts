/**
 * Serialisation of decision facts with shared parts: values many decisions share are frozen once and
 * their JSON text remembered, so each decision's facts are serialised without redoing those parts.
 * Canonical JSON and digests live in ../canonical.ts.
 */
import { deepFreeze } from '../canonical.js';

// Parts of decision facts that many decisions share (a token's facts, an operation's permission list, a
// directory snapshot's id): frozen once and serialised once. The text stays valid because the value can
// no longer change; a caller that tried to change a shared part fails loudly (strict mode TypeError).
const sharedText = new WeakMap<object, string>();

/** Deep-freezes a JSON value (plain objects, arrays, strings, numbers, booleans, null) and remembers its JSON text. */
export function shareJson<T extends object>(value: T): T {
  deepFreeze(value);
  sharedText.set(value, JSON.stringify(value));
  return value;
}

/** The value was shared with `shareJson`: deep-frozen, so anything derived from it alone stays right. */
export function isShared(value: object): boolean {
  return sharedText.has(value);
}

// Quoted text of strings that recur from call to call (member names, effects, reason codes, rule ids, the
// rules revision): JSON.stringify made a fresh string each time. Bounded: cleared when full.
const quotedText = new Map<string, string>();

/** `JSON.stringify(value)`, with the text of strings remembered (anything else, e.g. a value read back from a record, is not). */
export function quotedJson(value: string): string {
  if (typeof value !== 'string') return JSON.stringify(value);
  let t = quotedText.get(value);
  if (t === undefined) {
    t = JSON.stringify(value);
    if (quotedText.size >= 1024) quotedText.clear();
    quotedText.set(value, t);
  }
  return t;
}

/**
 * `JSON.stringify(value)` for plain JSON data, byte for byte, reusing the remembered text of shared parts
 * (`shareJson`) found in objects and arrays down to `depth` levels. Member order is the objects' own, as
 * JSON.stringify has it; `undefined` members are left out and `undefined` array items written as null, as
 * it does.
 */
export function jsonWithShared(value: unknown, depth: number): string {
  if (value !== null && typeof value === 'object') {
    const known = sharedText.get(value);
    if (known !== undefined) return known;
    if (depth > 0) {
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) out += `${i > 0 ? ',' : ''}${jsonWithShared(value[i], depth - 1)}`;
        return `${out}]`;
      }
      const obj = value as Record<string, unknown>;
      let out = '{';
      for (const key of Object.keys(obj)) {
        const v = obj[key];
        if (v === undefined) continue;
        out += `${out.length > 1 ? ',' : ''}${quotedJson(key)}:${jsonWithShared(v, depth - 1)}`;
      }
      return `${out}}`;
    }
  }
  return JSON.stringify(value) ?? 'null';
}
