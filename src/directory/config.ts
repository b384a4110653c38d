/**
 * The directory module's configuration slice: JSON Schema (defaults, descriptions) and its type,
 * plus one small loader for `--config FILE` (YAML with a `directory:` section) used by the CLI until
 * the main config assembles the slices. Owns no secrets: credentials are named by env var or file.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Ajv } from 'ajv';
import { parse as parseYaml } from 'yaml';
import type { TenantCredentials } from './connector/auth.js';

export interface DirectoryTenantConfig {
  tenantId: string;
  authorityHost: string;
  graphBaseUrl: string;
  scope: string;
  credentials: TenantCredentials;
}

export interface DirectoryConfig {
  stateDir: string;
  refreshIntervalMs: number;
  fullSyncIntervalMs: number;
  concurrency: number;
  maxRetries: number;
  requestTimeoutMs: number;
  delta: boolean;
  pim: 'required' | 'optional';
  agentIdentities: boolean;
  expiringWithinDays: number;
  longLivedDays: number;
  maxGlobalAdmins: number;
  tenants: DirectoryTenantConfig[];
}

const GUID = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';

export const directoryConfigSchema = {
  type: 'object',
  description: 'Directory model: the connector that reads each Entra tenant through Graph and the snapshot the proxy decides from.',
  additionalProperties: false,
  properties: {
    stateDir: { type: 'string', default: './state', description: 'Directory for the snapshot, delta tokens and drift log (created 0700).' },
    refreshIntervalMs: { type: 'integer', minimum: 10_000, default: 300_000, description: 'How often to refresh the snapshot in the background.' },
    fullSyncIntervalMs: { type: 'integer', minimum: 60_000, default: 86_400_000, description: 'A full re-read at least this often, even when delta tokens are valid (owners are not covered by Graph delta).' },
    concurrency: { type: 'integer', minimum: 1, maximum: 64, default: 8, description: 'Concurrent Graph requests per tenant.' },
    maxRetries: { type: 'integer', minimum: 0, maximum: 20, default: 6, description: 'Retries of a Graph request on 429/503/504 (Retry-After honoured, else exponential backoff with jitter).' },
    requestTimeoutMs: { type: 'integer', minimum: 1000, default: 60_000, description: 'Timeout of one Graph request.' },
    delta: { type: 'boolean', default: true, description: 'Refresh with Graph delta queries (users, groups, applications, servicePrincipals, oauth2PermissionGrants).' },
    pim: { enum: ['required', 'optional'], default: 'optional', description: "'optional': a tenant whose PIM schedules cannot be read (no licence) syncs without them, with a warning." },
    agentIdentities: { type: 'boolean', default: true, description: 'Read Entra Agent ID objects (beta) when present.' },
    expiringWithinDays: { type: 'integer', minimum: 1, default: 30, description: 'Credentials ending within this many days are reported as expiring.' },
    longLivedDays: { type: 'integer', minimum: 1, default: 365, description: 'Credentials valid for longer than this are reported as long-lived.' },
    maxGlobalAdmins: { type: 'integer', minimum: 1, default: 4, description: 'The report flags more permanent-or-active Global Administrators than this.' },
    tenants: {
      type: 'array',
      default: [],
      description: 'Tenants to discover, each with its own read-only connector app registration.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['tenantId', 'credentials'],
        properties: {
          tenantId: { type: 'string', pattern: GUID, description: 'Tenant id (GUID).' },
          authorityHost: { type: 'string', default: 'https://login.microsoftonline.com', description: 'Entra authority host (https URL).' },
          graphBaseUrl: { type: 'string', default: 'https://graph.microsoft.com', description: 'Graph origin the connector reads from.' },
          scope: { type: 'string', default: 'https://graph.microsoft.com/.default', description: 'Scope requested with client credentials.' },
          credentials: {
            type: 'object',
            additionalProperties: false,
            required: ['clientId'],
            description: 'Connector credentials: a client secret from an env var or file, or a certificate (PEM files). Never inline secrets.',
            properties: {
              clientId: { type: 'string', pattern: GUID, description: 'Application (client) id of the connector app.' },
              clientSecretEnv: { type: 'string', description: 'Environment variable holding the client secret.' },
              clientSecretFile: { type: 'string', description: 'File holding the client secret.' },
              certificateFile: { type: 'string', description: 'PEM certificate registered on the app.' },
              privateKeyFile: { type: 'string', description: 'PEM private key of the certificate (defaults to certificateFile).' },
              privateKeyEnv: { type: 'string', description: 'Environment variable holding the PEM private key.' },
            },
          },
        },
      },
    },
  },
} as const;

export class DirectoryConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid directory configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'DirectoryConfigError';
    this.problems = problems;
  }
}

/** Validates a `directory` section (applying defaults) and returns it frozen. */
export function validateDirectoryConfig(section: unknown): DirectoryConfig {
  const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });
  const validate = ajv.compile(directoryConfigSchema);
  const copy: unknown = structuredClone(section ?? {});
  if (!validate(copy)) {
    throw new DirectoryConfigError((validate.errors ?? []).map((e) => `directory${e.instancePath} ${e.message ?? 'is invalid'}`));
  }
  const cfg = copy as DirectoryConfig;
  const problems: string[] = [];
  cfg.tenants.forEach((t, i) => {
    const c = t.credentials;
    if (!c.clientSecretEnv && !c.clientSecretFile && !c.certificateFile) problems.push(`directory/tenants/${i}/credentials needs clientSecretEnv, clientSecretFile or certificateFile`);
    for (const [k, v] of [['authorityHost', t.authorityHost], ['graphBaseUrl', t.graphBaseUrl]] as const) {
      try {
        if (new URL(v).protocol !== 'https:') problems.push(`directory/tenants/${i}/${k} must be an https URL`);
      } catch {
        problems.push(`directory/tenants/${i}/${k} is not a URL`);
      }
    }
  });
  if (problems.length) throw new DirectoryConfigError(problems);
  return Object.freeze(cfg);
}

/**
 * Reads a YAML config file and returns its validated `directory:` section. In graphwarden's own config
 * file the snapshot lives in `<state.dir>/directory` (what `serve` uses), and relative paths are
 * relative to the file, so `sync`, `permissions` and `report` read and write the same snapshot.
 */
export async function loadDirectoryConfigFile(file: string): Promise<DirectoryConfig> {
  const doc: unknown = parseYaml(await readFile(file, 'utf8'));
  const top = doc && typeof doc === 'object' ? (doc as Record<string, unknown>) : {};
  const section = { ...((top.directory as Record<string, unknown> | undefined) ?? {}) };
  const state = top.state as { dir?: unknown } | undefined;
  const base = dirname(resolve(file));
  if (section.stateDir === undefined) section.stateDir = join(resolve(base, typeof state?.dir === 'string' ? state.dir : 'state'), 'directory');
  const tenants = Array.isArray(section.tenants) ? (section.tenants as Array<{ credentials?: Record<string, unknown> }>) : [];
  for (const t of tenants) {
    for (const k of ['clientSecretFile', 'certificateFile', 'privateKeyFile']) {
      const v = t.credentials?.[k];
      if (typeof v === 'string') t.credentials![k] = resolve(base, v);
    }
  }
  return validateDirectoryConfig(section);
}
