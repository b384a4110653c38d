// Shared by the audit log tests: throwaway log directories (and the logs in them) cleaned up after
// each test, and a fake clock the log's timers run on, driven by the test (never a sleep).
import { afterEach } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AuditLog, AuditTimers } from '../../../src/audit/log.js';

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
