/** `graphwarden emulator`: runs the local Entra + Graph emulator and prints how to use it. */
import { parseArgs } from 'node:util';
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createLocalPki, CERT_FILES } from '../certs/index.js';
import { startEmulator } from '../emulator/index.js';

export const usage = `Usage: graphwarden emulator [options]

Runs a local imitation of Entra ID (login.microsoftonline.com) and Microsoft Graph
(/v1.0, /beta) over seeded synthetic tenants, on one HTTPS origin. Local use only:
it prints the seeded agents' client secrets and test users' passwords.

  --port N            listen port (default 0: pick a free one)
  --host H            listen address (default 127.0.0.1)
  --seed S            seed for deterministic tenants, ids and secrets (default graphwarden)
  --size N            approximate directory objects per tenant (default 2000; 1000000 works)
  --tenants N         number of tenants (default 1)
  --latency-ms N      delay added to every Graph response (default 0)
  --throttle-every N  answer every Nth Graph request with 429 + Retry-After
  --retry-after N     Retry-After seconds for throttled requests (default 10)
  --public-url URL    base URL used in @odata.nextLink / deltaLink (default: its own URL)
  --certs DIR         TLS certificate from DIR/server.crt and DIR/server.key
                      (without it: a new CA and certificate in memory; the CA is written
                      to --ca-out so clients can trust it)
  --ca-out FILE       where to write that CA certificate (default: in the temp directory);
                      cert-agent's key and certificate are written next to it`;

function intOption(name: string, raw: string | undefined, def: number): number {
  if (raw === undefined) return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer (got '${raw}')`);
  return n;
}

export async function run(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        port: { type: 'string' }, host: { type: 'string', default: '127.0.0.1' }, seed: { type: 'string', default: 'graphwarden' },
        size: { type: 'string' }, tenants: { type: 'string' }, 'latency-ms': { type: 'string' }, 'throttle-every': { type: 'string' },
        'retry-after': { type: 'string' }, 'public-url': { type: 'string' }, certs: { type: 'string' }, 'ca-out': { type: 'string' },
      },
    });
  } catch (e) {
    console.error(`graphwarden emulator: ${(e as Error).message}\n\n${usage}`);
    return 2;
  }
  const { values } = parsed;
  let port: number, size: number, tenants: number, latencyMs: number, throttleEvery: number, retryAfter: number;
  try {
    port = intOption('port', values.port, 0);
    size = intOption('size', values.size, 2000);
    tenants = Math.max(1, intOption('tenants', values.tenants, 1));
    latencyMs = intOption('latency-ms', values['latency-ms'], 0);
    throttleEvery = intOption('throttle-every', values['throttle-every'], 0);
    retryAfter = intOption('retry-after', values['retry-after'], 10);
  } catch (e) {
    console.error(`graphwarden emulator: ${(e as Error).message}`);
    return 2;
  }
  const host = values.host;
  let tls: { keyPem: string; certPem: string };
  let trust: string;
  if (values.certs) {
    const dir = path.resolve(values.certs);
    const certFile = path.join(dir, CERT_FILES.serverCert);
    const keyFile = path.join(dir, CERT_FILES.serverKey);
    if (!existsSync(certFile) || !existsSync(keyFile)) {
      console.error(`graphwarden emulator: ${certFile} and ${keyFile} are needed (run \`graphwarden certs --out ${values.certs}\`)`);
      return 2;
    }
    tls = { certPem: readFileSync(certFile, 'utf8'), keyPem: readFileSync(keyFile, 'utf8') };
    const ca = path.join(dir, CERT_FILES.caCert);
    trust = existsSync(ca) ? ca : certFile;
  } else {
    const pki = createLocalPki([...new Set([host, 'localhost', '127.0.0.1', '::1'])]);
    tls = pki.server;
    trust = path.resolve(values['ca-out'] ?? path.join(os.tmpdir(), 'graphwarden-emulator-ca.crt'));
    await writeFile(trust, pki.ca.certPem, { mode: 0o644 });
  }

  const emu = await startEmulator({
    host, port, tls, seed: values.seed, size, tenants, latencyMs,
    throttle: throttleEvery > 0 ? { everyNth: throttleEvery, retryAfterSec: retryAfter } : null,
    ...(values['public-url'] ? { publicUrl: values['public-url'] } : {}),
  });
  const authorityHost = new URL(emu.url).host;
  const out: string[] = [];
  out.push(`graphwarden emulator listening on ${emu.url}`);
  out.push('  LOCAL EMULATOR ONLY: the secrets and passwords below are synthetic and printed on purpose.');
  out.push(`  Entra: ${emu.url}/{tenant}/v2.0/.well-known/openid-configuration   Graph: ${emu.url}/v1.0 and ${emu.url}/beta`);
  out.push(`  Trust its certificate: NODE_EXTRA_CA_CERTS=${trust}`);
  if (latencyMs) out.push(`  Latency: ${latencyMs} ms per Graph response`);
  if (throttleEvery) out.push(`  Throttling: every ${throttleEvery}th Graph request gets 429, Retry-After ${retryAfter}`);
  for (const t of emu.tenants) {
    out.push('', `Tenant ${t.displayName}: ${t.id} (${t.primaryDomain})`);
    out.push('  Agents (client id / secret / Graph permissions):');
    for (const [name, a] of Object.entries(t.agents)) {
      const cred = a.clientSecret ? `secret ${a.clientSecret}` : a.certificate ? `certificate sha256 ${a.certificate.thumbprintSha256Hex}` : 'public client (ROPC)';
      out.push(`    ${name.padEnd(22)} ${a.appId}  ${cred}  ${a.appRoles.join(', ') || '(delegated)'}`);
    }
    const cert = t.agents['cert-agent']?.certificate;
    if (cert) {
      // The certificate agent needs its private key to sign client assertions; write it next to the CA file.
      const base = path.join(path.dirname(trust), `cert-agent.${t.primaryDomain}`);
      await writeFile(`${base}.key`, cert.keyPem, { mode: 0o600 });
      await writeFile(`${base}.crt`, cert.certPem, { mode: 0o644 });
      out.push(`  cert-agent key and certificate: ${base}.key, ${base}.crt`);
    }
    out.push('  Users (UPN / password):');
    for (const [name, u] of Object.entries(t.users)) {
      out.push(`    ${name.padEnd(10)} ${u.userPrincipalName}  ${u.password}${u.accountEnabled ? '' : '  (disabled)'}${u.userType === 'Guest' ? '  (guest)' : ''}`);
    }
  }
  const first = emu.tenants[0]!;
  const sample = first.agents['mail-summarizer']!;
  out.push('', 'MSAL (msal-node) settings:', `  new ConfidentialClientApplication({ auth: {`, `    clientId: '${sample.appId}',`, `    authority: '${emu.url}/${first.id}',`,
    `    clientSecret: '${sample.clientSecret ?? ''}',`, `    knownAuthorities: ['${authorityHost}'] } })`, `  scopes: ['https://graph.microsoft.com/.default']`,
    'Graph SDK settings:', `  Client.init({ baseUrl: '${emu.url}', customHosts: new Set(['${new URL(emu.url).hostname}']), authProvider })`, '', 'Ctrl-C to stop.');
  console.log(out.join('\n'));

  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await emu.close();
  console.log('emulator stopped');
  return 0;
}
