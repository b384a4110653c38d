// When records reach stable storage (audit.syncIntervalMs): a record someone waits for (a sensitive
// call's) resolves only after an fdatasync that covers it and everything written before it; a record
// nobody waits for is written at once and synced within the interval; the anchor names only synced
// records. Time is a fake clock driven by the test; syncs and anchors are awaited through the handle and
// the log's headUpdated event, never by sleeping.
import { describe, it, expect } from 'vitest';
import { createAuditLog, readHead } from '../../../src/audit/log.js';
import type { AuditHead, AuditLogOptions } from '../../../src/audit/log.js';
import { verifyAuditLog } from '../../../src/audit/verify.js';
import type { AuditEvent } from '../../../src/audit/event.js';
import { FakeTimers, useTempLogs, watchedSyncs } from './support.js';

const { tmp, logs } = useTempLogs('gw-sync-');

const ev = (i: number): AuditEvent => ({ type: 'rules', v: 1, action: 'loaded', revision: `rev-${i}`, at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString() });
const lazy = { wait: false };

async function syncedLog(timers: FakeTimers, extra: Partial<AuditLogOptions> = {}, dir?: string) {
  const d = dir ?? (await tmp());
  const watch = watchedSyncs();
  const heads: AuditHead[] = [];
  const failures: string[] = [];
  const log = await createAuditLog({
    dir: d,
    failMode: 'closed',
    timers,
    headIntervalMs: 0,
    commitIntervalMs: 0, // the commit schedule has its own tests
    openFile: watch.openFile,
    writeAt: watch.writeAt,
    events: { headUpdated: (h) => heads.push(h), auditWriteFailed: (e) => failures.push(e) },
    ...extra,
  });
  logs.push(log);
  return { dir: d, log, heads, failures, ...watch };
}

describe('audit sync', () => {
  it('a record nobody waits for resolves once written; a waited-for record is synced with everything before it', async () => {
    const timers = new FakeTimers();
    const { dir, log, ops, heads } = await syncedLog(timers);
    expect(await log.append(ev(1), undefined, lazy)).toMatchObject({ ok: true, seq: 1 });
    expect(await log.append(ev(2), undefined, lazy)).toMatchObject({ ok: true, seq: 2 });
    expect(ops).toEqual(['write', 'write']);
    expect(heads).toEqual([]); // written, not synced: the anchor does not name them
    expect(await readHead(dir)).toBeUndefined();
    expect(await log.append(ev(3))).toMatchObject({ ok: true, seq: 3 });
    expect(ops).toEqual(['write', 'write', 'write', 'sync']); // one sync for all three
    expect(heads.map((h) => h.seq)).toEqual([3]);
    expect(await verifyAuditLog(dir, await readHead(dir))).toMatchObject({ ok: true, records: 3 });
  });

  it('records nobody waits for are synced by a timer syncIntervalMs after the last sync, then anchored', async () => {
    const timers = new FakeTimers();
    const { dir, log, ops, heads, synced } = await syncedLog(timers, { syncIntervalMs: 1000 });
    timers.t = 400;
    await log.append(ev(1), undefined, lazy);
    expect(timers.pending.map((p) => [p.at, p.keepAlive])).toEqual([[1000, false]]); // since the last sync (at open, t=0)
    timers.advance(599);
    expect(ops).toEqual(['write']);
    timers.advance(1);
    await synced(1);
    await log.close(); // lets the writer loop finish the anchor it started after the sync
    expect(ops).toEqual(['write', 'sync']);
    expect(heads.map((h) => h.seq)).toEqual([1]);
    expect(await readHead(dir)).toMatchObject({ seq: 1 });
  });

  it('under steady load a batch written syncIntervalMs after the last sync is synced at once, without a timer', async () => {
    const timers = new FakeTimers();
    const { log, ops } = await syncedLog(timers, { syncIntervalMs: 1000 });
    await log.append(ev(1), undefined, lazy);
    timers.t = 500;
    await log.append(ev(2), undefined, lazy);
    expect(ops).toEqual(['write', 'write']);
    timers.t = 1000;
    await log.append(ev(3), undefined, lazy);
    expect(ops).toEqual(['write', 'write', 'write', 'sync']);
    expect(timers.pending).toEqual([]); // the pending sync timer went with the sync
  });

  it('syncIntervalMs 0 syncs every batch before its records resolve, waited for or not', async () => {
    const timers = new FakeTimers();
    const { log, ops, heads } = await syncedLog(timers, { syncIntervalMs: 0 });
    await log.append(ev(1), undefined, lazy);
    await log.append(ev(2), undefined, lazy);
    expect(ops).toEqual(['write', 'sync', 'write', 'sync']);
    expect(heads.map((h) => h.seq)).toEqual([1, 2]);
  });

  it('fsync: false never syncs; waited-for records resolve once written and the anchor follows the written log', async () => {
    const timers = new FakeTimers();
    const { log, ops, heads } = await syncedLog(timers, { fsync: false });
    await log.append(ev(1));
    await log.append(ev(2), undefined, lazy);
    await log.close();
    expect(ops).toEqual(['write', 'write']);
    expect(heads.map((h) => h.seq)).toEqual([1, 2]);
  });

  it('a failed sync fails the records waited for (refused when fail closed), is counted once and keeps the log unready until a sync succeeds', async () => {
    const timers = new FakeTimers();
    const { dir, log, ops, heads, failures, failNextSync } = await syncedLog(timers);
    await log.append(ev(1), undefined, lazy);
    failNextSync();
    const waited = await log.append(ev(2));
    expect(waited).toEqual({ ok: false, error: 'audit sync failed: EIO: i/o error, fdatasync' });
    expect(log.gate(waited, true)).toBe('refuse');
    expect(failures).toEqual(['audit sync failed: EIO: i/o error, fdatasync']);
    expect(log.status()).toMatchObject({ ok: false, seq: 2, failures: 2, lastError: 'audit sync failed: EIO: i/o error, fdatasync' });
    expect(heads).toEqual([]);
    expect(timers.pending.map((p) => p.at)).toEqual([1000]); // a retry is scheduled
    // A lazy record resolves once written even while syncs fail; the failure stays reported.
    expect(await log.append(ev(3), undefined, lazy)).toMatchObject({ ok: true, seq: 3 });
    expect(log.status()).toMatchObject({ ok: false, failures: 2 });
    expect(await log.append(ev(4))).toMatchObject({ ok: true, seq: 4 });
    expect(ops).toEqual(['write', 'write', 'sync', 'write', 'write', 'sync']);
    expect(log.status()).toEqual({ ok: true, seq: 4, failures: 2 });
    expect(heads.map((h) => h.seq)).toEqual([4]);
    expect(await verifyAuditLog(dir, await readHead(dir))).toMatchObject({ ok: true, records: 4 });
  });

  it('with syncIntervalMs 0 a failing sync is retried a second later, not in a loop', async () => {
    const timers = new FakeTimers();
    const { log, ops, failNextSync } = await syncedLog(timers, { syncIntervalMs: 0 });
    timers.t = 5000;
    failNextSync();
    expect(await log.append(ev(1), undefined, lazy)).toMatchObject({ ok: true, seq: 1 }); // written; nobody waits on the sync
    expect(ops).toEqual(['write', 'sync']);
    expect(timers.pending.map((p) => p.at)).toEqual([6000]);
  });

  it('close() syncs and anchors records nobody waited for', async () => {
    const timers = new FakeTimers();
    const { dir, log, ops } = await syncedLog(timers);
    await Promise.all([1, 2, 3].map((i) => log.append(ev(i), undefined, lazy)));
    await log.close();
    expect(ops.filter((o) => o === 'sync')).toHaveLength(1);
    expect(ops[ops.length - 1]).toBe('sync');
    expect(timers.pending).toEqual([]);
    expect(await readHead(dir)).toMatchObject({ seq: 3 });
  });

  it('a tail left written but unsynced by a stopped process is synced by the next log before an anchor names it', async () => {
    const timers = new FakeTimers();
    const first = await syncedLog(timers);
    await first.log.append(ev(1));
    await first.log.append(ev(2), undefined, lazy);
    await first.log.append(ev(3), undefined, lazy); // the process stops here: no close
    expect(await readHead(first.dir)).toMatchObject({ seq: 1 });
    const next = await syncedLog(timers, {}, first.dir);
    await next.log.close(); // nothing appended: still syncs the inherited tail, then anchors it
    expect(next.ops).toEqual(['sync']);
    expect(next.heads.map((h) => h.seq)).toEqual([3]);
    expect(await verifyAuditLog(first.dir, await readHead(first.dir))).toMatchObject({ ok: true, records: 3 });
  });
});
