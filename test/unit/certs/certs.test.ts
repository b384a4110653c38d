import { describe, it, expect } from 'vitest';
import https from 'node:https';
import { X509Certificate } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { testPki } from '../../support/pki.js';
import { createCa, issueCert, thumbprints } from '../../../src/certs/index.js';

describe('local PKI', () => {
  it('issues a server certificate that chains to the CA and names loopback hosts', () => {
    const ca = createCa('t');
    const leaf = issueCert(ca, 'localhost', ['localhost', '127.0.0.1']);
    const caX = new X509Certificate(ca.certPem);
    const leafX = new X509Certificate(leaf.certPem);
    expect(leafX.verify(caX.publicKey)).toBe(true);
    expect(leafX.checkHost('localhost')).toBe('localhost');
    expect(leafX.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(leafX.checkHost('graph.microsoft.com')).toBeUndefined();
    expect(caX.ca).toBe(true);
    expect(leafX.ca).toBe(false);
  });

  it('thumbprints match Node’s own fingerprints', () => {
    const leaf = issueCert(createCa('t'), 'x', ['x']);
    const x = new X509Certificate(leaf.certPem);
    expect(thumbprints(leaf.certPem).sha1Hex).toBe(x.fingerprint.replace(/:/g, ''));
    expect(thumbprints(leaf.certPem).sha256Hex).toBe(x.fingerprint256.replace(/:/g, ''));
  });

  it('workers trust the test CA through NODE_EXTRA_CA_CERTS (no per-client CA option)', async () => {
    const pki = testPki();
    const server = https.createServer({ key: pki.server.keyPem, cert: pki.server.certPem }, (_req, res) => res.end('ok'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const { port } = server.address() as AddressInfo;
      const res = await fetch(`https://127.0.0.1:${port}/`);
      expect(await res.text()).toBe('ok');
    } finally {
      server.close();
    }
  });
});
