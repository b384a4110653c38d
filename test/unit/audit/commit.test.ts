// Group commit pacing (audit.commitIntervalMs): a quiet log writes at once; under load the next batch
// starts no sooner than the interval after the previous one, so one durable write carries more records;
// close() never waits out the interval. Time is a fake clock driven by the test, never a sleep.
import { describe, it, expect } from 'vitest';
import { createAuditLog, readHead } from '../../../src/audit/log.js';
import { verifyAuditLog } from '../../../src/audit/verify.js';
import type { AuditEvent } from '../../../src/audit/event.js';
import { FakeTimers, interceptWrites, useTempLogs } from './support.js';

const { tmp, logs } = useTempLogs('gw-commit-');

const ev = (i: number): AuditEvent => ({ type: 'rules', v: 1, action: 'loaded', revision: `rev-${i}`, at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString() });

async function pacedLog(timers: FakeTimers, commitIntervalMs?: number) {
  const dir = await tmp();
  const writes: number[] = [];
  const log = await createAuditLog({
    dir,
    failMode: 'closed',
    timers,
    headIntervalMs: 0,
    ...(commitIntervalMs !== undefined ? { commitIntervalMs } : {}),
    writeAt: interceptWrites((write, args) => {
      writes.push(timers.t);
      return write(...args);
    }),
  });
  logs.push(log);
  return { dir, log, writes };
}

function tracked<T>(p: Promise<T>): { done: boolean; promise: Promise<T> } {
  const t = { done: false, promise: p };
  void p.then(() => (t.done = true));
  return t;
}

describe('group commit pacing', () => {
  it('a quiet log writes the first record at once (no wait, nothing scheduled)', async () => {
    const timers = new FakeTimers();
    const { log, writes } = await pacedLog(timers);
    expect(await log.append(ev(1))).toMatchObject({ ok: true, seq: 1 });
    expect(writes).toEqual([0]);
    expect(timers.pending).toEqual([]);
  });

  it('under load the next batch waits for the rest of the interval and then carries every record queued meanwhile', async () => {
    const timers = new FakeTimers();
    const { dir, log, writes } = await pacedLog(timers); // default interval: 10 ms
    const first = log.append(ev(1)); // batch 1 starts at t=0
    timers.t = 3;
    const later = [2, 3, 4, 5].map((i) => tracked(log.append(ev(i))));
    await first;
    await timers.scheduled(); // the writer now waits for t=10 before batch 2
    expect(timers.pending.map((p) => [p.at, p.keepAlive])).toEqual([[10, true]]);
    expect(later.some((t) => t.done)).toBe(false);
    timers.advance(6); // t=9: not yet
    expect(timers.pending).toHaveLength(1);
    timers.advance(1); // t=10
    const results = await Promise.all(later.map((t) => t.promise));
    expect(results.map((r) => (r.ok ? r.seq : -1))).toEqual([2, 3, 4, 5]);
    expect(writes).toEqual([0, 10]); // two durable writes for five records
    expect(await verifyAuditLog(dir)).toMatchObject({ ok: true, records: 5 });
  });

  it('a batch that starts after the interval has passed does not wait', async () => {
    const timers = new FakeTimers();
    const { log, writes } = await pacedLog(timers);
    await log.append(ev(1));
    timers.t = 25;
    await log.append(ev(2));
    expect(writes).toEqual([0, 25]);
    expect(timers.pending).toEqual([]);
  });

  it('close() writes what is queued at once instead of waiting out the interval, and anchors it', async () => {
    const timers = new FakeTimers();
    const { dir, log, writes } = await pacedLog(timers, 1000);
    const first = log.append(ev(1));
    const queued = [2, 3].map((i) => log.append(ev(i)));
    await first;
    await timers.scheduled();
    await log.close(); // no advance: the commit wait is cut short
    expect((await Promise.all(queued)).every((r) => r.ok)).toBe(true);
    expect(writes).toEqual([0, 0]);
    expect(timers.pending).toEqual([]);
    expect(await readHead(dir)).toMatchObject({ seq: 3 });
  });

  it('commitIntervalMs 0 starts each batch as soon as the previous one is durable', async () => {
    const timers = new FakeTimers();
    const { log, writes } = await pacedLog(timers, 0);
    const all = [1, 2, 3].map((i) => log.append(ev(i)));
    expect((await Promise.all(all)).map((r) => r.ok)).toEqual([true, true, true]);
    expect(writes.length).toBe(2); // [1] then [2, 3], with no timer in between
    expect(timers.pending).toEqual([]);
  });
});
