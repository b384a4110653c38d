/**
 * Deterministic identifiers and secrets for the emulator, derived from the seed with
 * HMAC-SHA256, plus index-addressable ids for lazily generated ("filler") objects.
 * Owns no state; does not decide what objects exist (directory.ts does).
 */
import { createHmac, randomBytes } from 'node:crypto';

function digest(seed: string, label: string): Buffer {
  return createHmac('sha256', seed).update(label).digest();
}

function formatGuid(hex: string): string {
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** A GUID (version-4 layout) derived from seed and label: same inputs, same id. */
export function deriveGuid(seed: string, label: string): string {
  const b = digest(seed, label).subarray(0, 16);
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  return formatGuid(b.toString('hex'));
}

/**
 * A client secret shaped like Entra's (40 chars, `~` in position 4 as real secrets
 * carry a 3-char hint then a separator), derived from seed and label.
 */
export function deriveSecret(seed: string, label: string): string {
  const raw = digest(seed, `secret:${label}`).toString('base64url').replace(/[-_]/g, 'x');
  return `${raw.slice(0, 3)}8Q~${raw.slice(3, 37)}`;
}

/** A fresh random secret (addPassword), same shape as deriveSecret. */
export function randomSecret(): string {
  const raw = randomBytes(32).toString('base64url').replace(/[-_]/g, 'x');
  return `${raw.slice(0, 3)}8Q~${raw.slice(3, 37)}`;
}

/**
 * Index-addressable ids: the first 20 hex digits are fixed per (seed, kind), the last
 * 12 hold the index, so a filler object's id maps back to its index in O(1) and
 * nothing has to be materialised to answer `GET /users/{id}` at 1,000,000 objects.
 */
export interface IndexedIds {
  idOf(index: number): string;
  indexOf(id: string): number | undefined;
}

export function createIndexedIds(seed: string, kind: string): IndexedIds {
  const prefix = deriveGuid(seed, `filler:${kind}`).slice(0, 24); // "xxxxxxxx-xxxx-4xxx-8xxx-"
  return {
    idOf: (index) => `${prefix}${index.toString(16).padStart(12, '0')}`,
    indexOf: (id) => {
      if (id.length !== 36 || !id.toLowerCase().startsWith(prefix)) return undefined;
      const tail = id.slice(24);
      if (!/^[0-9a-fA-F]{12}$/.test(tail)) return undefined;
      return parseInt(tail, 16);
    },
  };
}

export function randomGuid(): string {
  const b = randomBytes(16);
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  return formatGuid(b.toString('hex'));
}

/** Opaque-looking base64url of a JSON value (skip and delta tokens). */
export function encodeToken(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

export function decodeToken(token: string): unknown {
  try {
    return JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}
