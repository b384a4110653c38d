import { describe, it, expect } from 'vitest';
import { canonicalize, parseCall } from '../../../src/classify/canonical.js';
import type { CanonicalResult } from '../../../src/classify/canonical.js';

const opts = { maxUrlLength: 2048 };

function tokens(r: CanonicalResult): string[] {
  if (!r.ok) throw new Error(r.message);
  return r.value.tokens.map((t) => `${t.kind}:${t.kind === 'call' ? t.key : t.text}`);
}

describe('canonicalize', () => {
  it('splits version, keeps id case, lower-cases nothing in tokens', () => {
    const r = canonicalize("/V1.0/Groups('AbC')/members/$ref", opts);
    expect(r.ok && r.value.version).toBe('v1.0');
    expect(tokens(r)).toEqual(['name:Groups', 'value:AbC', 'name:members', 'name:$ref']);
  });

  it('reads the three OData key spellings the same way', () => {
    // `/users/x1` stays a name (the trie decides it is a key); the parenthesised forms are keys outright.
    expect(tokens(canonicalize('/beta/users/x1', opts))).toEqual(['name:users', 'name:x1']);
    for (const u of ["/beta/users('x1')", '/beta/users(x1)', '/beta/users(%27x1%27)']) {
      expect(tokens(canonicalize(u, opts))).toEqual(['name:users', 'value:x1']);
    }
  });

  it('turns alternate keys and named parameters into a call token keyed by sorted names', () => {
    expect(tokens(canonicalize("/v1.0/applications(appId='a-1')", opts))).toEqual(['call:applications(appid)']);
    const r = canonicalize("/v1.0/x/range(b='1',A=2)", opts);
    expect(tokens(r)).toEqual(['name:x', 'call:range(a,b)']);
  });

  it('unescapes doubled quotes in keys', () => {
    expect(tokens(canonicalize("/v1.0/users('o''brien@x.com')", opts))).toEqual(['name:users', "value:o'brien@x.com"]);
  });

  it('keeps a drive item path between colons as one token', () => {
    expect(tokens(canonicalize('/v1.0/me/drive/root:/a%20b/c.txt:/content', opts))).toEqual(['name:me', 'name:drive', 'name:root', 'colon:a b/c.txt', 'name:content']);
    expect(tokens(canonicalize('/v1.0/me/drive/root:/a/c.txt', opts))).toEqual(['name:me', 'name:drive', 'name:root', 'colon:a/c.txt']);
  });

  it('drops a tenant segment after the version and records it', () => {
    for (const t of ['myorganization', 'MyOrganization', '72f988bf-86f1-41af-91ab-2d7cd011db47', 'contoso.onmicrosoft.com']) {
      const r = canonicalize(`/v1.0/${t}/users`, opts);
      expect(r.ok && r.value.tenantSegment).toBe(t);
      expect(tokens(r)).toEqual(['name:users']);
    }
  });

  it('normalises query option names, with or without $ (beta), encoded $ too', () => {
    const r = canonicalize('/beta/users?select=id&%24Expand=manager&$FILTER=a%20eq%201&custom=1', opts);
    expect(r.ok && { ...r.value.query }).toEqual({ $select: 'id', $expand: 'manager', $filter: 'a eq 1', custom: '1' });
  });

  it.each([
    ['/v1.0/users%2Fx', 'encoded slash'],
    ['/v1.0/users%2fx', 'encoded slash'],
    ['/v1.0/users%5Cx', 'encoded slash or backslash'],
    ['/v1.0/users\\x', 'backslash'],
    ['/v1.0/users/../groups', 'dot segment'],
    ['/v1.0/users/%2e%2e/groups', 'dot segment'],
    ['/v1.0/users/./x', 'dot segment'],
    ['/v1.0/users/%252Fx', 'double percent-encoding'],
    ['/v1.0/users/%00', 'control character'],
    ['/v1.0/users/a%0Ab', 'control character'],
    ['/v1.0/users/%zz', 'malformed'],
    ['/v1.0/users/%C0%AF', 'UTF-8'],
    ['/v1.0//users', 'empty path segment'],
    ['/v1.0/users#x', 'fragment'],
    ['/v1.0/users?$select=a&select=b', 'more than once'],
    ['/v1.0/users?$select=%2561', 'double percent-encoding'],
    ['/v1.0/users?%2524select=a', 'double percent-encoding'],
    ['/v1.0/users?x=%00', 'malformed query'],
    ["/v1.0/users('a", 'cannot parse'],
    ['/v1.0/users)x', 'unbalanced'],
    ['https://graph.microsoft.com/v1.0/users', 'absolute path'],
  ])('rejects %s (%s)', (url, why) => {
    const r = canonicalize(url, opts);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.code).toBe('GW_ERR_REQUEST_INVALID');
      expect(r.message).toContain(why);
    }
  });

  it('answers 414 for overlong URLs and 404 outside a version', () => {
    const long = canonicalize('/v1.0/users/' + 'a'.repeat(3000), opts);
    expect(!long.ok && long.code).toBe('GW_ERR_REQUEST_URI_TOO_LONG');
    for (const u of ['/v2.0/users', '/users', '/', '/api/v1.0/users']) {
      const r = canonicalize(u, opts);
      expect(!r.ok && r.code).toBe('GW_ERR_NOT_FOUND');
    }
  });

  it('batch item urls: leading slash optional, no version, no absolute URL', () => {
    const b = { ...opts, batchVersion: 'beta' as const };
    expect(tokens(canonicalize('users/x?$select=id', b))).toEqual(['name:users', 'name:x']);
    expect(tokens(canonicalize('/users/x', b))).toEqual(['name:users', 'name:x']);
    for (const u of ['/v1.0/users', 'beta/users', 'https://graph.microsoft.com/v1.0/users', '//evil/users']) {
      const r = canonicalize(u, b);
      expect(!r.ok && r.batchFatal).toBe(true);
    }
  });

  it('parseCall handles empty, positional and named forms', () => {
    expect(parseCall('delta()')).toEqual({ name: 'delta', key: null, args: [] });
    expect(parseCall("x('a,b')")).toEqual({ name: 'x', key: 'a,b', args: [] });
    expect(parseCall("f(a='1', b=2)")).toEqual({ name: 'f', key: null, args: [['a', '1'], ['b', '2']] });
    expect(parseCall('f(a=1,)')).toBeNull();
    expect(parseCall("f('x'y)")).toBeNull();
  });
});
