// Runs graphwarden (TLS off on the listener, token verification on and cached) for bench/run.mjs.
// The directory connector syncs from the emulator (its seeded read-only connector app) before this
// reports ready, so the benched agent is known and the benched read comes out `allow` under the
// shipped rules: the allow path is what issue 5 measures. On stop it checks that claim against the
// audit log (the last decision record must be an allow) and says so on stderr when it does not hold.
import path from 'node:path';
import { mkdtempSync, writeFileSync, openSync, fstatSync, readSync, closeSync, rmSync } from 'node:fs';
import os from 'node:os';
import { parseConfig } from '../dist/config/load.js';
import { createApp } from '../dist/app.js';
import { createLogger } from '../dist/log.js';
import { usage } from './usage.mjs';

const dir = process.env.BENCH_PKI;
const upstream = process.env.BENCH_UPSTREAM;
const tenantId = process.env.BENCH_TENANT;
const stateDir = mkdtempSync(path.join(os.tmpdir(), 'gw-bench-state-'));
let directory = {};
if (process.env.BENCH_CONNECTOR_ID) {
  const secretFile = path.join(stateDir, 'connector.secret');
  writeFileSync(secretFile, process.env.BENCH_CONNECTOR_SECRET ?? '', { mode: 0o600 });
  directory = {
    directory: {
      tenants: [{ tenantId, authorityHost: upstream, graphBaseUrl: upstream, credentials: { clientId: process.env.BENCH_CONNECTOR_ID, clientSecretFile: secretFile } }],
    },
  };
}
const cfg = parseConfig(
  {
    server: { listen: { host: '127.0.0.1', port: 0 }, tls: { enabled: false } },
    upstream: { url: upstream, ca: path.join(dir, 'ca.crt') },
    identity: { authorityHost: upstream, allowedTenants: [tenantId] },
    admin: { listen: { host: '127.0.0.1', port: 0 } },
    log: { level: 'silent', accessLog: false },
    state: { dir: stateDir },
    policy: { watch: false },
    ...directory,
    ...(process.env.BENCH_GW_CONFIG ? JSON.parse(process.env.BENCH_GW_CONFIG) : {}),
  },
  'bench',
  dir,
);
const app = await createApp(cfg, { logger: createLogger({ level: 'silent' }) });
const { proxyUrl } = await app.start();
if (process.env.BENCH_CONNECTOR_ID) {
  const summary = await app.syncDirectory();
  if (!summary?.ok) throw new Error(`directory sync against the emulator failed: ${JSON.stringify(summary)}`);
}
process.send({ type: 'ready', url: proxyUrl });

// The last decision record, read from the log's tail only (the log holds every benched call).
function lastDecision() {
  const fd = openSync(path.join(stateDir, 'audit', 'decisions.jsonl'), 'r');
  try {
    const size = fstatSync(fd).size;
    const start = Math.max(0, size - 256 * 1024);
    const buf = Buffer.alloc(size - start);
    readSync(fd, buf, 0, buf.length, start);
    const lines = buf.toString('utf8').trimEnd().split('\n');
    for (let i = lines.length - 1; i >= 0 && (i > 0 || start === 0); i--) {
      const rec = JSON.parse(lines[i]);
      if (rec.event.type === 'decision') return rec.event.decision;
    }
    return undefined;
  } finally {
    closeSync(fd);
  }
}

process.on('message', (m) => {
  if (m === 'cpu') process.send({ type: 'cpu', usage: usage() });
  if (m === 'stop')
    app.stop().then(() => {
      const d = lastDecision();
      if (d?.enforced !== 'allow') console.error(`warning: graphwarden full pipeline: the benched call was not an allow (${d ? `${d.enforced}, ${d.reasonCode}` : 'no decision recorded'})`);
      rmSync(stateDir, { recursive: true, force: true }); // a throwaway audit log of every benched call
      process.exit(0);
    });
});
