/**
 * The hash-chained audit log: JSONL records `{seq, prevHash, event, hash}` where hash = sha256(prevHash +
 * the record's own JSON text without its hash member), appended in batches that are fdatasync'ed
 * before `append()` resolves, plus a head anchor file (last seq + hash) so a cut-off tail is detected.
 * Owns durability and failure reporting; does not decide what is sensitive (the caller passes it to `gate`).
 */
import { open, mkdir, readFile, rename, writeFile, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { GraphwardenError } from '../errors.js';
import { sha256Hex } from '../policy/canonical.js';
import type { AuditEvent } from './event.js';

export const LOG_FILE = 'decisions.jsonl';
export const HEAD_FILE = 'head.json';
export const GENESIS = '0'.repeat(64);

export interface AuditRecord {
  seq: number;
  prevHash: string;
  hash: string;
  event: AuditEvent;
}

export interface AuditHead {
  seq: number;
  hash: string;
}

/**
 * A record line is `{"seq":…,"prevHash":"…","event":{…},"hash":"…"}`; its hash is
 * sha256(prevHash + the line's text up to the `,"hash"` member, closed with `}`). Hashing the exact bytes
 * written means any verifier, in any language, checks it without re-serialising JSON.
 */
export function recordBody(seq: number, prevHash: string, event: AuditEvent): string {
  return JSON.stringify({ seq, prevHash, event });
}

export function hashBody(prevHash: string, body: string): string {
  return sha256Hex(prevHash + body);
}

export function recordLine(body: string, hash: string): string {
  return `${body.slice(0, -1)},"hash":"${hash}"}`;
}

const HASH_SUFFIX = /,"hash":"([0-9a-f]{64})"\}$/;

/** Splits a line into the hashed body and the hash it claims; undefined when the line is not in record form. */
export function splitLine(line: string): { body: string; hash: string } | undefined {
  const m = HASH_SUFFIX.exec(line);
  if (!m) return undefined;
  return { body: `${line.slice(0, m.index)}}`, hash: m[1]! };
}

export type AppendResult = { ok: true; seq: number; hash: string } | { ok: false; error: string };

export interface AuditEvents {
  auditWriteFailed?(error: string): void;
  /** A sensitive call was let through although its audit record could not be written (failMode open). */
  auditFailOpen?(): void;
}

export interface AuditLogOptions {
  /** Directory of the log (usually `<stateDir>/audit`). */
  dir: string;
  /** closed: sensitive calls are refused when their record cannot be written. open: let through, counted. */
  failMode: 'closed' | 'open';
  /** fdatasync each batch before acknowledging it. Default true; false only for throwaway logs. */
  fsync?: boolean;
  events?: AuditEvents;
  /** How the log file is opened; injectable so tests can make writes fail. Default fs/promises open. */
  openFile?: (file: string, flags: string) => Promise<FileHandle>;
}

export interface AuditLogStatus {
  ok: boolean;
  seq: number;
  lastError?: string;
  failures: number;
}

export interface AuditLog {
  /** Appends one event; resolves once it is durable (or failed). Never rejects. */
  append(event: AuditEvent): Promise<AppendResult>;
  /** What the caller does with a call whose audit append gave `result`: proceed, or refuse (GW_ERR_AUDIT_UNAVAILABLE). */
  gate(result: AppendResult, sensitive: boolean): 'proceed' | 'refuse';
  status(): AuditLogStatus;
  close(): Promise<void>;
}

interface Pending {
  event: AuditEvent;
  resolve(r: AppendResult): void;
}

/** Reads the last complete record of a log file (the tail only: logs grow large). */
async function readLastRecord(file: string): Promise<AuditRecord | undefined> {
  let fh: FileHandle;
  try {
    fh = await open(file, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    const { size } = await fh.stat();
    if (size === 0) return undefined;
    let chunk = 64 * 1024;
    for (;;) {
      const start = Math.max(0, size - chunk);
      const buf = Buffer.alloc(size - start);
      await fh.read(buf, 0, buf.length, start);
      const text = buf.toString('utf8');
      const body = text.endsWith('\n') ? text.slice(0, -1) : text;
      const nl = body.lastIndexOf('\n');
      if (nl >= 0 || start === 0) return JSON.parse(body.slice(nl + 1)) as AuditRecord;
      chunk *= 4;
    }
  } finally {
    await fh.close();
  }
}

export async function readHead(dir: string): Promise<AuditHead | undefined> {
  try {
    return JSON.parse(await readFile(path.join(dir, HEAD_FILE), 'utf8')) as AuditHead;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

class Log implements AuditLog {
  #fh: FileHandle;
  #dir: string;
  #opts: AuditLogOptions;
  #seq: number;
  #hash: string;
  #size: number;
  #queue: Pending[] = [];
  #writing: Promise<void> | undefined;
  #lastError: string | undefined;
  #failures = 0;
  #closed = false;

  constructor(fh: FileHandle, opts: AuditLogOptions, head: AuditHead, size: number) {
    this.#fh = fh;
    this.#dir = opts.dir;
    this.#opts = opts;
    this.#seq = head.seq;
    this.#hash = head.hash;
    this.#size = size;
  }

  append(event: AuditEvent): Promise<AppendResult> {
    if (this.#closed) return Promise.resolve({ ok: false, error: 'audit log is closed' });
    return new Promise<AppendResult>((resolve) => {
      this.#queue.push({ event, resolve });
      if (!this.#writing) this.#writing = this.#drain();
    });
  }

  // Group commit: everything queued while a batch is being written goes into the next batch.
  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0);
        await this.#writeBatch(batch);
      }
    } finally {
      this.#writing = undefined;
    }
  }

  async #writeBatch(batch: Pending[]): Promise<void> {
    let seq = this.#seq;
    let prev = this.#hash;
    const results: AppendResult[] = [];
    const lines: string[] = [];
    for (const p of batch) {
      seq += 1;
      const body = recordBody(seq, prev, p.event);
      const hash = hashBody(prev, body);
      lines.push(`${recordLine(body, hash)}\n`);
      results.push({ ok: true, seq, hash });
      prev = hash;
    }
    const buf = Buffer.from(lines.join(''), 'utf8');
    try {
      await this.#fh.write(buf, 0, buf.length, this.#size);
      if (this.#opts.fsync !== false) await this.#fh.datasync();
    } catch (e) {
      const error = `audit write failed: ${(e as Error).message}`;
      this.#failures += batch.length;
      this.#lastError = error;
      // Cut back a partial write so the chain continues from the last durable record.
      await this.#fh.truncate(this.#size).catch(() => undefined);
      this.#opts.events?.auditWriteFailed?.(error);
      for (const p of batch) p.resolve({ ok: false, error });
      return;
    }
    this.#size += buf.length;
    this.#seq = seq;
    this.#hash = prev;
    this.#lastError = undefined;
    // The head is written after the data is durable, so it never claims more than the log holds.
    try {
      const tmp = path.join(this.#dir, `${HEAD_FILE}.tmp`);
      await writeFile(tmp, JSON.stringify({ seq, hash: prev }));
      await rename(tmp, path.join(this.#dir, HEAD_FILE));
    } catch (e) {
      this.#opts.events?.auditWriteFailed?.(`audit head update failed: ${(e as Error).message}`);
    }
    batch.forEach((p, i) => p.resolve(results[i]!));
  }

  gate(result: AppendResult, sensitive: boolean): 'proceed' | 'refuse' {
    if (result.ok || !sensitive) return 'proceed';
    if (this.#opts.failMode === 'closed') return 'refuse';
    this.#opts.events?.auditFailOpen?.();
    return 'proceed';
  }

  status(): AuditLogStatus {
    return { ok: this.#lastError === undefined, seq: this.#seq, failures: this.#failures, ...(this.#lastError ? { lastError: this.#lastError } : {}) };
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#writing;
    await this.#fh.close();
  }
}

/**
 * Opens (or creates) the log and checks it continues from its head anchor. A log shorter than its anchor
 * (tail cut off) or whose last record differs from the anchor is refused with GW_ERR_AUDIT_CORRUPT:
 * appending to it would hide the damage.
 */
export async function createAuditLog(opts: AuditLogOptions): Promise<AuditLog> {
  await mkdir(opts.dir, { recursive: true });
  const file = path.join(opts.dir, LOG_FILE);
  const head = await readHead(opts.dir);
  let last: AuditRecord | undefined;
  try {
    last = await readLastRecord(file);
  } catch (e) {
    throw new GraphwardenError('GW_ERR_AUDIT_CORRUPT', `audit log ${file} ends in an unreadable record (${(e as Error).message}); run graphwarden audit verify`);
  }
  if (head && (!last || last.seq < head.seq || (last.seq === head.seq && last.hash !== head.hash))) {
    throw new GraphwardenError(
      'GW_ERR_AUDIT_CORRUPT',
      `audit log ${file} does not reach its head anchor (anchor seq ${head.seq}, log ends at ${last?.seq ?? 'nothing'}); run graphwarden audit verify`,
    );
  }
  const fh = await (opts.openFile ?? open)(file, 'a+');
  const { size } = await stat(file);
  // A log ahead of its anchor is normal after a crash between the data sync and the head update.
  const start: AuditHead = last ? { seq: last.seq, hash: last.hash } : { seq: 0, hash: GENESIS };
  return new Log(fh, opts, start, size);
}

/**
 * For producers that only need "written or not" (e.g. the approvals module's audit port): resolves when
 * the event is durable, rejects when the append failed, so the producer's own failure counting works.
 */
export function rejectingAppender(log: AuditLog): { append(event: AuditEvent): Promise<void> } {
  return {
    async append(event) {
      const r = await log.append(event);
      if (!r.ok) throw new Error(r.error);
    },
  };
}
