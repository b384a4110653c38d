/**
 * Starts the whole product for integration tests, on loopback and port 0: the Entra +
 * Graph emulator, and graphwarden (TLS on) pointed at it. Tests drive it with the
 * official Graph SDK and msal-node.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startEmulator, type Emulator, type EmulatorOptions } from '../../src/emulator/index.js';
import { parseConfig } from '../../src/config/load.js';
import { createApp, type App } from '../../src/app.js';
import { createLogger } from '../../src/log.js';
import { testPki } from './pki.js';

export interface Stack {
  emulator: Emulator;
  app: App;
  proxyUrl: string;
  adminUrl: string;
  tenantId: string;
  stateDir: string;
  close(): Promise<void>;
}

export async function startStack(opts: { emulator?: Partial<EmulatorOptions>; config?: Record<string, unknown>; sync?: boolean } = {}): Promise<Stack> {
  const pki = testPki();
  const emulator = await startEmulator({ tls: pki.server, ...opts.emulator });
  const tenantId = emulator.tenants[0]!.id;
  const stateDir = await mkdtemp(path.join(os.tmpdir(), 'gw-state-'));
  // The read-only connector app the emulator seeds, so graphwarden knows the directory.
  const connector = emulator.tenants[0]!.agents['graphwarden-connector']!;
  const secretFile = path.join(stateDir, 'connector.secret');
  await writeFile(secretFile, connector.clientSecret!, { mode: 0o600 });
  const cfg = parseConfig(
    {
      server: { listen: { host: '127.0.0.1', port: 0 }, tls: { enabled: true, cert: 'server.crt', key: 'server.key' } },
      upstream: { url: emulator.url, ca: pki.caCertPath, headersTimeoutMs: 5000 },
      identity: { authorityHost: emulator.url, allowedTenants: emulator.tenants.map((t) => t.id), unknownKidMinIntervalMs: 0 },
      admin: { listen: { host: '127.0.0.1', port: 0 } },
      log: { level: 'silent', accessLog: false },
      state: { dir: stateDir },
      directory: {
        tenants: [{ tenantId, authorityHost: emulator.url, graphBaseUrl: emulator.url, credentials: { clientId: connector.appId, clientSecretFile: secretFile } }],
      },
      policy: { watch: false },
      ...opts.config,
    },
    'integration test',
    pki.dir,
  );
  const app = await createApp(cfg, { logger: createLogger({ level: process.env.GW_TEST_LOG ?? 'silent' }) });
  const { proxyUrl, adminUrl } = await app.start();
  if (opts.sync !== false) {
    const summary = await app.syncDirectory();
    if (!summary?.ok) throw new Error(`directory sync against the emulator failed: ${JSON.stringify(summary)}`);
  }
  return {
    emulator,
    app,
    proxyUrl,
    adminUrl,
    tenantId,
    stateDir,
    async close() {
      await app.stop();
      await emulator.close();
      await rm(stateDir, { recursive: true, force: true });
    },
  };
}
