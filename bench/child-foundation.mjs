// graphwarden's request path with only its foundation stages — token verification (cached) and
// forwarding with paging-link rewriting — and no policy, the configuration issue 2's target names.
// The product never runs like this (app.ts always wires inspect); it isolates the foundation's cost.
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { createTokenVerifier, toVerifierOptions } from '../dist/token/index.js';
import { createForwarder } from '../dist/forward/index.js';
import { createProxyHandler } from '../dist/server/proxy.js';
import { listen } from '../dist/server/listen.js';
import { createMetrics } from '../dist/metrics/index.js';
import { createLogger } from '../dist/log.js';
import { parseConfig } from '../dist/config/load.js';
import { usage } from './usage.mjs';

const dir = process.env.BENCH_PKI;
const cfg = parseConfig({ identity: { authorityHost: process.env.BENCH_UPSTREAM, allowedTenants: [process.env.BENCH_TENANT] } }, 'bench', dir);
const tokens = createTokenVerifier(toVerifierOptions(cfg.identity));
await tokens.preload();
const forwarder = createForwarder({ upstreamUrl: process.env.BENCH_UPSTREAM, ca: readFileSync(path.join(dir, 'ca.crt'), 'utf8'), connections: 128, connectTimeoutMs: 10_000, headersTimeoutMs: 60_000, bodyTimeoutMs: 60_000 });
const handler = createProxyHandler({
  authenticate: (h, connection) => tokens.verify(h, connection), forwarder, metrics: createMetrics(), logger: createLogger({ level: 'silent' }), now: Date.now, newId: randomUUID,
  limits: { maxBodyBytes: 4 << 20, maxUrlLength: 8192 }, tlsEnabled: false, accessLog: false,
});
const l = await listen({ host: '127.0.0.1', port: 0 }, handler);
process.send({ type: 'ready', url: l.url });
process.on('message', (m) => {
  if (m === 'cpu') process.send({ type: 'cpu', usage: usage() });
  if (m === 'stop') l.close(0).then(() => forwarder.close()).then(() => process.exit(0));
});
