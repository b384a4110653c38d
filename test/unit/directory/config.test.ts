import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveCredential } from '../../../src/directory/connector/auth.js';
import { DirectoryConfigError, loadDirectoryConfigFile, validateDirectoryConfig } from '../../../src/directory/config.js';
import { createSelfSignedCert } from '../../../src/certs/index.js';

const TID = '11111111-1111-1111-1111-111111111111';
const CID = '22222222-2222-2222-2222-222222222222';

describe('directory config', () => {
  it('applies defaults', () => {
    const c = validateDirectoryConfig({ tenants: [{ tenantId: TID, credentials: { clientId: CID, clientSecretEnv: 'X' } }] });
    expect(c).toMatchObject({ stateDir: './state', refreshIntervalMs: 300_000, delta: true, pim: 'optional', concurrency: 8 });
    expect(c.tenants[0]).toMatchObject({ authorityHost: 'https://login.microsoftonline.com', graphBaseUrl: 'https://graph.microsoft.com' });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('lists every problem: unknown keys, bad GUIDs, no credential, inline secrets, non-https hosts', () => {
    try {
      validateDirectoryConfig({ bogus: 1, tenants: [{ tenantId: 'nope', credentials: { clientId: CID, clientSecret: 'inline' } }] });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(DirectoryConfigError);
      const p = (err as DirectoryConfigError).problems.join('\n');
      expect(p).toMatch(/additional properties/);
      expect(p).toMatch(/tenantId/);
    }
    expect(() => validateDirectoryConfig({ tenants: [{ tenantId: TID, credentials: { clientId: CID } }] })).toThrow(/needs clientSecretEnv/);
    expect(() => validateDirectoryConfig({ tenants: [{ tenantId: TID, graphBaseUrl: 'http://graph', credentials: { clientId: CID, clientSecretEnv: 'X' } }] })).toThrow(/https/);
  });

  it('loads the directory section of a YAML file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gw-dircfg-'));
    try {
      const f = join(dir, 'c.yaml');
      await writeFile(f, `server: {port: 1}\ndirectory:\n  stateDir: /var/lib/gw\n  tenants:\n    - tenantId: ${TID}\n      credentials: {clientId: ${CID}, clientSecretFile: /run/secret}\n`);
      const c = await loadDirectoryConfigFile(f);
      expect(c.stateDir).toBe('/var/lib/gw');
      expect(c.tenants[0]?.credentials.clientSecretFile).toBe('/run/secret');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('connector credentials', () => {
  it('reads a secret from env or file and names (never shows) what is missing', async () => {
    expect(resolveCredential({ clientId: CID, clientSecretEnv: 'S' }, { S: 'abc' })).toEqual({ clientSecret: 'abc' });
    expect(() => resolveCredential({ clientId: CID, clientSecretEnv: 'S' }, {})).toThrow(/S is empty or unset/);
    const dir = await mkdtemp(join(tmpdir(), 'gw-cred-'));
    try {
      await writeFile(join(dir, 's'), 'file-secret\n');
      expect(resolveCredential({ clientId: CID, clientSecretFile: join(dir, 's') })).toEqual({ clientSecret: 'file-secret' });
      expect(() => resolveCredential({ clientId: CID, clientSecretFile: join(dir, 'missing') })).toThrow(/ENOENT/);
      const leaf = createSelfSignedCert('connector', 30);
      await writeFile(join(dir, 'c.pem'), leaf.certPem);
      await writeFile(join(dir, 'k.pem'), leaf.keyPem);
      const r = resolveCredential({ clientId: CID, certificateFile: join(dir, 'c.pem'), privateKeyFile: join(dir, 'k.pem') });
      expect(r.clientCertificate?.thumbprintSha256).toMatch(/^[0-9a-f]{64}$/);
      expect(r.clientCertificate?.privateKey).toContain('PRIVATE KEY');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
