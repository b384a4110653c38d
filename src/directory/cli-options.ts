/**
 * Shared option handling for the directory CLI commands (sync, permissions, report): a `--config`
 * YAML file's `directory:` section, or flags for a single tenant. Owns no output (no console here).
 */
import { loadDirectoryConfigFile, validateDirectoryConfig, type DirectoryConfig } from './config.js';

export const DIRECTORY_CLI_OPTIONS = {
  config: { type: 'string' },
  'state-dir': { type: 'string' },
  tenant: { type: 'string' },
  'client-id': { type: 'string' },
  'client-secret-env': { type: 'string' },
  'client-secret-file': { type: 'string' },
  certificate: { type: 'string' },
  'private-key': { type: 'string' },
  'authority-host': { type: 'string' },
  'graph-url': { type: 'string' },
} as const;

export const DIRECTORY_CLI_USAGE = `Directory options:
  --config FILE               YAML config with a 'directory:' section
  --state-dir DIR             directory of the snapshot, delta tokens and drift log; default <state.dir>/directory of --config, else ./state
  --tenant GUID               tenant to read (instead of --config)
  --client-id GUID            connector app id
  --client-secret-env VAR     environment variable holding the client secret
  --client-secret-file FILE   file holding the client secret
  --certificate FILE          PEM certificate (with --private-key FILE, or key in the same file)
  --authority-host URL        Entra authority host (default https://login.microsoftonline.com)
  --graph-url URL             Graph origin (default https://graph.microsoft.com)`;

export type DirectoryCliValues = { [K in keyof typeof DIRECTORY_CLI_OPTIONS]?: string | undefined };

/** Builds the directory config from `--config` or flags; flags override the file's stateDir. */
export async function directoryConfigFromArgs(v: DirectoryCliValues): Promise<DirectoryConfig> {
  let cfg: DirectoryConfig;
  if (v.config) {
    cfg = await loadDirectoryConfigFile(v.config);
  } else {
    const tenants = v.tenant
      ? [
          {
            tenantId: v.tenant,
            ...(v['authority-host'] ? { authorityHost: v['authority-host'] } : {}),
            ...(v['graph-url'] ? { graphBaseUrl: v['graph-url'] } : {}),
            credentials: {
              clientId: v['client-id'] ?? '',
              ...(v['client-secret-env'] ? { clientSecretEnv: v['client-secret-env'] } : {}),
              ...(v['client-secret-file'] ? { clientSecretFile: v['client-secret-file'] } : {}),
              ...(v.certificate ? { certificateFile: v.certificate } : {}),
              ...(v['private-key'] ? { privateKeyFile: v['private-key'] } : {}),
            },
          },
        ]
      : [];
    cfg = validateDirectoryConfig({ tenants });
  }
  return v['state-dir'] ? Object.freeze({ ...cfg, stateDir: v['state-dir'] }) : cfg;
}
