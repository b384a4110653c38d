// Runs the emulator in its own process for bench/run.mjs and hands back its URL, a tenant, a token,
// and the seeded read-only connector app's credentials (graphwarden runs in another process and
// syncs its directory view from the emulator with them, as a real deployment syncs from Entra).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startEmulator } from '../dist/emulator/index.js';
import { usage } from './usage.mjs';

const dir = process.env.BENCH_PKI;
const emu = await startEmulator({
  tls: { keyPem: readFileSync(path.join(dir, 'server.key'), 'utf8'), certPem: readFileSync(path.join(dir, 'server.crt'), 'utf8') },
  size: Number(process.env.BENCH_SIZE ?? 2000),
});
const tenant = emu.tenants[0];
const agent = tenant.agents['provisioning-bot'];
const connector = tenant.agents['graphwarden-connector'];
const token = await emu.issueToken({ tenantId: tenant.id, appId: agent.appId, kind: 'app', lifetimeSec: 3600 });
process.send({ type: 'ready', url: emu.url, tenantId: tenant.id, token, connector: { appId: connector.appId, secret: connector.clientSecret } });
process.on('message', (m) => {
  if (m === 'cpu') process.send({ type: 'cpu', usage: usage() });
  if (m === 'stop') emu.close().then(() => process.exit(0));
});
