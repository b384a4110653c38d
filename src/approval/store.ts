/**
 * The durable approval store: approval requests, their history (decisions, uses, holds) and
 * overrides, in one SQLite file in the state directory (WAL, synchronous=FULL).
 * Owns persistence and the schema version; does not decide anything (model.ts, overrides.ts do).
 */
import Database from 'better-sqlite3';
import { chmodSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Approval, ApprovalState } from './model.js';
import type { Override, OverrideState } from './overrides.js';

export const STORE_FILE = 'approvals.sqlite';

/** One line of history, for approvals and overrides alike. */
export interface StoredEvent {
  subject: 'approval' | 'override';
  subjectId: string;
  action: string;
  actor: string;
  decisionId?: string;
  justification?: string;
  at: number;
}

/** A call that was held: open until ended_at is set. */
export interface HoldRecord {
  decisionId: string;
  approvalId: string;
  startedAt: number;
  endedAt: number | null;
  outcome: string | null;
}

export interface ApprovalStore {
  readonly path: string;
  /** Runs fn in one SQLite transaction (IMMEDIATE), so a crash leaves all or nothing. */
  transaction<T>(fn: () => T): T;
  putApproval(a: Approval): void;
  getApproval(id: string): Approval | undefined;
  /** Approvals for one request key in given states, oldest first. */
  findByKey(key: string, states: readonly ApprovalState[]): Approval[];
  listApprovals(filter?: { state?: ApprovalState; limit?: number }): Approval[];
  recordEvent(e: StoredEvent): void;
  eventsFor(subject: StoredEvent['subject'], subjectId: string): StoredEvent[];
  startHold(h: { decisionId: string; approvalId: string; startedAt: number }): void;
  endHold(decisionId: string, outcome: string, endedAt: number): boolean;
  openHolds(approvalId?: string): HoldRecord[];
  putOverride(o: Override): void;
  getOverride(id: string): Override | undefined;
  listOverrides(filter?: { state?: OverrideState }): Override[];
  close(): void;
}

// Each entry moves the schema from index to index+1; never edit a shipped entry, append.
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE approvals (
     id TEXT PRIMARY KEY,
     request_key TEXT NOT NULL,
     state TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     data TEXT NOT NULL
   );
   CREATE INDEX approvals_key_state ON approvals (request_key, state);
   CREATE INDEX approvals_state_created ON approvals (state, created_at);
   CREATE TABLE approval_events (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     subject TEXT NOT NULL,
     subject_id TEXT NOT NULL,
     action TEXT NOT NULL,
     actor TEXT NOT NULL,
     decision_id TEXT,
     justification TEXT,
     at INTEGER NOT NULL
   );
   CREATE INDEX approval_events_subject ON approval_events (subject, subject_id, seq);
   CREATE TABLE holds (
     decision_id TEXT PRIMARY KEY,
     approval_id TEXT NOT NULL,
     started_at INTEGER NOT NULL,
     ended_at INTEGER,
     outcome TEXT
   );
   CREATE INDEX holds_open ON holds (ended_at, approval_id);
   CREATE TABLE overrides (
     id TEXT PRIMARY KEY,
     state TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     data TEXT NOT NULL
   );`,
];
export const SCHEMA_VERSION = MIGRATIONS.length;

interface DataRow {
  data: string;
}

export function createApprovalStore(options: { stateDir: string; fileName?: string }): ApprovalStore {
  mkdirSync(options.stateDir, { recursive: true, mode: 0o700 });
  const file = path.join(options.stateDir, options.fileName ?? STORE_FILE);
  const db = new Database(file);
  try {
    // Overrides and approvals may carry names and justifications: owner-only.
    chmodSync(file, 0o600);
    db.pragma('journal_mode = WAL');
    // FULL: a committed decision is on disk before we answer, surviving kill -9 and power loss.
    db.pragma('synchronous = FULL');
    db.pragma('busy_timeout = 5000');
    db.pragma('foreign_keys = ON');
    migrate(db);
  } catch (err) {
    db.close();
    throw err;
  }

  const stmt = {
    putApproval: db.prepare(
      `INSERT INTO approvals (id, request_key, state, created_at, data) VALUES (@id, @key, @state, @createdAt, @data)
       ON CONFLICT(id) DO UPDATE SET state = excluded.state, data = excluded.data`,
    ),
    getApproval: db.prepare<[string], DataRow>('SELECT data FROM approvals WHERE id = ?'),
    listAll: db.prepare<[number], DataRow>('SELECT data FROM approvals ORDER BY created_at DESC, id LIMIT ?'),
    listState: db.prepare<[string, number], DataRow>('SELECT data FROM approvals WHERE state = ? ORDER BY created_at DESC, id LIMIT ?'),
    byKeyState: db.prepare<[string, string], DataRow>('SELECT data FROM approvals WHERE request_key = ? AND state = ?'),
    recordEvent: db.prepare(
      `INSERT INTO approval_events (subject, subject_id, action, actor, decision_id, justification, at)
       VALUES (@subject, @subjectId, @action, @actor, @decisionId, @justification, @at)`,
    ),
    eventsFor: db.prepare<[string, string], { action: string; actor: string; decision_id: string | null; justification: string | null; at: number }>(
      'SELECT action, actor, decision_id, justification, at FROM approval_events WHERE subject = ? AND subject_id = ? ORDER BY seq',
    ),
    startHold: db.prepare('INSERT INTO holds (decision_id, approval_id, started_at) VALUES (?, ?, ?)'),
    endHold: db.prepare('UPDATE holds SET ended_at = ?, outcome = ? WHERE decision_id = ? AND ended_at IS NULL'),
    openHolds: db.prepare<[], HoldRow>('SELECT * FROM holds WHERE ended_at IS NULL ORDER BY started_at'),
    openHoldsFor: db.prepare<[string], HoldRow>('SELECT * FROM holds WHERE ended_at IS NULL AND approval_id = ? ORDER BY started_at'),
    putOverride: db.prepare(
      `INSERT INTO overrides (id, state, created_at, data) VALUES (@id, @state, @createdAt, @data)
       ON CONFLICT(id) DO UPDATE SET state = excluded.state, data = excluded.data`,
    ),
    getOverride: db.prepare<[string], DataRow>('SELECT data FROM overrides WHERE id = ?'),
    listOverrides: db.prepare<[], DataRow>('SELECT data FROM overrides ORDER BY created_at DESC, id'),
    listOverridesState: db.prepare<[string], DataRow>('SELECT data FROM overrides WHERE state = ? ORDER BY created_at DESC, id'),
  };

  return {
    path: file,
    transaction: <T>(fn: () => T): T => db.transaction(fn).immediate(),
    putApproval: (a) => {
      stmt.putApproval.run({ id: a.id, key: a.key, state: a.state, createdAt: a.createdAt, data: JSON.stringify(a) });
    },
    getApproval: (id) => parse<Approval>(stmt.getApproval.get(id)),
    // One indexed lookup per state, so a key's long history of used/expired rows is never scanned.
    findByKey: (key, states) =>
      states
        .flatMap((st) => stmt.byKeyState.all(key, st))
        .map((r) => JSON.parse(r.data) as Approval)
        .sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
    listApprovals: (filter = {}) => {
      const limit = filter.limit ?? 1000;
      const rows = filter.state ? stmt.listState.all(filter.state, limit) : stmt.listAll.all(limit);
      return rows.map((r) => JSON.parse(r.data) as Approval);
    },
    recordEvent: (e) => {
      stmt.recordEvent.run({ ...e, decisionId: e.decisionId ?? null, justification: e.justification ?? null });
    },
    eventsFor: (subject, subjectId) =>
      stmt.eventsFor.all(subject, subjectId).map((r) => ({
        subject,
        subjectId,
        action: r.action,
        actor: r.actor,
        at: r.at,
        ...(r.decision_id !== null ? { decisionId: r.decision_id } : {}),
        ...(r.justification !== null ? { justification: r.justification } : {}),
      })),
    startHold: (h) => {
      stmt.startHold.run(h.decisionId, h.approvalId, h.startedAt);
    },
    endHold: (decisionId, outcome, endedAt) => stmt.endHold.run(endedAt, outcome, decisionId).changes > 0,
    openHolds: (approvalId) => (approvalId === undefined ? stmt.openHolds.all() : stmt.openHoldsFor.all(approvalId)).map(toHold),
    putOverride: (o) => {
      stmt.putOverride.run({ id: o.id, state: o.state, createdAt: o.createdAt, data: JSON.stringify(o) });
    },
    getOverride: (id) => parse<Override>(stmt.getOverride.get(id)),
    listOverrides: (filter = {}) => (filter.state ? stmt.listOverridesState.all(filter.state) : stmt.listOverrides.all()).map((r) => JSON.parse(r.data) as Override),
    close: () => {
      if (db.open) db.close();
    },
  };
}

interface HoldRow {
  decision_id: string;
  approval_id: string;
  started_at: number;
  ended_at: number | null;
  outcome: string | null;
}

function toHold(r: HoldRow): HoldRecord {
  return { decisionId: r.decision_id, approvalId: r.approval_id, startedAt: r.started_at, endedAt: r.ended_at, outcome: r.outcome };
}

function parse<T>(row: DataRow | undefined): T | undefined {
  return row ? (JSON.parse(row.data) as T) : undefined;
}

function migrate(db: Database.Database): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
  const row = db.prepare<[], { version: number }>('SELECT version FROM schema_version').get();
  const current = row?.version ?? 0;
  if (current > MIGRATIONS.length) {
    // A newer graphwarden wrote this file: refuse rather than misread it (fail closed).
    throw new Error(`approval store schema version ${current} is newer than this graphwarden supports (${MIGRATIONS.length})`);
  }
  db.transaction(() => {
    for (let v = current; v < MIGRATIONS.length; v++) db.exec(MIGRATIONS[v]!);
    if (row) db.prepare('UPDATE schema_version SET version = ?').run(MIGRATIONS.length);
    else db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(MIGRATIONS.length);
  }).immediate();
}
