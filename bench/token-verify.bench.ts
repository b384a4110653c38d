/**
 * Micro-benchmark of token verification: a cache hit (the steady state for an agent reusing its
 * token) against a full verification (RS256 + claims) of a fresh token, in the same run.
 * Run: npx vitest bench --run bench/token-verify.bench.ts
 */
import { bench, describe, afterAll } from 'vitest';
import { randomUUID } from 'node:crypto';
import { createTokenVerifier } from '../src/token/index.js';
import { addTenant, makeKey, mint, startAuthority, v1AppClaims } from '../test/unit/token/support/authority.js';
import { verifierOptions } from '../test/unit/token/support/options.js';

const tid = randomUUID();
const key = await makeKey();
const auth = await startAuthority();
addTenant(auth, tid, [key]);
const nowSec = Math.floor(Date.now() / 1000);
const mintOne = (uti: string) => mint({ key, claims: v1AppClaims(tid, nowSec, { uti }), header: { nonce: `nonce-${uti}` } });

const cached = createTokenVerifier(verifierOptions(auth, [tid]));
const uncached = createTokenVerifier(verifierOptions(auth, [tid], { cacheMaxEntries: 0 }));
await Promise.all([cached.preload(), uncached.preload()]);
const hot = `Bearer ${await mintOne('hot')}`;
if (!(await cached.verify(hot)).ok) throw new Error('bench token does not verify');
const fresh = `Bearer ${await mintOne('fresh')}`;

afterAll(async () => {
  cached.close();
  uncached.close();
  await auth.close();
});

describe('token verify', () => {
  bench('cache hit', async () => {
    await cached.verify(hot);
  });
  bench('full verification (RS256, nonce transform, claims)', async () => {
    await uncached.verify(fresh);
  });
});
