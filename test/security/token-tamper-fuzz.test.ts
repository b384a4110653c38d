/**
 * Property: any single-character edit of a valid token (header, payload or signature) is refused.
 * Prevents signature-stripping, malleable encodings and partial-verification bypasses.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import { createTokenVerifier, type TokenVerifier } from '../../src/token/index.js';
import { addTenant, makeKey, mint, startAuthority, testClock, v1AppClaims, type FakeAuthority } from '../unit/token/support/authority.js';
import { verifierOptions } from '../unit/token/support/options.js';

const TID = randomUUID();
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.';
let auth: FakeAuthority;
let verifier: TokenVerifier;
let token: string;

beforeAll(async () => {
  const key = await makeKey();
  auth = await startAuthority();
  addTenant(auth, TID, [key]);
  const clock = testClock();
  verifier = createTokenVerifier(verifierOptions(auth, [TID], { now: clock.now, cacheMaxEntries: 0 }));
  await verifier.preload();
  token = await mint({ key, claims: v1AppClaims(TID, clock.now() / 1000), header: { nonce: 'fuzz-nonce', x5t: 'x' } });
});
afterAll(async () => {
  verifier.close();
  await auth.close();
});

describe('single-character tampering (signature malleability and partial verification)', () => {
  it('the untouched token verifies', async () => {
    expect((await verifier.verify(`Bearer ${token}`)).ok).toBe(true);
  });

  it('every one-character substitution is refused', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(), fc.constantFrom(...ALPHABET), async (pos, ch) => {
        const i = pos % token.length;
        fc.pre(token[i] !== ch);
        const mutated = token.slice(0, i) + ch + token.slice(i + 1);
        const out = await verifier.verify(`Bearer ${mutated}`);
        expect(out.ok).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it('the last signature character cannot be swapped for an equivalent encoding', async () => {
    const last = token.at(-1)!;
    const base = ALPHABET.indexOf(last) & ~0b1111; // the final char of a 256-byte signature carries 2 data bits + 4 padding bits
    for (let j = 0; j < 16; j++) {
      const ch = ALPHABET[base + j]!;
      if (ch === last) continue;
      expect((await verifier.verify(`Bearer ${token.slice(0, -1)}${ch}`)).ok).toBe(false);
    }
  });
});
