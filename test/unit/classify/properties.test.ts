/**
 * Property-based: no encoding, casing, key-syntax, alias, tenant-segment or batch-wrapping variant of a
 * sensitive operation classifies as a different or less sensitive operation.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { createClassifier } from '../../../src/classify/index.js';
import type { Operation } from '../../../src/classify/index.js';
import { TIER_RANK } from '../../../src/classify/operation.js';
import { defaultIndex } from '../../../src/classify/load.js';
import type { OpEntry, TrieNode } from '../../../src/classify/map.js';
import { userPrincipal, TENANT } from './principals.js';

const c = createClassifier();
const principal = userPrincipal(['User.Read']);

type Part = { lit: string } | { key: string } | { action: string } | { dollar: string };

interface Sensitive {
  name: string;
  method: string;
  parts: (ids: string[]) => Part[];
}

const SENSITIVE: Sensitive[] = [
  { name: 'add member to group', method: 'POST', parts: ([g]) => [{ lit: 'groups' }, { key: g! }, { lit: 'members' }, { dollar: '$ref' }] },
  { name: 'remove member from group', method: 'DELETE', parts: ([g, m]) => [{ lit: 'groups' }, { key: g! }, { lit: 'members' }, { key: m! }, { dollar: '$ref' }] },
  { name: 'add password to application', method: 'POST', parts: ([a]) => [{ lit: 'applications' }, { key: a! }, { action: 'addPassword' }] },
  { name: 'add key to service principal', method: 'POST', parts: ([a]) => [{ lit: 'servicePrincipals' }, { key: a! }, { action: 'addKey' }] },
  { name: 'assign app role', method: 'POST', parts: ([s]) => [{ lit: 'servicePrincipals' }, { key: s! }, { lit: 'appRoleAssignedTo' }] },
  { name: 'assign directory role', method: 'POST', parts: () => [{ lit: 'roleManagement' }, { lit: 'directory' }, { lit: 'roleAssignments' }] },
  { name: 'add directory role member', method: 'POST', parts: ([r]) => [{ lit: 'directoryRoles' }, { key: r! }, { lit: 'members' }, { dollar: '$ref' }] },
  { name: "read a user's mail", method: 'GET', parts: ([u]) => [{ lit: 'users' }, { key: u! }, { lit: 'messages' }] },
  { name: 'add owner to application', method: 'POST', parts: ([a]) => [{ lit: 'applications' }, { key: a! }, { lit: 'owners' }, { dollar: '$ref' }] },
];

const hex = (ch: string, lower: boolean): string => {
  const h = ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0');
  return '%' + (lower ? h.toLowerCase() : h);
};

/** Re-spells a name: random case on letters, random percent-encoding of any character. */
function spell(s: string, caseMask: number, encMask: number, lowerHex: boolean): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    let ch = s[i]!;
    if (/[a-z]/i.test(ch) && (caseMask >> i) & 1) ch = ch === ch.toLowerCase() ? ch.toUpperCase() : ch.toLowerCase();
    out += (encMask >> (i % 30)) & 1 ? hex(ch, lowerHex) : ch;
  }
  return out;
}

const variantArb = fc.record({
  version: fc.constantFrom('v1.0', 'beta'),
  tenant: fc.constantFrom('', 'myorganization', 'MyOrganization', TENANT),
  keyForm: fc.array(fc.constantFrom('slash', 'quoted', 'bare', 'encodedQuoted'), { minLength: 3, maxLength: 3 }),
  caseMask: fc.nat(),
  encMask: fc.nat(),
  idEncMask: fc.nat(),
  lowerHex: fc.boolean(),
  qualify: fc.boolean(),
  query: fc.constantFrom('', '?$select=id', '?select=id', '?%24select=id&$top=5', '?filter=x%20eq%201'),
  trailingSlash: fc.boolean(),
  ids: fc.array(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,10}$/).map((s) => 'I' + s), { minLength: 3, maxLength: 3 }),
  batch: fc.constantFrom('no', 'slash', 'noslash'),
});

type Variant = typeof variantArb extends fc.Arbitrary<infer T> ? T : never;

/** The path after the version root, in the variant's spelling. */
function render(parts: Part[], v: Variant): string {
  const segs: string[] = [];
  let keyIdx = 0;
  parts.forEach((p, i) => {
    const cm = v.caseMask >> i;
    const em = v.encMask >> (i * 3);
    if ('lit' in p) segs.push(spell(p.lit, cm, em, v.lowerHex));
    else if ('action' in p) segs.push(spell((v.qualify ? 'microsoft.graph.' : '') + p.action, cm, em, v.lowerHex));
    else if ('dollar' in p) segs.push(spell(p.dollar, cm, em & 1 ? 1 : 0, v.lowerHex));
    else {
      const id = spell(p.key, 0, v.idEncMask >> keyIdx, v.lowerHex);
      const form = v.keyForm[keyIdx++ % 3]!;
      if (form === 'slash') segs.push(id);
      else if (form === 'quoted') segs[segs.length - 1] += `('${id}')`;
      else if (form === 'encodedQuoted') segs[segs.length - 1] += `%28%27${id}%27%29`;
      else segs[segs.length - 1] += `(${id})`;
    }
  });
  return (v.tenant ? `${v.tenant}/` : '') + segs.join('/') + (v.trailingSlash ? '/' : '') + v.query;
}

function classifyVariant(method: string, rel: string, v: Variant): Operation {
  if (v.batch === 'no') {
    const r = c.classify({ method, url: `/${v.version}/${rel}`, principal });
    if (!r.ok) throw new Error(`${rel}: ${r.message}`);
    return r.operation;
  }
  const body = Buffer.from(JSON.stringify({ requests: [{ id: '1', method, url: (v.batch === 'slash' ? '/' : '') + rel }] }));
  const r = c.classify({ method: 'POST', url: `/${v.version}/$batch`, body, principal });
  if (!r.ok) throw new Error(`batch ${rel}: ${r.message}`);
  const item = r.batch!.items[0]!;
  if (!item.operation) throw new Error(`batch item ${rel}: ${item.error?.message}`);
  // The batch itself must never look less sensitive than its item.
  expect(TIER_RANK[r.operation.tier]).toBeGreaterThanOrEqual(TIER_RANK[item.operation.tier]);
  return item.operation;
}

describe('variants of sensitive operations', () => {
  for (const s of SENSITIVE) {
    it(`${s.name}: every variant is the same operation, never less sensitive`, () => {
      fc.assert(
        fc.property(variantArb, (v) => {
          const parts = s.parts(v.ids);
          const base = c.classify({ method: s.method, url: `/v1.0/${render(parts, { ...v, tenant: '', keyForm: ['slash', 'slash', 'slash'], caseMask: 0, encMask: 0, idEncMask: 0, qualify: false, query: '', trailingSlash: false, batch: 'no' })}`, principal });
          expect(base.ok).toBe(true);
          if (!base.ok) return;
          expect(base.operation.known).toBe(true);
          const o = classifyVariant(s.method, render(parts, v), v);
          expect(o.template).toBe(base.operation.template);
          expect(o.method).toBe(s.method);
          expect(o.action).toBe(base.operation.action);
          expect(o.target.type).toBe(base.operation.target.type);
          expect(o.target.id).toBe(base.operation.target.id);
          expect(o.target.relatedIds).toEqual(base.operation.target.relatedIds);
          expect(o.permissions).toEqual(base.operation.permissions);
          expect(TIER_RANK[o.tier]).toBeGreaterThanOrEqual(TIER_RANK[base.operation.tier]);
        }),
        { numRuns: 150 },
      );
    });
  }
});

describe('robustness', () => {
  it('never throws, whatever the URL: it answers an operation or a coded error', () => {
    const piece = fc.oneof(
      fc.constantFrom('/', '%2F', '%2f', '%252F', '..', '%2e', '(', ')', "'", ':', '$ref', '$batch', 'me', 'users', 'groups', '?', '&', '=', '#', '%', '%00', '\\', 'microsoft.graph.', ' ', 'é'),
      fc.string({ maxLength: 6 }),
    );
    fc.assert(
      fc.property(fc.constantFrom('/v1.0/', '/beta/', '/', ''), fc.array(piece, { maxLength: 14 }), fc.constantFrom('GET', 'POST', 'PATCH', 'DELETE'), (prefix, pieces, method) => {
        const r = c.classify({ method, url: prefix + pieces.join(''), principal });
        if (r.ok) {
          expect(r.operation.known || r.operation.tier === 'unknown').toBe(true);
          expect(JSON.parse(JSON.stringify(r.operation))).toEqual(r.operation);
        } else {
          expect(['GW_ERR_REQUEST_INVALID', 'GW_ERR_REQUEST_URI_TOO_LONG', 'GW_ERR_NOT_FOUND', 'GW_ERR_REQUEST_BODY_TOO_LARGE']).toContain(r.code);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('a known operation is never reached through an encoded slash, dot segment or double encoding', () => {
    fc.assert(
      fc.property(fc.constantFrom('%2F', '%2f', '%5C', '/..', '/%2e%2e', '/.%2E', '%252F', '%255C'), fc.nat({ max: 3 }), (trick, where) => {
        const segs = ['groups', 'g1', 'members', '$ref'];
        segs[where] = segs[where]! + trick;
        const r = c.classify({ method: 'POST', url: '/v1.0/' + segs.join('/'), principal });
        expect(r.ok).toBe(false);
      }),
      { numRuns: 200 },
    );
  });
});

describe('alternate keys', () => {
  it('every alternate-key template in the map is at least as sensitive as its id form', () => {
    const idx = defaultIndex();
    const alt: OpEntry[] = [];
    const walk = (n: TrieNode): void => {
      for (const e of n.ops?.values() ?? []) if (/\((appid|roletemplateid)=\{value\}\)/.test(e.template)) alt.push(e);
      for (const x of n.lit.values()) walk(x);
      if (n.wild) walk(n.wild);
      if (n.colon) walk(n.colon);
    };
    walk(idx.root);
    expect(alt.length).toBeGreaterThan(50);
    let compared = 0;
    for (const e of alt) {
      const idForm = e.template.replace(/\((appid|roletemplateid)=\{value\}\)/, '/{id}');
      const r = c.classify({ method: e.method, url: '/v1.0' + idForm.replace(/\{id\}/g, 'x1').replace(/:\/\{path\}:/g, ':/a:') });
      if (!r.ok || !r.operation.known) continue;
      compared++;
      expect(TIER_RANK[e.baseTier]).toBeGreaterThanOrEqual(TIER_RANK[r.operation.tier]);
    }
    expect(compared).toBeGreaterThan(50);
  });
});
