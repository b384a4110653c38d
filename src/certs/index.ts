/**
 * Local PKI for development, the demo, the emulator and tests: a CA and leaf
 * certificates signed by it. Owns certificate generation and the on-disk layout of
 * `certs/`; does not load certificates for listeners (server/ does that).
 * Production certificates are mounted instead; nothing here is used for them.
 */
import { generateKeyPairSync, randomBytes, createHash } from 'node:crypto';
import { mkdir, writeFile, readFile, access } from 'node:fs/promises';
import path from 'node:path';
import forge from 'node-forge';

export interface KeyAndCert {
  keyPem: string;
  certPem: string;
}

export interface LocalPki {
  ca: KeyAndCert;
  server: KeyAndCert;
}

function newRsaKey(): { privatePem: string; publicPem: string } {
  // Node's native generator: node-forge's pure-JS RSA generation takes seconds.
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

function serial(): string {
  // Positive 16-byte serial (leading bit cleared), as RFC 5280 asks.
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f;
  return b.toString('hex');
}

interface CertOptions {
  commonName: string;
  days: number;
  isCa: boolean;
  hosts?: string[];
  now?: Date;
}

function buildCert(
  subjectKeyPublicPem: string,
  issuer: { keyPem: string; cert?: forge.pki.Certificate },
  opts: CertOptions,
): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(subjectKeyPublicPem);
  cert.serialNumber = serial();
  const now = opts.now ?? new Date();
  // Back-date a little so a client with a slightly slow clock accepts it.
  cert.validity.notBefore = new Date(now.getTime() - 5 * 60_000);
  cert.validity.notAfter = new Date(now.getTime() + opts.days * 86_400_000);
  const subject = [{ name: 'commonName', value: opts.commonName }, { name: 'organizationName', value: 'graphwarden local' }];
  cert.setSubject(subject);
  cert.setIssuer(issuer.cert ? issuer.cert.subject.attributes : subject);
  const extensions: object[] = [
    { name: 'basicConstraints', cA: opts.isCa, critical: true },
    opts.isCa
      ? { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true }
      : { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ];
  if (!opts.isCa) {
    extensions.push({ name: 'extKeyUsage', serverAuth: true, clientAuth: true });
    const altNames = (opts.hosts ?? []).map((h) =>
      /^[\d.]+$/.test(h) || h.includes(':') ? { type: 7, ip: h } : { type: 2, value: h },
    );
    extensions.push({ name: 'subjectAltName', altNames });
  }
  cert.setExtensions(extensions);
  cert.sign(forge.pki.privateKeyFromPem(issuer.keyPem), forge.md.sha256.create());
  return cert;
}

export function createCa(commonName = 'graphwarden local CA', days = 825): KeyAndCert {
  const key = newRsaKey();
  const cert = buildCert(key.publicPem, { keyPem: key.privatePem }, { commonName, days, isCa: true });
  return { keyPem: key.privatePem, certPem: forge.pki.certificateToPem(cert) };
}

/** A leaf certificate for `hosts` (DNS names or IPs) signed by `ca`; usable for TLS server and client auth. */
export function issueCert(ca: KeyAndCert, commonName: string, hosts: string[], days = 397): KeyAndCert {
  const key = newRsaKey();
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const cert = buildCert(key.publicPem, { keyPem: ca.keyPem, cert: caCert }, { commonName, days, isCa: false, hosts });
  return { keyPem: key.privatePem, certPem: forge.pki.certificateToPem(cert) };
}

/** A self-signed certificate for client-assertion credentials (Entra key credentials are usually self-signed). */
export function createSelfSignedCert(commonName: string, days = 365): KeyAndCert {
  const key = newRsaKey();
  const cert = buildCert(key.publicPem, { keyPem: key.privatePem }, { commonName, days, isCa: false, hosts: [] });
  return { keyPem: key.privatePem, certPem: forge.pki.certificateToPem(cert) };
}

export const DEFAULT_HOSTS = ['localhost', '127.0.0.1', '::1'];

export function createLocalPki(hosts: string[] = DEFAULT_HOSTS): LocalPki {
  const ca = createCa();
  return { ca, server: issueCert(ca, hosts[0] ?? 'localhost', hosts) };
}

/** SHA-1 / SHA-256 thumbprints of a PEM certificate (Entra's customKeyIdentifier and x5t / x5t#S256). */
export function thumbprints(certPem: string): { sha1Hex: string; sha256Hex: string; sha1B64u: string; sha256B64u: string } {
  const der = Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(forge.pki.certificateFromPem(certPem))).getBytes(), 'binary');
  const s1 = createHash('sha1').update(der).digest();
  const s256 = createHash('sha256').update(der).digest();
  return { sha1Hex: s1.toString('hex').toUpperCase(), sha256Hex: s256.toString('hex').toUpperCase(), sha1B64u: s1.toString('base64url'), sha256B64u: s256.toString('base64url') };
}

/** The certificate body (base64 DER, no PEM armour), as Entra keyCredentials.key and x5c carry it. */
export function certDerBase64(certPem: string): string {
  return certPem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
}

export const CERT_FILES = { caCert: 'ca.crt', caKey: 'ca.key', serverCert: 'server.crt', serverKey: 'server.key' } as const;

async function exists(p: string): Promise<boolean> {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes a CA and a server certificate into `dir` (keys mode 0600). Keeps an existing
 * CA unless `force`, so clients that already trust it keep working after re-issue.
 */
export async function writeLocalPki(dir: string, hosts: string[] = DEFAULT_HOSTS, force = false): Promise<{ dir: string; reusedCa: boolean }> {
  await mkdir(dir, { recursive: true });
  const caCertPath = path.join(dir, CERT_FILES.caCert);
  const caKeyPath = path.join(dir, CERT_FILES.caKey);
  let ca: KeyAndCert;
  let reusedCa = false;
  if (!force && (await exists(caCertPath)) && (await exists(caKeyPath))) {
    ca = { certPem: await readFile(caCertPath, 'utf8'), keyPem: await readFile(caKeyPath, 'utf8') };
    reusedCa = true;
  } else {
    ca = createCa();
    await writeFile(caKeyPath, ca.keyPem, { mode: 0o600 });
    await writeFile(caCertPath, ca.certPem);
  }
  const server = issueCert(ca, hosts[0] ?? 'localhost', hosts);
  await writeFile(path.join(dir, CERT_FILES.serverKey), server.keyPem, { mode: 0o600 });
  await writeFile(path.join(dir, CERT_FILES.serverCert), server.certPem);
  return { dir, reusedCa };
}
