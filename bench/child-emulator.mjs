// Runs the emulator in its own process for bench/run.mjs and hands back its URL, a tenant and a token.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startEmulator } from '../dist/emulator/index.js';

const dir = process.env.BENCH_PKI;
const emu = await startEmulator({
  tls: { keyPem: readFileSync(path.join(dir, 'server.key'), 'utf8'), certPem: readFileSync(path.join(dir, 'server.crt'), 'utf8') },
  size: Number(process.env.BENCH_SIZE ?? 2000),
});
const tenant = emu.tenants[0];
const agent = tenant.agents['provisioning-bot'];
const token = await emu.issueToken({ tenantId: tenant.id, appId: agent.appId, kind: 'app', lifetimeSec: 3600 });
process.send({ type: 'ready', url: emu.url, tenantId: tenant.id, token });
process.on('message', (m) => {
  if (m === 'cpu') process.send({ type: 'cpu', usage: process.cpuUsage() });
  if (m === 'stop') emu.close().then(() => process.exit(0));
});
