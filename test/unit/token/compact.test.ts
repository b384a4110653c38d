import { describe, it, expect } from 'vitest';
import { createHash } from 'node:crypto';
import { MAX_HEADER_CHARS, MAX_TOKEN_CHARS, decodeCompact, extractBearer, hashNonce, transformNonce } from '../../../src/token/compact.js';

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64url');
const tok = (header: string, payload = '{"a":1}', sig = 'c2ln') => `${b64(header)}.${b64(payload)}.${sig}`;

describe('extractBearer', () => {
  it('accepts exactly one bearer token, any scheme case', () => {
    const t = tok('{"alg":"RS256"}');
    expect(extractBearer(`Bearer ${t}`)).toEqual({ ok: true, token: t });
    expect(extractBearer(`bearer ${t}`)).toEqual({ ok: true, token: t });
    expect(extractBearer(`BEARER ${t}`)).toEqual({ ok: true, token: t });
  });

  it.each([
    [undefined, 'GW_ERR_TOKEN_MISSING'],
    ['', 'GW_ERR_TOKEN_MISSING'],
    ['   ', 'GW_ERR_TOKEN_MISSING'],
    ['Bearer', 'GW_ERR_TOKEN_MISSING'],
    ['Basic dXNlcjpwYXNz', 'GW_ERR_TOKEN_MISSING'],
    ['Bearerx a.b.c', 'GW_ERR_TOKEN_MISSING'],
    ['Negotiate a.b.c', 'GW_ERR_TOKEN_MISSING'],
    ['Bearer a.b.c d.e.f', 'GW_ERR_TOKEN_MALFORMED'],
    ['Bearer a.b.c, Bearer d.e.f', 'GW_ERR_TOKEN_MALFORMED'],
    ['Bearer  a.b.c', 'GW_ERR_TOKEN_MALFORMED'],
    ['Bearer a.b', 'GW_ERR_TOKEN_MALFORMED'],
    ['Bearer a.b.c.d.e', 'GW_ERR_TOKEN_MALFORMED'],
    ['Bearer a+b.c/d.e=', 'GW_ERR_TOKEN_MALFORMED'],
    ['Bearer .b.c', 'GW_ERR_TOKEN_MALFORMED'],
  ])('%j → %s', (header, code) => {
    expect(extractBearer(header)).toEqual({ ok: false, code });
  });

  it('refuses a token longer than MAX_TOKEN_CHARS without parsing it', () => {
    const huge = `${'a'.repeat(MAX_TOKEN_CHARS)}.b.c`;
    expect(extractBearer(`Bearer ${huge}`)).toEqual({ ok: false, code: 'GW_ERR_TOKEN_MALFORMED' });
  });
});

describe('decodeCompact', () => {
  it('decodes header and payload and keeps the header text verbatim', () => {
    const headerText = '{"typ":"JWT", "alg":"RS256"}';
    const d = decodeCompact(tok(headerText, '{"tid":"x"}'));
    expect(d?.headerText).toBe(headerText);
    expect(d?.header).toEqual({ typ: 'JWT', alg: 'RS256' });
    expect(d?.payload).toEqual({ tid: 'x' });
    expect(d?.signatureB64).toBe('c2ln');
  });

  it.each([
    ['two parts', `${b64('{}')}.${b64('{}')}`],
    ['header not JSON', tok('not json')],
    ['payload not JSON', `${b64('{"alg":"RS256"}')}.${b64('nope')}.x`],
    ['header an array', tok('["alg"]')],
    ['payload null', tok('{"alg":"RS256"}', 'null')],
    ['non-canonical base64url', `${b64('{"alg":"RS256"}')}A.${b64('{}')}.x`],
    ['non-canonical signature', `${b64('{"alg":"RS256"}')}.${b64('{}')}.QB`],
    ['invalid UTF-8', `${Buffer.from([0x7b, 0xff, 0x7d]).toString('base64url')}.${b64('{}')}.x`],
    ['huge header', tok(JSON.stringify({ alg: 'RS256', pad: 'x'.repeat(MAX_HEADER_CHARS) }))],
  ])('refuses %s', (_name, token) => {
    expect(decodeCompact(token)).toBeUndefined();
  });
});

describe('Graph nonce transform', () => {
  it('hashNonce is base64url(SHA-256(utf8))', () => {
    expect(hashNonce('abc')).toBe(createHash('sha256').update(Buffer.from('abc', 'utf8')).digest('base64url'));
    expect(hashNonce('abc')).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('replaces only the nonce value, preserving key order and spacing byte for byte', () => {
    const headerText = '{"typ":"JWT","nonce" : "n-1","alg":"RS256","x5t":"n-1","kid":"k"}';
    const d = decodeCompact(tok(headerText))!;
    const out = transformNonce(d, 'n-1')!;
    const [h, p, s] = out.split('.');
    expect(Buffer.from(h!, 'base64url').toString('utf8')).toBe(headerText.replace('"nonce" : "n-1"', `"nonce" : "${hashNonce('n-1')}"`));
    expect(p).toBe(d.payloadB64);
    expect(s).toBe(d.signatureB64);
  });

  it('refuses a header with a duplicated nonce key', () => {
    const d = decodeCompact(tok('{"nonce":"a","alg":"RS256","nonce":"a"}'))!;
    expect(transformNonce(d, 'a')).toBeUndefined();
  });

  it('refuses a nonce it cannot find verbatim (escaped form)', () => {
    const d = decodeCompact(tok('{"nonce":"\\u0061","alg":"RS256"}'))!;
    expect(d.header.nonce).toBe('a');
    expect(transformNonce(d, 'a')).toBeUndefined();
  });
});
