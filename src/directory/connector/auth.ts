/**
 * Per-tenant app-only token acquisition for the connector: an @azure/msal-node confidential client
 * (client secret or certificate) whose credentials come from env variables or files.
 * Owns reading credentials; never logs or returns them, only the access token to the Graph client.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfidentialClientApplication, LogLevel, type Configuration } from '@azure/msal-node';

export interface TenantCredentials {
  /** The connector app registration's application (client) id. */
  clientId: string;
  /** Name of an environment variable holding the client secret. */
  clientSecretEnv?: string;
  /** Path of a file holding the client secret (e.g. a mounted secret). */
  clientSecretFile?: string;
  /** Path of a PEM file with the certificate (public part) registered on the app. */
  certificateFile?: string;
  /** Path of a PEM file with the certificate's private key (may be the same file as certificateFile). */
  privateKeyFile?: string;
  /** Name of an environment variable holding the PEM private key. */
  privateKeyEnv?: string;
}

export class CredentialError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CredentialError';
  }
}

function readSecretFile(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    // The error names the file, never its content.
    throw new CredentialError(`cannot read ${what} file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

/** Resolves the credential into msal's auth fields. Exported for tests. */
export function resolveCredential(c: TenantCredentials, env: NodeJS.ProcessEnv = process.env): Pick<NonNullable<Configuration['auth']>, 'clientSecret' | 'clientCertificate'> {
  if (c.certificateFile || c.privateKeyFile || c.privateKeyEnv) {
    if (!c.certificateFile) throw new CredentialError('certificate credentials need certificateFile');
    const certPem = readSecretFile(c.certificateFile, 'certificate');
    const keyPem = c.privateKeyEnv ? env[c.privateKeyEnv] : c.privateKeyFile ? readSecretFile(c.privateKeyFile, 'private key') : certPem;
    if (!keyPem || !/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(keyPem)) throw new CredentialError('no PEM private key found for the certificate credential');
    const certBlock = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(certPem)?.[0];
    if (!certBlock) throw new CredentialError(`no PEM certificate in ${c.certificateFile}`);
    const x509 = new X509Certificate(certBlock);
    const keyBlock = /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]+?-----END [A-Z ]*PRIVATE KEY-----/.exec(keyPem)?.[0] ?? keyPem;
    return {
      clientCertificate: {
        thumbprintSha256: x509.fingerprint256.replace(/:/g, '').toLowerCase(),
        privateKey: keyBlock,
        x5c: certBlock,
      },
    };
  }
  let secret: string | undefined;
  if (c.clientSecretEnv) secret = env[c.clientSecretEnv];
  else if (c.clientSecretFile) secret = readSecretFile(c.clientSecretFile, 'client secret').trim();
  if (!secret) throw new CredentialError(c.clientSecretEnv ? `environment variable ${c.clientSecretEnv} is empty or unset` : 'no client secret or certificate configured');
  return { clientSecret: secret };
}

export interface TokenProviderOptions {
  tenantId: string;
  /** e.g. https://login.microsoftonline.com (or the emulator's URL). */
  authorityHost: string;
  credentials: TenantCredentials;
  /** Resource scope, default https://graph.microsoft.com/.default. */
  scope?: string;
  env?: NodeJS.ProcessEnv;
}

export interface TokenProvider {
  getToken(force: boolean): Promise<string>;
}

export function createTokenProvider(opts: TokenProviderOptions): TokenProvider {
  const host = new URL(opts.authorityHost);
  const authority = `${host.origin}${host.pathname.replace(/\/$/, '')}/${opts.tenantId}`;
  const cca = new ConfidentialClientApplication({
    auth: {
      clientId: opts.credentials.clientId,
      authority,
      // Lets msal trust a non-Microsoft authority host (the emulator) without instance discovery.
      knownAuthorities: [host.host],
      ...resolveCredential(opts.credentials, opts.env),
    },
    system: {
      loggerOptions: { piiLoggingEnabled: false, logLevel: LogLevel.Error, loggerCallback: () => undefined },
    },
  });
  const scope = opts.scope ?? 'https://graph.microsoft.com/.default';
  return {
    async getToken(force: boolean): Promise<string> {
      const res = await cca.acquireTokenByClientCredential({ scopes: [scope], skipCache: force });
      if (!res?.accessToken) throw new CredentialError(`no access token for tenant ${opts.tenantId}`);
      return res.accessToken;
    },
  };
}
