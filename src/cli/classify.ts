/** `graphwarden classify`: shows how graphwarden understands one Graph call, for people writing rules. */
import { parseArgs } from 'node:util';
import { readFile } from 'node:fs/promises';
import { createClassifier } from '../classify/index.js';
import type { Operation, Scheme } from '../classify/index.js';

export const usage = `Usage: graphwarden classify METHOD URL [--body FILE] [--json] [--scheme app|delegated]

Prints the operation graphwarden sees for a Graph call: template, action, target, sensitivity tier
and the permissions that grant it. URL is the path as an agent sends it, e.g.
  graphwarden classify POST "/v1.0/groups('g1')/members/\\$ref"
  graphwarden classify POST /v1.0/\\$batch --body batch.json

  --body FILE     request body (needed for $batch; adds related ids for $ref/@odata.bind bodies)
  --json          print the Operation (and batch plan items) as JSON
  --scheme S      app (Application) or delegated (DelegatedWork); default: both`;

function schemeLines(o: Operation, schemes: Scheme[]): string[] {
  const lines: string[] = [];
  for (const s of schemes) {
    const p = o.permissions[s];
    if (!p.anyOf.length) {
      lines.push(`  ${s.padEnd(13)} ${o.known ? 'not available under this scheme' : 'unknown (not in the permission map)'}`);
      continue;
    }
    lines.push(`  ${s.padEnd(13)} least: ${p.least.join(', ')}`);
    const any = p.anyOf.map((a, i) => (p.alsoRequires[i]!.length ? `${a} (+ one of ${p.alsoRequires[i]!.join('|')})` : a));
    lines.push(`  ${''.padEnd(13)} any of: ${any.join(', ')}`);
  }
  return lines;
}

function describe(o: Operation, schemes: Scheme[], indent = ''): string {
  const t = o.target;
  const target = [t.type, t.id ? `${t.id} (${t.idKind ?? 'id'})` : '', t.viaMe ? 'via /me' : '', t.relatedIds?.length ? `related: ${t.relatedIds.join(', ')}` : '']
    .filter(Boolean)
    .join(' ');
  const lines = [
    `${o.method} /${o.version}${o.path}`,
    `  template      ${o.template ?? '(none)'}${o.known ? '' : '  — UNKNOWN operation: not in the permission map'}`,
    `  action        ${o.action}`,
    `  target        ${target}`,
    `  tier          ${o.tier}`,
    ...(o.related.select.length || o.related.expand.length ? [`  related       select: ${o.related.select.join(',') || '-'}  expand: ${o.related.expand.join(',') || '-'}`] : []),
    ...(o.tenantSegment ? [`  tenant        ${o.tenantSegment}`] : []),
    ...(o.isBatch ? [] : schemeLines(o, schemes)),
  ];
  return lines.map((l) => indent + l).join('\n');
}

export async function run(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: { body: { type: 'string' }, json: { type: 'boolean', default: false }, scheme: { type: 'string' } },
    });
  } catch (err) {
    console.error(`graphwarden classify: ${err instanceof Error ? err.message : String(err)}\n\n${usage}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [method, url] = positionals;
  if (!method || !url || positionals.length > 2) {
    console.error(usage);
    return 2;
  }
  if (values.scheme !== undefined && values.scheme !== 'app' && values.scheme !== 'delegated') {
    console.error(`graphwarden classify: --scheme must be app or delegated\n\n${usage}`);
    return 2;
  }
  const schemes: Scheme[] = values.scheme === 'app' ? ['Application'] : values.scheme === 'delegated' ? ['DelegatedWork'] : ['Application', 'DelegatedWork'];
  const body = values.body !== undefined ? await readFile(values.body) : undefined;
  const classifier = createClassifier();
  const r = classifier.classify({ method, url, ...(body ? { body } : {}) });
  if (!r.ok) {
    if (values.json) console.log(JSON.stringify({ ok: false, code: r.code, message: r.message }, null, 2));
    else console.error(`refused: ${r.code}: ${r.message}`);
    return 1;
  }
  if (values.json) {
    const items = r.batch?.items.map(({ id, method: m, url: u, dependsOn, operation, error }) => ({ id, method: m, url: u, dependsOn, operation, error }));
    console.log(JSON.stringify({ mapVersion: classifier.mapVersion, operation: r.operation, ...(items ? { items } : {}) }, null, 2));
    return 0;
  }
  console.log(describe(r.operation, schemes));
  for (const it of r.batch?.items ?? []) {
    console.log(`\n  item ${it.id}${it.dependsOn.length ? ` (depends on ${it.dependsOn.join(', ')})` : ''}:`);
    console.log(it.operation ? describe(it.operation, schemes, '    ') : `    refused: ${it.error?.code}: ${it.error?.message}`);
  }
  console.log(`\nmap ${classifier.mapVersion}`);
  return 0;
}
