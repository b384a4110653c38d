/**
 * The `token` slice of the graphwarden configuration: its JSON Schema (defaults, descriptions) and
 * the mapping to `TokenVerifierOptions`. Does not load or validate files (config/ does, with ajv).
 */
import { TOKEN_DEFAULTS } from './defaults.js';
import type { TokenVerifierOptions } from './index.js';

/** The configured part of the verifier's options (defaults applied); the rest is supplied at run time. */
export type TokenConfig = Omit<TokenVerifierOptions, RuntimeOnly | 'missingKeysRetryMs'> & { missingKeysRetryMs: number };
type RuntimeOnly = 'dispatcher' | 'events' | 'now';

const GUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
const HTTPS_PATTERN = '^https://';

/** JSON Schema (draft 2020-12 / ajv) for `token:`; ajv `useDefaults` fills the defaults. */
export const tokenConfigSchema = {
  type: 'object',
  description: 'Verification of the Entra access tokens agents present (see docs/tokens.md).',
  additionalProperties: false,
  required: ['allowedTenants'],
  properties: {
    authorityHost: {
      type: 'string',
      pattern: HTTPS_PATTERN,
      default: TOKEN_DEFAULTS.authorityHost,
      description: 'Entra authority (https). Metadata is read from {authorityHost}/{tenant}/v2.0/.well-known/openid-configuration and {authorityHost}/{tenant}/.well-known/openid-configuration. Point it at the emulator to run offline.',
    },
    metadataUrlTemplate: {
      type: 'object',
      additionalProperties: false,
      description: 'Override the OpenID metadata URLs; each must contain {tenant}.',
      properties: {
        v1: { type: 'string', pattern: `${HTTPS_PATTERN}.*\\{tenant\\}`, description: 'v1 metadata URL template.' },
        v2: { type: 'string', pattern: `${HTTPS_PATTERN}.*\\{tenant\\}`, description: 'v2 metadata URL template.' },
      },
    },
    allowedTenants: {
      type: 'array',
      minItems: 1,
      uniqueItems: true,
      items: { type: 'string', pattern: GUID_PATTERN },
      description: 'Tenant ids (GUIDs) whose tokens are accepted. Tokens from any other tenant are refused before any key fetch.',
    },
    audiences: {
      type: 'array',
      minItems: 1,
      items: { type: 'string', minLength: 1 },
      default: [...TOKEN_DEFAULTS.audiences],
      description: 'Accepted `aud` values: Microsoft Graph by app id and resource URI.',
    },
    clockSkewSec: { type: 'integer', minimum: 0, maximum: 600, default: TOKEN_DEFAULTS.clockSkewSec, description: 'Tolerance on exp and nbf, seconds.' },
    cacheMaxEntries: {
      type: 'integer',
      minimum: 0,
      default: TOKEN_DEFAULTS.cacheMaxEntries,
      description: 'Bound of the verified-token cache (entries never outlive the token exp); 0 disables it.',
    },
    jwksRefreshIntervalMs: {
      type: 'integer',
      minimum: 1000,
      default: TOKEN_DEFAULTS.jwksRefreshIntervalMs,
      description: 'Periodic refresh of metadata and signing keys (Entra guidance: every 24 hours).',
    },
    unknownKidMinIntervalMs: {
      type: 'integer',
      minimum: 0,
      default: TOKEN_DEFAULTS.unknownKidMinIntervalMs,
      description: 'Minimum time between key refetches caused by an unknown key id, per tenant.',
    },
    missingKeysRetryMs: {
      type: 'integer',
      minimum: 0,
      default: TOKEN_DEFAULTS.missingKeysRetryMs,
      description: 'While a tenant has no keys loaded, minimum time between fetch attempts triggered by requests.',
    },
    fetchTimeoutMs: {
      type: 'integer',
      minimum: 100,
      default: TOKEN_DEFAULTS.fetchTimeoutMs,
      description: 'Timeout of each metadata or key fetch.',
    },
  },
} as const;

/** Builds verifier options from a validated (defaults applied) config slice plus runtime-only parts. */
export function toVerifierOptions(
  config: TokenConfig,
  runtime: Pick<TokenVerifierOptions, RuntimeOnly> = {},
): TokenVerifierOptions {
  return {
    authorityHost: config.authorityHost,
    ...(config.metadataUrlTemplate ? { metadataUrlTemplate: { ...config.metadataUrlTemplate } } : {}),
    allowedTenants: [...config.allowedTenants],
    audiences: [...config.audiences],
    clockSkewSec: config.clockSkewSec,
    cacheMaxEntries: config.cacheMaxEntries,
    jwksRefreshIntervalMs: config.jwksRefreshIntervalMs,
    unknownKidMinIntervalMs: config.unknownKidMinIntervalMs,
    missingKeysRetryMs: config.missingKeysRetryMs,
    fetchTimeoutMs: config.fetchTimeoutMs,
    ...runtime,
  };
}
