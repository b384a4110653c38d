/** `graphwarden audit verify|head`: checks the hash-chained decision log, or prints its anchor for safekeeping. */
import { parseArgs } from 'node:util';
import { verifyAuditLog } from '../audit/verify.js';
import { readHead } from '../audit/log.js';
import type { AuditHead } from '../audit/log.js';
import { auditDirOf, stateDirFrom, STATE_DIR_HELP } from './state-dir.js';

export const usage = `Usage: graphwarden audit verify [--dir DIR] [--expect-head SEQ:HASH] [--json]
       graphwarden audit head [--dir DIR]

verify  re-computes the hash chain of the decision log and compares its end with the
        head anchor: reports edited records, reordered, inserted or deleted records,
        and records cut off the end. Exit 0 when intact, 1 when not.
head    prints the anchor (last record number and hash). Keep copies elsewhere (a ticket,
        a SIEM, another host) and pass one to --expect-head: it catches a log rewritten
        together with its anchor.

  --dir DIR               ${STATE_DIR_HELP}
  --expect-head SEQ:HASH  also check against an anchor kept elsewhere
  --json                  machine-readable result`;

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { dir: { type: 'string' }, 'expect-head': { type: 'string' }, json: { type: 'boolean', default: false } },
  });
  const [sub] = positionals;
  const dir = auditDirOf(stateDirFrom(values.dir));
  if (sub === 'head') {
    const head = await readHead(dir);
    if (!head) {
      console.error(`graphwarden audit: no head anchor in ${dir}`);
      return 1;
    }
    console.log(`${head.seq}:${head.hash}`);
    return 0;
  }
  if (sub !== 'verify') {
    console.error(usage);
    return 2;
  }
  let expect: AuditHead | undefined;
  if (values['expect-head']) {
    const m = /^(\d+):([0-9a-f]{64})$/.exec(values['expect-head']);
    if (!m) {
      console.error('graphwarden audit: --expect-head must be SEQ:HASH (as printed by `graphwarden audit head`)');
      return 2;
    }
    expect = { seq: Number(m[1]), hash: m[2]! };
  }
  const r = await verifyAuditLog(dir, expect);
  if (values.json) console.log(JSON.stringify(r, null, 2));
  else {
    if (r.ok) console.log(`audit log intact: ${r.records} records, last ${r.lastSeq} (${r.lastHash}), in ${dir}`);
    else {
      console.log(`audit log NOT intact (${r.problems.length} problem${r.problems.length === 1 ? '' : 's'}) in ${dir}:`);
      for (const p of r.problems) console.log(`  [${p.kind}] ${p.message}`);
    }
    if (r.beyondHead > 0) console.log(`note: ${r.beyondHead} record(s) after the anchor (an interrupted head update; they chain correctly)`);
  }
  return r.ok ? 0 : 1;
}
