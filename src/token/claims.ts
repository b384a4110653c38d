/**
 * Pure claim checks on a signature-verified payload: issuer/tenant, audience, exp/nbf with skew.
 * Takes `nowMs` as data; does not fetch metadata or verify signatures, and does not build the
 * Principal (identity/ does).
 */
import type { ErrorCode } from '../errors.js';
import { isGuid } from '../identity/index.js';

export interface ExpectedIssuers {
  /** Issuer template for v1 tokens, e.g. `https://sts.windows.net/{tenantid}/`. */
  v1: string;
  /** Issuer template for v2 tokens, e.g. `https://login.microsoftonline.com/{tenantid}/v2.0`. */
  v2: string;
}

export interface ClaimCheckInput {
  payload: Record<string, unknown>;
  /** The tenant the token was routed to (its own `tid`, already checked against allowedTenants). */
  tenantId: string;
  issuers: ExpectedIssuers;
  audiences: readonly string[];
  clockSkewSec: number;
  nowMs: number;
}

export type ClaimCheckResult = { ok: true; version: '1.0' | '2.0' } | { ok: false; code: ErrorCode; message: string };

/** Substitutes the tenant into an issuer template (`{tenantid}` as in Entra metadata, `{tenant}` too). */
export function issuerFor(template: string, tenantId: string): string {
  return template.replace(/\{tenantid\}|\{tenant\}/gi, tenantId);
}

/**
 * The tenant segment of an issuer: the one GUID path segment (`https://sts.windows.net/{tid}/`,
 * `https://login.microsoftonline.com/{tid}/v2.0`). Undefined when there is not exactly one.
 */
export function issuerTenant(issuer: string): string | undefined {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    return undefined;
  }
  const guids = url.pathname.split('/').filter((s) => isGuid(s));
  return guids.length === 1 ? guids[0]!.toLowerCase() : undefined;
}

export function checkClaims(input: ClaimCheckInput): ClaimCheckResult {
  const { payload: p, tenantId } = input;
  const tid = tenantId.toLowerCase();

  // Issuer: exact match against the version's issuer for this tenant, and the issuer's tenant
  // segment must be the token's tid (entra-docs access-tokens.md, "Validate the issuer").
  if (typeof p.iss !== 'string') return { ok: false, code: 'GW_ERR_TOKEN_ISSUER', message: 'The token has no issuer.' };
  const expected = { '1.0': issuerFor(input.issuers.v1, tid), '2.0': issuerFor(input.issuers.v2, tid) } as const;
  let version: '1.0' | '2.0';
  if (p.ver === '1.0' || p.ver === '2.0') {
    version = p.ver;
  } else if (p.ver === undefined) {
    // `ver` is always present in Entra tokens; tolerate its absence by letting the issuer decide.
    if (p.iss === expected['1.0']) version = '1.0';
    else if (p.iss === expected['2.0']) version = '2.0';
    else return { ok: false, code: 'GW_ERR_TOKEN_ISSUER', message: 'The token issuer does not match its tenant.' };
  } else {
    return { ok: false, code: 'GW_ERR_TOKEN_CLAIMS', message: 'The token version (ver) is not 1.0 or 2.0.' };
  }
  if (p.iss !== expected[version] || issuerTenant(p.iss) !== tid) {
    return { ok: false, code: 'GW_ERR_TOKEN_ISSUER', message: 'The token issuer does not match its tenant.' };
  }

  // Audience: Graph's app id or resource URI (access-token-claims-reference, `aud`).
  const aud = p.aud;
  const audOk =
    typeof aud === 'string'
      ? input.audiences.includes(aud)
      : Array.isArray(aud) && aud.length > 0 && aud.some((a) => typeof a === 'string' && input.audiences.includes(a));
  if (!audOk) return { ok: false, code: 'GW_ERR_TOKEN_AUDIENCE', message: 'The token audience is not Microsoft Graph.' };

  const nowSec = input.nowMs / 1000;
  if (typeof p.exp !== 'number' || !Number.isFinite(p.exp)) {
    return { ok: false, code: 'GW_ERR_TOKEN_CLAIMS', message: 'The token has no expiry (exp).' };
  }
  if (nowSec > p.exp + input.clockSkewSec) return { ok: false, code: 'GW_ERR_TOKEN_EXPIRED', message: 'The token has expired.' };
  if (p.nbf !== undefined) {
    if (typeof p.nbf !== 'number' || !Number.isFinite(p.nbf)) {
      return { ok: false, code: 'GW_ERR_TOKEN_CLAIMS', message: 'The token nbf claim is malformed.' };
    }
    if (nowSec < p.nbf - input.clockSkewSec) return { ok: false, code: 'GW_ERR_TOKEN_NOT_YET_VALID', message: 'The token is not yet valid.' };
  }
  return { ok: true, version };
}
