/** The loopback PKI made by global-setup, for tests that start TLS servers. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CERT_FILES, type LocalPki } from '../../src/certs/index.js';

export function testPki(): LocalPki & { dir: string; caCertPath: string } {
  const dir = process.env.GW_TEST_PKI_DIR;
  if (!dir) throw new Error('GW_TEST_PKI_DIR is not set: run tests through vitest (test/support/global-setup.ts)');
  const read = (f: string) => readFileSync(path.join(dir, f), 'utf8');
  return {
    dir,
    caCertPath: path.join(dir, CERT_FILES.caCert),
    ca: { certPem: read(CERT_FILES.caCert), keyPem: read(CERT_FILES.caKey) },
    server: { certPem: read(CERT_FILES.serverCert), keyPem: read(CERT_FILES.serverKey) },
  };
}
