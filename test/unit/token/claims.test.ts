import { describe, it, expect } from 'vitest';
import { checkClaims, issuerFor, issuerTenant, type ClaimCheckInput } from '../../../src/token/claims.js';

const TID = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const OTHER = 'f8cdef31-a31e-4b4a-93e4-5f571e91255a';
const NOW = Date.UTC(2026, 0, 1) ;
const nowSec = NOW / 1000;
const issuers = { v1: 'https://sts.windows.net/{tenantid}/', v2: 'https://login.microsoftonline.com/{tenantid}/v2.0' };

function input(payload: Record<string, unknown>, over: Partial<ClaimCheckInput> = {}): ClaimCheckInput {
  return {
    payload: { iss: `https://sts.windows.net/${TID}/`, ver: '1.0', aud: '00000003-0000-0000-c000-000000000000', exp: nowSec + 600, nbf: nowSec - 5, ...payload },
    tenantId: TID,
    issuers,
    audiences: ['00000003-0000-0000-c000-000000000000', 'https://graph.microsoft.com'],
    clockSkewSec: 60,
    nowMs: NOW,
    ...over,
  };
}

describe('issuer helpers', () => {
  it('substitutes {tenantid} and finds the single GUID segment', () => {
    expect(issuerFor(issuers.v2, TID)).toBe(`https://login.microsoftonline.com/${TID}/v2.0`);
    expect(issuerTenant(`https://login.microsoftonline.com/${TID.toUpperCase()}/v2.0`)).toBe(TID);
    expect(issuerTenant(`https://x/${TID}/${OTHER}/`)).toBeUndefined();
    expect(issuerTenant('https://sts.windows.net/common/')).toBeUndefined();
    expect(issuerTenant('not a url')).toBeUndefined();
  });
});

describe('checkClaims', () => {
  it('accepts a v1 and a v2 token for their own issuer', () => {
    expect(checkClaims(input({}))).toEqual({ ok: true, version: '1.0' });
    expect(checkClaims(input({ ver: '2.0', iss: `https://login.microsoftonline.com/${TID}/v2.0` }))).toEqual({ ok: true, version: '2.0' });
  });

  it.each([
    ['issuer of another tenant', { iss: `https://sts.windows.net/${OTHER}/` }, 'GW_ERR_TOKEN_ISSUER'],
    ['v2 issuer on a v1 token', { iss: `https://login.microsoftonline.com/${TID}/v2.0` }, 'GW_ERR_TOKEN_ISSUER'],
    ['issuer with trailing slash missing', { iss: `https://sts.windows.net/${TID}` }, 'GW_ERR_TOKEN_ISSUER'],
    ['no issuer', { iss: undefined }, 'GW_ERR_TOKEN_ISSUER'],
    ['no ver and unknown issuer', { ver: undefined, iss: 'https://evil.example/' }, 'GW_ERR_TOKEN_ISSUER'],
    ['ver 3.0', { ver: '3.0' }, 'GW_ERR_TOKEN_CLAIMS'],
    ['audience of another API', { aud: 'https://management.azure.com' }, 'GW_ERR_TOKEN_AUDIENCE'],
    ['audience missing', { aud: undefined }, 'GW_ERR_TOKEN_AUDIENCE'],
    ['audience empty array', { aud: [] }, 'GW_ERR_TOKEN_AUDIENCE'],
    ['audience case changed', { aud: 'HTTPS://GRAPH.MICROSOFT.COM' }, 'GW_ERR_TOKEN_AUDIENCE'],
    ['exp missing', { exp: undefined }, 'GW_ERR_TOKEN_CLAIMS'],
    ['exp a string', { exp: String(nowSec + 600) }, 'GW_ERR_TOKEN_CLAIMS'],
    ['expired beyond skew', { exp: nowSec - 61 }, 'GW_ERR_TOKEN_EXPIRED'],
    ['nbf beyond skew', { nbf: nowSec + 61 }, 'GW_ERR_TOKEN_NOT_YET_VALID'],
    ['nbf malformed', { nbf: 'soon' }, 'GW_ERR_TOKEN_CLAIMS'],
  ])('refuses %s', (_n, payload, code) => {
    expect(checkClaims(input(payload))).toMatchObject({ ok: false, code });
  });

  it('refuses a metadata issuer that names another tenant even if the token copies it', () => {
    const hostile = { v1: `https://sts.windows.net/${OTHER}/`, v2: issuers.v2 };
    expect(checkClaims(input({ iss: `https://sts.windows.net/${OTHER}/` }, { issuers: hostile }))).toMatchObject({ ok: false, code: 'GW_ERR_TOKEN_ISSUER' });
  });

  it('applies the skew at the boundaries', () => {
    expect(checkClaims(input({ exp: nowSec - 60 })).ok).toBe(true);
    expect(checkClaims(input({ nbf: nowSec + 60 })).ok).toBe(true);
    expect(checkClaims(input({ exp: nowSec - 1 }, { clockSkewSec: 0 }))).toMatchObject({ code: 'GW_ERR_TOKEN_EXPIRED' });
  });

  it('accepts an audience array containing Graph; infers ver from the issuer', () => {
    expect(checkClaims(input({ aud: ['api://x', 'https://graph.microsoft.com'] })).ok).toBe(true);
    expect(checkClaims(input({ ver: undefined, iss: `https://login.microsoftonline.com/${TID}/v2.0` }))).toEqual({ ok: true, version: '2.0' });
  });
});
