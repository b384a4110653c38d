/**
 * The one configuration JSON Schema, assembled from each module's slice. Owns shape,
 * defaults and descriptions; does not read files (load.ts does).
 */
import { tokenConfigSchema } from '../token/config.js';
import { directoryConfigSchema } from '../directory/config.js';
import { POLICY_CONFIG_SCHEMA, AUDIT_CONFIG_SCHEMA } from '../policy/config.js';
import { approvalsConfigSchema, overridesConfigSchema } from '../approval/config.js';

const listen = (host: string, port: number) => ({
  type: 'object',
  additionalProperties: false,
  default: { host, port },
  properties: {
    host: { type: 'string', default: host, description: 'Interface to bind.' },
    port: { type: 'integer', minimum: 0, maximum: 65535, default: port, description: 'TCP port (0 = ephemeral).' },
  },
});

export const serverSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  description: 'The proxy listener agents call instead of graph.microsoft.com.',
  properties: {
    listen: listen('0.0.0.0', 8443),
    publicUrl: {
      type: 'string',
      format: 'uri',
      pattern: '^https?://[^/]+$',
      description:
        'Origin agents use to reach graphwarden (e.g. https://graphwarden.internal:8443). Graph paging links in responses are rewritten to it. Default: the scheme of the listener plus the Host header of each request.',
    },
    tls: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enabled: { type: 'boolean', default: true, description: 'Serve HTTPS. The Graph SDKs only attach tokens to https hosts; turn off only behind a TLS-terminating sidecar.' },
        cert: { type: 'string', default: 'certs/server.crt', description: 'PEM certificate chain (relative to the config file).' },
        key: { type: 'string', default: 'certs/server.key', description: 'PEM private key (relative to the config file).' },
      },
    },
    maxBodyBytes: { type: 'integer', minimum: 1024, default: 4 * 1024 * 1024, description: 'Largest request body accepted (Graph itself caps most JSON request bodies at 4 MB).' },
    maxUrlLength: { type: 'integer', minimum: 256, default: 8192, description: 'Longest request target accepted.' },
    requestTimeoutMs: { type: 'integer', minimum: 1000, default: 60_000, description: 'Time a client has to send its whole request.' },
    keepAliveTimeoutMs: { type: 'integer', minimum: 1000, default: 65_000, description: 'Idle keep-alive time for client connections.' },
    shutdownGraceMs: { type: 'integer', minimum: 0, default: 10_000, description: 'On SIGTERM, time given to in-flight calls before connections are closed.' },
  },
} as const;

export const upstreamSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  description: 'Where allowed calls are forwarded.',
  properties: {
    url: { type: 'string', format: 'uri', pattern: '^https?://[^/]+/?$', default: 'https://graph.microsoft.com', description: 'Microsoft Graph origin (national clouds: https://graph.microsoft.us, https://microsoftgraph.chinacloudapi.cn; or the emulator).' },
    ca: { type: 'string', description: 'Extra PEM CA bundle to trust for the upstream (e.g. the emulator CA). Relative to the config file.' },
    connections: { type: 'integer', minimum: 1, default: 128, description: 'Keep-alive connection pool size to Graph.' },
    connectTimeoutMs: { type: 'integer', minimum: 100, default: 10_000 },
    headersTimeoutMs: { type: 'integer', minimum: 100, default: 60_000, description: 'Time Graph has to send response headers; past it the agent gets 504.' },
    bodyTimeoutMs: { type: 'integer', minimum: 100, default: 60_000, description: 'Longest pause between response body chunks. Keeping it equal to headersTimeoutMs is cheapest: the upstream client then reuses one timer per call instead of replacing it between headers and body.' },
  },
} as const;

/** Token verification is token/'s slice; the config adds where to find an extra CA for the authority. */
export const identitySchema = {
  ...tokenConfigSchema,
  properties: {
    ...tokenConfigSchema.properties,
    ca: { type: 'string', description: 'Extra PEM CA bundle to trust for the authority (e.g. the emulator CA). Relative to the config file.' },
  },
} as const;

export const adminSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  description: 'The admin listener: /metrics, /healthz, /readyz and the admin API (/api/v1, approvers authenticate with bearer tokens configured under approvals.approvers). Keep it off the agents’ network.',
  properties: {
    listen: listen('127.0.0.1', 9464),
  },
} as const;

export const logSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    level: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info' },
    accessLog: { type: 'boolean', default: true, description: 'One line per proxied call (method, path without query, status, decision, latency; never tokens or bodies).' },
  },
} as const;

export const stateSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    dir: { type: 'string', default: 'state', description: 'Directory for snapshots, the audit log and approvals (relative to the config file).' },
  },
} as const;

// The directory keeps its snapshot under <state.dir>/directory, so its own stateDir is not a config key here.
const { stateDir: _directoryStateDir, ...directoryProperties } = directoryConfigSchema.properties;
export const directorySchema = { ...directoryConfigSchema, default: {}, properties: directoryProperties } as const;

/** Modules register their slices here; `buildSchema()` assembles the whole document. */
const slices: Record<string, object> = {
  server: serverSchema,
  upstream: upstreamSchema,
  identity: identitySchema,
  admin: adminSchema,
  log: logSchema,
  state: stateSchema,
  policy: POLICY_CONFIG_SCHEMA,
  audit: AUDIT_CONFIG_SCHEMA,
  directory: directorySchema,
  approvals: approvalsConfigSchema,
  overrides: overridesConfigSchema,
};

export function buildSchema(): object {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'https://graphwarden.dev/schemas/config.json',
    title: 'graphwarden configuration',
    type: 'object',
    additionalProperties: false,
    required: ['identity'],
    properties: slices,
  };
}
