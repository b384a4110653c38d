/**
 * `graphwarden demo` (what `npm start` runs): makes or reuses a local CA in certs/,
 * restarts itself trusting it (Node reads NODE_EXTRA_CA_CERTS only at start), then runs
 * the emulated tenant, the proxy and the scripted agents, and keeps them up for a look.
 */
import { parseArgs } from 'node:util';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { rm } from 'node:fs/promises';
import { writeLocalPki, CERT_FILES } from '../certs/index.js';

export const usage = `Usage: graphwarden demo [--once] [--certs DIR] [--port N] [--admin-port N]

Starts an emulated Entra tenant + Microsoft Graph, graphwarden in front of it, and
scripted agents (official Graph SDK + msal-node) that call Graph through the proxy.
Prints each call and what graphwarden did, then keeps running so you can look at
the metrics and call the proxy yourself; Ctrl-C stops it.

  --once          run the agents, print, and exit
  --certs DIR     where the local CA and server certificate live (default: certs)
  --port N        proxy port (default 8443)
  --admin-port N  admin port (default 9464)`;

export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      once: { type: 'boolean', default: false },
      certs: { type: 'string', default: 'certs' },
      port: { type: 'string', default: '8443' },
      'admin-port': { type: 'string', default: '9464' },
    },
  });
  const pkiDir = path.resolve(values.certs);
  const caPath = path.join(pkiDir, CERT_FILES.caCert);
  if (process.env.NODE_EXTRA_CA_CERTS !== caPath) {
    await writeLocalPki(pkiDir);
    const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, 'demo', ...args], {
      stdio: 'inherit',
      env: { ...process.env, NODE_EXTRA_CA_CERTS: caPath },
    });
    const forward = (s: NodeJS.Signals) => child.kill(s);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    return new Promise((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
  }

  const { runDemo } = await import('../demo/index.js');
  console.log('graphwarden demo — emulated tenant, proxy and agents on loopback\n');
  // A fresh state directory per run (the emulated tenant is new each time), kept afterwards for explain.
  const stateDir = path.resolve('state', 'demo');
  await rm(stateDir, { recursive: true, force: true });
  const demo = await runDemo({ pkiDir, stateDir, proxyPort: Number(values.port), adminPort: Number(values['admin-port']), log: (l) => console.log(l) });
  const blocked = demo.calls.find((c) => c.status === 403 && c.requestId);
  console.log(`
proxy (agents' Graph base URL)  ${demo.proxyUrl}
metrics                         ${demo.adminUrl}/metrics
readiness                       ${demo.adminUrl}/readyz
emulated Entra + Graph          ${demo.emulatorUrl}  (tenant ${demo.tenantId})
trust the local CA with         NODE_EXTRA_CA_CERTS=${caPath}
decision log (hash-chained)     ${path.join(stateDir, 'audit')}  — check it: node dist/main.js audit verify --dir ${stateDir}
${blocked ? `why was a call blocked?         node dist/main.js explain ${blocked.requestId} --dir ${stateDir}\n` : ''}`);
  if (values.once) {
    await demo.stop();
    return 0;
  }
  console.log('Running; press Ctrl-C to stop.');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await demo.stop();
  return 0;
}
