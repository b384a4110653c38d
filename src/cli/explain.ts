/** `graphwarden explain DECISION_ID`: the narrative of one decision from the audit log, replayed against its rules revision. */
import { parseArgs } from 'node:util';
import { readFile } from 'node:fs/promises';
import { findDecision } from '../audit/verify.js';
import { explainControls, narrate } from '../audit/narrative.js';
import { replayDecision } from '../decision/replay.js';
import type { ReplayResult } from '../decision/replay.js';
import { CONTROLS_FILE, parseControls, SHIPPED_RULES_DIR } from '../policy/compile.js';
import type { Control } from '../policy/compile.js';
import { loadRevision } from '../policy/store.js';
import { auditDirOf, stateDirFrom, STATE_DIR_HELP } from './state-dir.js';

export const usage = `Usage: graphwarden explain DECISION_ID [--dir DIR] [--json]

Prints what graphwarden decided for one call and why, for people who have to account
for it: who called (agent, owners, user), what it asked for, the rule and its reason,
the proof (token id and claims digest, directory snapshot, the assignments and roles
that mattered, rules revision), the compliance controls the rule implements, and any
approval events. The decision is re-run on its recorded facts with the recorded rules
revision to show it comes out the same.

DECISION_ID is innerError.request-id of a blocked call, or any decision id in the log.

  --dir DIR   ${STATE_DIR_HELP}
  --json      the record, controls, approvals, replay result and narrative as JSON`;

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { dir: { type: 'string' }, json: { type: 'boolean', default: false } } });
  const [id] = positionals;
  if (!id) {
    console.error(usage);
    return 2;
  }
  const stateDir = stateDirFrom(values.dir);
  let found: Awaited<ReturnType<typeof findDecision>>;
  try {
    found = await findDecision(auditDirOf(stateDir), id);
  } catch (e) {
    console.error(`graphwarden explain: ${(e as Error).message} (run graphwarden audit verify)`);
    return 1;
  }
  if (!found) {
    console.error(`graphwarden explain: no decision ${id} in the audit log under ${stateDir}`);
    return 1;
  }
  const { record, approvals } = found;
  const ev = record.event;
  let controls: ReadonlyMap<string, Control> | undefined;
  let replay: ReplayResult | { error: string };
  try {
    const policy = await loadRevision(stateDir, ev.decision.rulesRevision);
    if (policy) {
      controls = policy.controls;
      replay = replayDecision(ev, policy);
    } else replay = { error: `rules revision ${ev.decision.rulesRevision} is not kept in the state directory` };
  } catch (e) {
    replay = { error: (e as Error).message };
  }
  if (!controls) {
    // Fall back to the shipped catalogue so control references still resolve.
    const errors: string[] = [];
    controls = parseControls({ name: CONTROLS_FILE, text: await readFile(new URL(CONTROLS_FILE, SHIPPED_RULES_DIR), 'utf8') }, errors);
  }
  const narrative = narrate({ event: ev, seq: record.seq, hash: record.hash, controls, approvals: approvals.map((a) => a.event), replay });
  if (values.json) {
    const replayJson = 'error' in replay ? replay : { same: replay.same, differences: replay.differences, factsIntact: replay.factsIntact };
    console.log(
      JSON.stringify(
        {
          decisionId: id,
          seq: record.seq,
          hash: record.hash,
          event: ev,
          ...(found.factsHead ? { factsHead: found.factsHead } : {}),
          controls: explainControls(ev.decision, controls),
          approvals: approvals.map((a) => a.event),
          replay: replayJson,
          narrative,
        },
        null,
        2,
      ),
    );
  } else process.stdout.write(narrative);
  return 0;
}
