// Runs graphwarden (TLS off on the listener, token verification on and cached) for bench/run.mjs.
import path from 'node:path';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import { parseConfig } from '../dist/config/load.js';
import { createApp } from '../dist/app.js';
import { createLogger } from '../dist/log.js';

const dir = process.env.BENCH_PKI;
const cfg = parseConfig(
  {
    server: { listen: { host: '127.0.0.1', port: 0 }, tls: { enabled: false } },
    upstream: { url: process.env.BENCH_UPSTREAM, ca: path.join(dir, 'ca.crt') },
    identity: { authorityHost: process.env.BENCH_UPSTREAM, allowedTenants: [process.env.BENCH_TENANT] },
    admin: { listen: { host: '127.0.0.1', port: 0 } },
    log: { level: 'silent', accessLog: false },
    state: { dir: mkdtempSync(path.join(os.tmpdir(), 'gw-bench-state-')) },
    ...(process.env.BENCH_GW_CONFIG ? JSON.parse(process.env.BENCH_GW_CONFIG) : {}),
  },
  'bench',
  dir,
);
const app = await createApp(cfg, { logger: createLogger({ level: 'silent' }) });
const { proxyUrl } = await app.start();
process.send({ type: 'ready', url: proxyUrl });
process.on('message', (m) => {
  if (m === 'cpu') process.send({ type: 'cpu', usage: process.cpuUsage() });
  if (m === 'stop') app.stop().then(() => process.exit(0));
});
