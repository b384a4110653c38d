// Shared by the audit log tests: throwaway log directories (and the logs in them) cleaned up after
// each test, a fake clock the log's timers run on, driven by the test (never a sleep), and log files
// whose writes the test watches or makes fail.
import { afterEach } from 'vitest';
import { writeSync } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AuditLog, AuditLogOptions, AuditTimers } from '../../../src/audit/log.js';

/** Call at module level: `tmp()` makes a directory, logs pushed to `logs` are closed after each test. */
export function useTempLogs(prefix: string): { tmp(): Promise<string>; logs: AuditLog[] } {
  const dirs: string[] = [];
  const logs: AuditLog[] = [];
  afterEach(async () => {
    for (const l of logs.splice(0)) await l.close();
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });
  return {
    logs,
    async tmp() {
      const d = await mkdtemp(path.join(tmpdir(), prefix));
      dirs.push(d);
      return d;
    },
  };
}

type WriteAt = NonNullable<AuditLogOptions['writeAt']>;
type OpenFile = NonNullable<AuditLogOptions['openFile']>;

/** A `writeAt` for createAuditLog whose batch writes go through `around` (given the real write and the call's arguments). */
export function interceptWrites(around: (write: WriteAt, args: Parameters<WriteAt>) => number): WriteAt {
  return (...args) => around(writeSync, args);
}

/**
 * A `writeAt` whose next write, once `failNext()` was called, runs `fail` instead (given the real write
 * and the call's arguments, so it can leave a torn write behind first); later writes work again.
 */
export function failingWrites(fail: (write: WriteAt, args: Parameters<WriteAt>) => never): { writeAt: WriteAt; failNext(): void } {
  let armed = false;
  return {
    failNext: () => void (armed = true),
    writeAt: interceptWrites((write, args) => {
      if (!armed) return write(...args);
      armed = false;
      return fail(write, args);
    }),
  };
}

export class FakeTimers implements AuditTimers {
  t = 0;
  pending: Array<{ at: number; fn: () => void; keepAlive: boolean }> = [];
  #waiters: Array<() => void> = [];
  now = (): number => this.t;
  schedule = (fn: () => void, ms: number, keepAlive?: boolean): (() => void) => {
    const entry = { at: this.t + ms, fn, keepAlive: keepAlive === true };
    this.pending.push(entry);
    for (const w of this.#waiters.splice(0)) w();
    return () => {
      this.pending = this.pending.filter((e) => e !== entry);
    };
  };
  /** Resolves once the log has something scheduled (at once if it has already). */
  scheduled(): Promise<void> {
    if (this.pending.length > 0) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
  /** Moves the clock and runs the timers that fall due. */
  advance(ms: number): void {
    this.t += ms;
    const due = this.pending.filter((e) => e.at <= this.t);
    this.pending = this.pending.filter((e) => e.at > this.t);
    for (const e of due) e.fn();
  }
}

/**
 * An `openFile` whose handles report every fdatasync and a `writeAt` that reports every write, in
 * order, to `ops` (as 'sync' and 'write'); `failNextSync()` makes the next fdatasync fail (after the
 * data was written); `synced(n)` resolves once n syncs have completed (the n-th, counting from 1,
 * whether it failed or not).
 */
export function watchedSyncs(): { openFile: OpenFile; writeAt: WriteAt; ops: string[]; failNextSync(): void; synced(n: number): Promise<void> } {
  const ops: string[] = [];
  let failing = false;
  let done = 0;
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  const settle = (): void => {
    done++;
    for (const w of waiters.filter((x) => x.n <= done)) w.resolve();
  };
  return {
    ops,
    writeAt: interceptWrites((write, args) => {
      ops.push('write');
      return write(...args);
    }),
    failNextSync: () => void (failing = true),
    synced: (n) => (done >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve }))),
    openFile: async (file, flags) => {
      const fh = await open(file, flags);
      const datasync = fh.datasync.bind(fh);
      fh.datasync = async () => {
        ops.push('sync');
        try {
          if (failing) {
            failing = false;
            throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
          }
          return await datasync();
        } finally {
          settle();
        }
      };
      return fh;
    },
  };
}
