/** The validated, defaulted, frozen configuration the composition root hands to each module. */
import type { ApprovalsConfigSlice, OverridesConfigSlice } from '../approval/config.js';
import type { TokenConfig } from '../token/config.js';
import type { DirectoryConfig } from '../directory/config.js';
import type { PolicyConfig, AuditConfig } from '../policy/config.js';

export interface ListenConfig {
  host: string;
  port: number;
}

export interface Config {
  /** Directory of the config file; relative paths in it were resolved against this. */
  baseDir: string;
  server: {
    listen: ListenConfig;
    publicUrl?: string;
    tls: { enabled: boolean; cert: string; key: string };
    maxBodyBytes: number;
    maxUrlLength: number;
    requestTimeoutMs: number;
    keepAliveTimeoutMs: number;
    shutdownGraceMs: number;
  };
  upstream: {
    url: string;
    ca?: string;
    connections: number;
    connectTimeoutMs: number;
    headersTimeoutMs: number;
    bodyTimeoutMs: number;
  };
  identity: TokenConfig & { ca?: string };
  admin: {
    listen: ListenConfig;
  };
  log: { level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'; accessLog: boolean };
  state: { dir: string };
  policy: PolicyConfig;
  audit: AuditConfig;
  directory: Omit<DirectoryConfig, 'stateDir'>;
  approvals: ApprovalsConfigSlice;
  overrides: OverridesConfigSlice;
}
