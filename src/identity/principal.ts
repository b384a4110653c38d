/**
 * The `Principal`: who is calling, as proven by a verified Entra access token.
 * Owned by identity/; every later stage (directory, classify, policy, audit) reads it.
 */
export interface Principal {
  /** `app` for app-only (client credentials) tokens, `delegated` for app+user tokens (idtyp, then scp/roles). */
  kind: 'app' | 'delegated';
  /** Tenant id (`tid`), a GUID. */
  tenantId: string;
  /** Client application id (`appid` in v1 tokens, `azp` in v2). */
  appId: string;
  /** Display name of the client app when the token carries it (`app_displayname`). */
  appDisplayName?: string;
  /** App-only: the service principal object id (`oid`). Delegated tokens do not carry it. */
  servicePrincipalId?: string;
  /** Delegated: the signed-in user's object id (`oid`). */
  userId?: string;
  /** Delegated: `upn` / `unique_name` / `preferred_username`, for narratives only (never for matching). */
  userPrincipalName?: string;
  /** Application permissions (`roles`), app-only tokens. */
  roles: string[];
  /** Delegated scopes (`scp`, space separated in the token), delegated tokens. */
  scopes: string[];
  /** Directory role template ids (`wids`) of the user, or of the SP for app-only tokens. */
  wids: string[];
  /** Per-token identifier (`uti`), used as the token id in audit records. */
  tokenId: string;
  /** How the client authenticated (`appidacr`/`azpacr`): 0 public, 1 secret, 2 certificate. */
  clientAuth: 'public' | 'secret' | 'certificate' | 'unknown';
  /** Token format version (`ver`). */
  tokenVersion: '1.0' | '2.0';
  /** `iat` and `exp`, epoch seconds. */
  issuedAt: number;
  expiresAt: number;
}
