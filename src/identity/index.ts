/**
 * identity/: turns the claims of an already verified Entra access token into a `Principal`.
 * Pure: no clock, no network, no logging. Does not verify signatures, issuers, audiences or
 * lifetimes (token/ does that before calling here).
 */
import type { JWTPayload } from 'jose';
import type { Principal } from './principal.js';

export type { Principal } from './principal.js';

export type ToPrincipalResult = { ok: true; principal: Principal } | { ok: false; reason: string };

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isGuid(value: unknown): value is string {
  return typeof value === 'string' && GUID.test(value);
}

/** A space-separated claim (`scp`) or an array claim (`roles`, `wids`); tolerates either shape, rejects anything else. */
function readList(value: unknown): string[] | undefined | null {
  if (value === undefined) return undefined;
  if (typeof value === 'string') return value.split(' ').filter((s) => s.length > 0);
  if (Array.isArray(value) && value.every((v): v is string => typeof v === 'string')) {
    return value.flatMap((v) => v.split(' ')).filter((s) => s.length > 0);
  }
  return null; // present but malformed
}

function optString(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

// appidacr / azpacr: "0" public client, "1" client secret, "2" certificate
// (entra-docs access-token-claims-reference).
function clientAuthOf(value: unknown): Principal['clientAuth'] {
  switch (value) {
    case '0':
    case 0:
      return 'public';
    case '1':
    case 1:
      return 'secret';
    case '2':
    case 2:
      return 'certificate';
    default:
      return 'unknown';
  }
}

/**
 * Claims → Principal. App-only vs delegated: `idtyp` first ("the most accurate way for an API to
 * determine if a token is an app token", optional-claims-reference), then `scp` present → delegated
 * (scp is "only included for user tokens"), `roles` without `scp` → app-only.
 */
export function toPrincipal(claims: JWTPayload): ToPrincipalResult {
  const c = claims as Record<string, unknown>;

  if (!isGuid(c.tid)) return { ok: false, reason: 'tid-missing-or-not-guid' };

  let tokenVersion: Principal['tokenVersion'];
  if (c.ver === '1.0' || c.ver === '2.0') tokenVersion = c.ver;
  else if (c.ver === undefined) tokenVersion = c.appid !== undefined ? '1.0' : c.azp !== undefined ? '2.0' : '1.0';
  else return { ok: false, reason: 'ver-unsupported' };

  // v1 tokens name the client in `appid`, v2 tokens in `azp`; fall back to the other so a
  // token missing `ver` is still attributed, but never accept a non-GUID client id.
  const appIdClaim = tokenVersion === '1.0' ? (c.appid ?? c.azp) : (c.azp ?? c.appid);
  if (!isGuid(appIdClaim)) return { ok: false, reason: 'appid-missing-or-not-guid' };
  const acr = tokenVersion === '1.0' ? (c.appidacr ?? c.azpacr) : (c.azpacr ?? c.appidacr);

  if (!isGuid(c.oid)) return { ok: false, reason: 'oid-missing-or-not-guid' };

  const scopes = readList(c.scp);
  if (scopes === null) return { ok: false, reason: 'scp-malformed' };
  const roles = readList(c.roles);
  if (roles === null) return { ok: false, reason: 'roles-malformed' };
  const wids = readList(c.wids);
  if (wids === null) return { ok: false, reason: 'wids-malformed' };

  let kind: Principal['kind'];
  if (c.idtyp === 'app') {
    // An app-only token never carries delegated scopes; one that does is not an Entra token.
    if (scopes !== undefined) return { ok: false, reason: 'app-token-with-scp' };
    kind = 'app';
  } else if (c.idtyp === 'user') {
    if (scopes === undefined || scopes.length === 0) return { ok: false, reason: 'user-token-without-scp' };
    kind = 'delegated';
  } else if (c.idtyp !== undefined) {
    return { ok: false, reason: 'idtyp-unsupported' };
  } else if (scopes !== undefined && scopes.length > 0) {
    kind = 'delegated';
  } else if (roles !== undefined && scopes === undefined) {
    kind = 'app';
  } else {
    return { ok: false, reason: 'no-roles-or-scp' };
  }

  if (typeof c.exp !== 'number' || !Number.isFinite(c.exp)) return { ok: false, reason: 'exp-missing' };
  const issuedAt = typeof c.iat === 'number' ? c.iat : typeof c.nbf === 'number' ? c.nbf : c.exp;

  const principal: Principal = {
    kind,
    tenantId: c.tid.toLowerCase(),
    appId: appIdClaim.toLowerCase(),
    roles: roles ?? [],
    scopes: kind === 'delegated' ? (scopes ?? []) : [],
    wids: wids ?? [],
    tokenId: optString(c.uti) ?? optString(c.jti) ?? '',
    clientAuth: clientAuthOf(acr),
    tokenVersion,
    issuedAt,
    expiresAt: c.exp,
  };
  const appDisplayName = optString(c.app_displayname);
  if (appDisplayName !== undefined) principal.appDisplayName = appDisplayName;
  if (kind === 'app') {
    principal.servicePrincipalId = c.oid.toLowerCase();
  } else {
    principal.userId = c.oid.toLowerCase();
    const upn = optString(c.upn) ?? optString(c.unique_name) ?? optString(c.preferred_username);
    if (upn !== undefined) principal.userPrincipalName = upn;
  }
  return { ok: true, principal };
}
