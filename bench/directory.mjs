// `npm run bench:directory`: full sync of an emulated tenant through the real connector (msal-node + Graph
// paging against the emulator, loopback only) and model build, then a cold load of the saved snapshot and
// per-request lookups. Sizes: BENCH_DIRECTORY_SIZES (default "10000,100000"); 1,000,000 is opt-in
// (BENCH_DIRECTORY_SIZES=1000000) because a full sync through Graph paging takes many minutes at that size.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, statSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';

if (!process.env.BENCH_PKI) {
  const { writeLocalPki } = await import('../dist/certs/index.js');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gw-bench-pki-'));
  await writeLocalPki(dir);
  const r = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url)], {
    stdio: 'inherit',
    env: { ...process.env, BENCH_PKI: dir, NODE_EXTRA_CA_CERTS: path.join(dir, 'ca.crt') },
  });
  process.exit(r.status ?? 1);
}

const { startEmulator } = await import('../dist/emulator/index.js');
const { createDirectory } = await import('../dist/directory/index.js');
const { SNAPSHOT_FILE } = await import('../dist/directory/snapshot.js');

const pki = process.env.BENCH_PKI;
const tls = { keyPem: readFileSync(path.join(pki, 'server.key'), 'utf8'), certPem: readFileSync(path.join(pki, 'server.crt'), 'utf8') };
const sizes = (process.env.BENCH_DIRECTORY_SIZES ?? '10000,100000').split(',').map(Number);
let peakRss = 0;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);

const rows = [];
for (const size of sizes) {
  const emulator = await startEmulator({ tls, size });
  const tenant = emulator.tenants[0];
  const connector = tenant.agents['graphwarden-connector'];
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'gw-bench-dir-'));
  const secretFile = path.join(stateDir, 'secret');
  writeFileSync(secretFile, connector.clientSecret, { mode: 0o600 });
  const tenants = [{ tenantId: tenant.id, authorityHost: emulator.url, graphBaseUrl: emulator.url, credentials: { clientId: connector.appId, clientSecretFile: secretFile } }];
  globalThis.gc?.();
  peakRss = process.memoryUsage().rss;
  const t0 = performance.now();
  const dir = createDirectory({ stateDir, tenants, refreshIntervalMs: 3_600_000 });
  const summary = await dir.syncNow();
  const syncMs = performance.now() - t0;
  const syncPeak = peakRss;
  const objects = summary.tenants[0]?.objects ?? 0;
  await dir.close();
  await emulator.close();

  // Cold load: a new directory service reading only the saved snapshot.
  globalThis.gc?.();
  peakRss = process.memoryUsage().rss;
  const t1 = performance.now();
  const cold = createDirectory({ stateDir, tenants, refreshIntervalMs: 3_600_000, delta: false });
  await cold.start();
  const view = cold.view();
  const loadMs = performance.now() - t1;
  const loadPeak = peakRss;
  // Lookups on the request path: effective permissions of the seeded agents, repeatedly.
  const principals = Object.values(tenant.agents).filter((a) => !a.publicClient).map((a) => ({
    kind: 'app', tenantId: tenant.id, appId: a.appId, servicePrincipalId: a.servicePrincipalId, roles: [], scopes: [], wids: [], tokenId: 'b', clientAuth: 'secret', tokenVersion: '1.0', issuedAt: 0, expiresAt: 0,
  }));
  const N = 200_000;
  const t2 = performance.now();
  for (let i = 0; i < N; i++) view.effective(principals[i % principals.length]);
  const lookupUs = ((performance.now() - t2) * 1000) / N;
  await cold.close();
  const snapshotBytes = statSync(path.join(stateDir, SNAPSHOT_FILE)).size;
  rmSync(stateDir, { recursive: true, force: true });
  rows.push({ size, objects, syncS: syncMs / 1000, objPerS: objects / (syncMs / 1000), syncPeakMiB: syncPeak / 2 ** 20, snapshotMiB: snapshotBytes / 2 ** 20, coldLoadS: loadMs / 1000, loadPeakMiB: loadPeak / 2 ** 20, lookupUs });
}
clearInterval(sampler);

const pad = (s, n) => String(s).padEnd(n);
console.log(`\nnode ${process.version}, ${os.cpus().length} cores; sync = connector through the emulator (TLS, paging) + model build\n`);
console.log(pad('size', 10) + pad('objects', 10) + pad('sync s', 9) + pad('obj/s', 9) + pad('peak RSS MiB', 14) + pad('snapshot MiB', 14) + pad('cold load s', 13) + pad('load RSS MiB', 14) + 'lookup µs');
for (const r of rows) {
  console.log(pad(r.size, 10) + pad(r.objects, 10) + pad(r.syncS.toFixed(1), 9) + pad(Math.round(r.objPerS), 9) + pad(Math.round(r.syncPeakMiB), 14) + pad(r.snapshotMiB.toFixed(1), 14) + pad(r.coldLoadS.toFixed(2), 13) + pad(Math.round(r.loadPeakMiB), 14) + r.lookupUs.toFixed(2));
}
console.log('\ntargets at 1,000,000 objects: cold load < 10 s, RSS < 2 GiB, lookup < 2 µs');
