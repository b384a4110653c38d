/**
 * Reading the audit log back: `verifyAuditLog()` re-computes the whole chain and compares its end with
 * the head anchor (tampering, reordering, deletion, truncation), and `findDecision()` fetches one decision
 * with the approval events that refer to it. Read-only; never repairs.
 */
import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { GENESIS, HEAD_FILE, LOG_FILE, hashBody, readHead, splitLine } from './log.js';
import type { AuditHead, AuditRecord } from './log.js';
import { expandDecision, factsHeadId } from './event.js';
import type { ApprovalEventV1, DecisionEventV1, DecisionEventV2, FactsHeadEventV1 } from './event.js';

export type ProblemKind =
  | 'unparsable'
  | 'hash-mismatch'
  | 'chain-broken'
  | 'sequence-gap'
  | 'truncated'
  | 'head-mismatch'
  | 'head-missing'
  | 'log-missing'
  | 'facts-head-mismatch'
  | 'facts-head-missing';

export interface VerifyProblem {
  kind: ProblemKind;
  /** 1-based line in the log file, when the problem is on a line. */
  line?: number;
  seq?: number;
  message: string;
}

export interface VerifyResult {
  ok: boolean;
  records: number;
  lastSeq: number;
  lastHash: string;
  head?: AuditHead;
  problems: VerifyProblem[];
  /** Records after the anchor (a crash between the data sync and the head update); not an error by itself. */
  beyondHead: number;
}

async function* records(file: string): AsyncGenerator<{ line: number; text: string }> {
  const rl = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  let line = 0;
  for await (const text of rl) {
    line += 1;
    yield { line, text };
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

/** Verifies the chain; `expectHead` is an anchor kept elsewhere (e.g. exported off the host) to compare too. */
export async function verifyAuditLog(dir: string, expectHead?: AuditHead): Promise<VerifyResult> {
  const file = path.join(dir, LOG_FILE);
  const problems: VerifyProblem[] = [];
  const head = await readHead(dir).catch(() => undefined);
  let lastSeq = 0;
  let lastHash = GENESIS;
  let count = 0;
  if (!(await exists(file))) {
    if (head) problems.push({ kind: 'log-missing', message: `the log file ${LOG_FILE} is missing but the anchor says ${head.seq} records were written` });
    return { ok: problems.length === 0, records: 0, lastSeq, lastHash, ...(head ? { head } : {}), problems, beyondHead: 0 };
  }
  // Facts heads seen so far (with a matching id): a compact decision must name one of them.
  const heads = new Set<string>();
  for await (const { line, text } of records(file)) {
    if (text === '') continue;
    let rec: AuditRecord;
    const parts = splitLine(text);
    try {
      rec = JSON.parse(text) as AuditRecord;
      if (!parts) throw new Error('no hash member at the end');
    } catch {
      problems.push({ kind: 'unparsable', line, message: `line ${line} is not an audit record` });
      continue;
    }
    count += 1;
    if (rec.seq !== lastSeq + 1) {
      problems.push({ kind: 'sequence-gap', line, seq: rec.seq, message: `line ${line}: record ${rec.seq} follows record ${lastSeq} (missing, inserted or reordered records)` });
    }
    if (rec.prevHash !== lastHash) {
      problems.push({ kind: 'chain-broken', line, seq: rec.seq, message: `line ${line}: record ${rec.seq} does not chain to the record before it` });
    }
    if (hashBody(rec.prevHash, parts.body) !== parts.hash || parts.hash !== rec.hash) {
      problems.push({ kind: 'hash-mismatch', line, seq: rec.seq, message: `line ${line}: record ${rec.seq} was altered (its content no longer matches its hash)` });
    }
    const ev = rec.event as AuditRecord['event'] | undefined;
    if (ev?.type === 'facts-head') {
      if (factsHeadId(ev.head) === ev.id) heads.add(ev.id);
      else problems.push({ kind: 'facts-head-mismatch', line, seq: rec.seq, message: `line ${line}: record ${rec.seq} holds facts that do not match their id ${ev.id}` });
    } else if (ev?.type === 'decision' && ev.v === 2 && !heads.has(ev.facts.head)) {
      problems.push({ kind: 'facts-head-missing', line, seq: rec.seq, message: `line ${line}: record ${rec.seq} names facts ${ev.facts.head} that no earlier record holds` });
    }
    lastSeq = rec.seq;
    lastHash = rec.hash;
  }
  let beyondHead = 0;
  const anchors: Array<[string, AuditHead]> = [];
  if (head) anchors.push([HEAD_FILE, head]);
  else if (count > 0) problems.push({ kind: 'head-missing', message: `the anchor ${HEAD_FILE} is missing: truncation of the tail cannot be ruled out` });
  if (expectHead) anchors.push(['the expected anchor', expectHead]);
  for (const [name, a] of anchors) {
    if (lastSeq < a.seq) {
      problems.push({ kind: 'truncated', message: `the log ends at record ${lastSeq} but ${name} says ${a.seq} records were written: records were removed from the end` });
    } else if (lastSeq === a.seq && lastHash !== a.hash) {
      problems.push({ kind: 'head-mismatch', seq: a.seq, message: `record ${a.seq} differs from ${name}: the log was rewritten` });
    } else if (lastSeq > a.seq && name === HEAD_FILE) {
      beyondHead = lastSeq - a.seq;
    }
  }
  return { ok: problems.length === 0, records: count, lastSeq, lastHash, ...(head ? { head } : {}), problems, beyondHead };
}

export interface FoundDecision {
  /** The decision's record, its event made whole when the log holds it compact (see expandDecision). */
  record: AuditRecord & { event: DecisionEventV1 };
  approvals: Array<AuditRecord & { event: ApprovalEventV1 }>;
  /**
   * For a compact record: the record holding the facts head it names, and whether that head still matches
   * its id (an edited head still expands, so the replay's facts-digest check shows the edit).
   */
  factsHead?: { seq: number; id: string; intact: boolean };
}

/** Lines that mention `needle` (a cheap prefilter: most lines do not), parsed; unparsable ones skipped. */
async function* mentioning(file: string, needle: string): AsyncGenerator<AuditRecord> {
  for await (const { text } of records(file)) {
    if (!text.includes(needle)) continue;
    try {
      yield JSON.parse(text) as AuditRecord;
    } catch {
      continue;
    }
  }
}

/**
 * Scans the log for a decision id (one pass; approval events may come after the decision), and for a
 * compact record a second pass for the facts head it names (the last one written before it). Throws when
 * that head is missing: the decision cannot be shown without its facts.
 */
export async function findDecision(dir: string, decisionId: string): Promise<FoundDecision | undefined> {
  const file = path.join(dir, LOG_FILE);
  if (!(await exists(file))) return undefined;
  let found: (AuditRecord & { event: DecisionEventV1 | DecisionEventV2 }) | undefined;
  const approvals: FoundDecision['approvals'] = [];
  for await (const rec of mentioning(file, decisionId)) {
    if (rec.event.type === 'decision' && rec.event.decisionId === decisionId) found = rec as typeof found;
    else if (rec.event.type === 'approval' && rec.event.decisionId === decisionId) approvals.push(rec as FoundDecision['approvals'][number]);
  }
  if (!found) return undefined;
  const event = found.event;
  if (event.v !== 2) return { record: { ...found, event }, approvals };
  let head: (AuditRecord & { event: FactsHeadEventV1 }) | undefined;
  for await (const rec of mentioning(file, event.facts.head)) {
    if (rec.seq >= found.seq) break;
    if (rec.event.type === 'facts-head' && rec.event.id === event.facts.head) head = rec as typeof head;
  }
  const whole = expandDecision(event, head?.event);
  if (!whole || !head) throw new Error(`decision ${decisionId} (record ${found.seq}) names facts ${event.facts.head}, which are not in the log before it`);
  return { record: { ...found, event: whole }, approvals, factsHead: { seq: head.seq, id: head.event.id, intact: factsHeadId(head.event.head) === head.event.id } };
}
