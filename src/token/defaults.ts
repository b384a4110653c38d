/**
 * Default values of the token verifier, shared by the verifier and its config schema.
 * Constants only; no behaviour.
 */

/** Microsoft Graph's app id and resource URIs, as they appear in `aud` (access-token-claims-reference). */
export const GRAPH_AUDIENCES = ['00000003-0000-0000-c000-000000000000', 'https://graph.microsoft.com', 'https://graph.microsoft.com/'] as const;

export const TOKEN_DEFAULTS = {
  authorityHost: 'https://login.microsoftonline.com',
  audiences: [...GRAPH_AUDIENCES],
  clockSkewSec: 60,
  cacheMaxEntries: 10_000,
  // Entra: "a reasonable frequency to check for updates to the public keys ... is every 24 hours".
  jwksRefreshIntervalMs: 24 * 60 * 60 * 1000,
  unknownKidMinIntervalMs: 5 * 60 * 1000,
  missingKeysRetryMs: 10_000,
  fetchTimeoutMs: 10_000,
} as const;
