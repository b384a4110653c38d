// Classifier latency: median and p99 per classification over a realistic mix of calls, a 20-item
// `$batch`, and a naive baseline (a linear scan over one regex per map path) in the same run.
// Plain JS on the built output, so it measures what ships: npm run build && node bench/classify.js
// Target (issue 3): median < 5 µs and p99 < 25 µs per single call.
import { readFileSync } from 'node:fs';
import { createClassifier } from '../dist/classify/index.js';
import { DATA_DIR } from '../dist/classify/load.js';

const principal = {
  kind: 'delegated', tenantId: '11111111-2222-3333-4444-555555555555', appId: 'a', userId: 'user-oid',
  roles: [], scopes: ['User.Read', 'Mail.Read', 'Group.ReadWrite.All', 'Files.ReadWrite'], wids: [],
  tokenId: 't', clientAuth: 'public', tokenVersion: '2.0', issuedAt: 0, expiresAt: 1,
};

/** A mix an agent fleet plausibly sends: mostly reads, some writes, a few sensitive calls. */
const MIX = [
  ['GET', '/v1.0/me'],
  ['GET', '/v1.0/me/messages?$select=subject,from&$top=25'],
  ['GET', '/v1.0/users/2f1b4c7e-9d3a-4e55-8a0b-1c2d3e4f5a6b'],
  ['GET', '/v1.0/users?$filter=startswith(displayName,%27a%27)&$count=true'],
  ['GET', '/v1.0/groups/0a1b2c3d-0000-4000-8000-000000000001/members?$select=id'],
  ['POST', "/v1.0/groups('0a1b2c3d-0000-4000-8000-000000000001')/members/$ref"],
  ['DELETE', '/v1.0/groups/0a1b2c3d-0000-4000-8000-000000000001/members/u1/$ref'],
  ['GET', '/v1.0/me/drive/root:/Reports/Q1.xlsx:/content'],
  ['PUT', '/v1.0/me/drive/items/01ABCDEF/content'],
  ['GET', '/beta/users/delta?$select=id,displayName'],
  ['POST', '/v1.0/applications/11111111-2222-3333-4444-555555555555/addPassword'],
  ['POST', "/v1.0/servicePrincipals(appId='00000003-0000-0000-c000-000000000000')/appRoleAssignedTo"],
  ['GET', '/v1.0/roleManagement/directory/roleAssignments?$filter=principalId%20eq%20%27x%27'],
  ['GET', '/v1.0/users/ada@contoso.com/mailFolders/inbox/messages'],
  ['POST', '/v1.0/me/sendMail'],
  ['GET', '/v1.0/sites/root/lists'],
  ['GET', '/v1.0/me/events?$top=10'],
  ['PATCH', '/v1.0/users/2f1b4c7e-9d3a-4e55-8a0b-1c2d3e4f5a6b'],
  ['GET', '/v1.0/users/$count'],
  ['GET', '/v1.0/teams/t1/channels/c1/messages'],
];

const t0 = process.hrtime.bigint();
const classifier = createClassifier();
const loadMs = Number(process.hrtime.bigint() - t0) / 1e6;
const inputs = MIX.map(([method, url]) => ({ method, url, principal }));
const batchBody = Buffer.from(JSON.stringify({ requests: MIX.map(([method, url], i) => ({ id: String(i + 1), method, url: url.replace(/^\/(v1\.0|beta)/, '') })) }));
const batchInput = { method: 'POST', url: '/v1.0/$batch', body: batchBody, principal };

// Baseline: one case-insensitive regex per (method, path) of the map, scanned linearly (lookup only).
const doc = JSON.parse(readFileSync(DATA_DIR + 'permissions.json', 'utf8'));
const regexes = [];
for (const perm of Object.values(doc.permissions)) {
  for (const ps of perm.pathSets ?? []) {
    for (const p of Object.keys(ps.paths)) {
      const re = new RegExp('^' + p.split(/\{[^}]*\}/).map((s) => s.replace(/[.*+?^$()|[\]\\]/g, '\\$&')).join('[^/]+') + '$', 'i');
      for (const m of ps.methods) regexes.push([m, re]);
    }
  }
}
function naive(method, url) {
  const path = url.replace(/^\/(v1\.0|beta)/, '').split('?')[0];
  for (let i = 0; i < regexes.length; i++) if (regexes[i][0] === method && regexes[i][1].test(path)) return i;
  return -1;
}

function measure(fn, n) {
  for (let i = 0; i < Math.min(n, 20_000); i++) fn(i); // let the JIT settle
  const samples = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const s = process.hrtime.bigint();
    fn(i);
    samples[i] = Number(process.hrtime.bigint() - s) / 1000;
  }
  samples.sort();
  return { median: samples[Math.floor(n / 2)], p99: samples[Math.floor(n * 0.99)] };
}

const fmt = (x) => `median ${x.median.toFixed(2).padStart(8)} µs   p99 ${x.p99.toFixed(2).padStart(9)} µs`;
const single = measure((i) => classifier.classify(inputs[i % inputs.length]), 300_000);
const batch = measure(() => classifier.classify(batchInput), 20_000);
const base = measure((i) => naive(MIX[i % MIX.length][0], MIX[i % MIX.length][1]), 3_000);
console.log(`map ${classifier.mapVersion}: compiled in ${loadMs.toFixed(0)} ms (once per process)`);
console.log(`single call, mix of ${MIX.length}:          ${fmt(single)}   target: median < 5 µs, p99 < 25 µs`);
console.log(`20-item $batch:                  ${fmt(batch)}   (${(batch.median / 20).toFixed(2)} µs per item)`);
console.log(`baseline, ${regexes.length} regexes scanned: ${fmt(base)}`);
console.log(`speed-up over baseline (median): ${(base.median / single.median).toFixed(0)}x`);
