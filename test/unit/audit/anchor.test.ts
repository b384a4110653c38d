// The head anchor is refreshed at most every headIntervalMs (and on close), never naming a record that
// is not durable. Time is a fake clock + timer list driven by the test; anchor writes are awaited
// through the log's headUpdated event, never by sleeping.
import { describe, it, expect } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createAuditLog, readHead, LOG_FILE } from '../../../src/audit/log.js';
import type { AuditHead, AuditLogOptions } from '../../../src/audit/log.js';
import { verifyAuditLog } from '../../../src/audit/verify.js';
import type { AuditEvent } from '../../../src/audit/event.js';
import { GraphwardenError } from '../../../src/errors.js';
import { FakeTimers, failingWrites, useTempLogs } from './support.js';

const { tmp, logs } = useTempLogs('gw-anchor-');

const ev = (i: number): AuditEvent => ({ type: 'rules', v: 1, action: 'loaded', revision: `rev-${i}`, at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString() });

async function anchoredLog(dir: string, timers: FakeTimers, extra: Partial<AuditLogOptions> = {}) {
  const heads: AuditHead[] = [];
  const waiters: Array<{ seq: number; resolve: () => void }> = [];
  const log = await createAuditLog({
    dir,
    failMode: 'closed',
    headIntervalMs: 100,
    commitIntervalMs: 0, // the commit schedule has its own tests
    timers,
    ...extra,
    events: {
      headUpdated: (h) => {
        heads.push(h);
        for (const w of waiters.filter((x) => x.seq <= h.seq)) w.resolve();
      },
      ...extra.events,
    },
  });
  logs.push(log);
  /** Resolves once the anchor names record `seq` (or a later one). */
  const anchoredAt = (seq: number): Promise<void> =>
    heads.some((h) => h.seq >= seq) ? Promise.resolve() : new Promise((resolve) => waiters.push({ seq, resolve }));
  return { log, heads, anchoredAt };
}

async function lineCount(dir: string): Promise<number> {
  return (await readFile(path.join(dir, LOG_FILE), 'utf8')).split('\n').filter(Boolean).length;
}

describe('head anchor schedule', () => {
  it('anchors the first batch at once, then lags by at most the interval: a timer catches it up', async () => {
    const dir = await tmp();
    const timers = new FakeTimers();
    const { log, heads, anchoredAt } = await anchoredLog(dir, timers);
    expect((await log.append(ev(1))).ok).toBe(true);
    expect(heads.map((h) => h.seq)).toEqual([1]);
    timers.advance(10);
    await Promise.all([log.append(ev(2)), log.append(ev(3))]);
    // Durable, acknowledged, not yet anchored: verify reports them beyond the anchor, not as an error.
    expect((await readHead(dir))!.seq).toBe(1);
    expect(await verifyAuditLog(dir)).toMatchObject({ ok: true, records: 3, beyondHead: 2 });
    expect(timers.pending.map((p) => p.at)).toEqual([100]); // one timer, due interval after the last anchor
    timers.advance(89);
    expect(heads).toHaveLength(1);
    timers.advance(1);
    await anchoredAt(3);
    expect(await readHead(dir)).toEqual(heads.at(-1));
    expect(await verifyAuditLog(dir)).toMatchObject({ ok: true, records: 3, beyondHead: 0 });
  });

  it('under steady load the anchor is rewritten by the batch that finds the interval elapsed, before that append resolves', async () => {
    const dir = await tmp();
    const timers = new FakeTimers();
    const { log, heads } = await anchoredLog(dir, timers);
    for (let i = 1; i <= 5; i++) {
      const r = await log.append(ev(i));
      expect(r.ok).toBe(true);
      timers.t += 30; // time passes without the timer firing (it is due at 100)
    }
    // Appends at t=0 (anchored), 30, 60, 90 (lagging), 120 (interval elapsed: anchored in the batch).
    expect(heads.map((h) => h.seq)).toEqual([1, 5]);
    expect((await readHead(dir))!.seq).toBe(5);
    expect(timers.pending).toEqual([]); // the catch-up timer was cancelled by the in-batch anchor
  });

  it('headIntervalMs 0 anchors every batch before its appends resolve (the former behaviour)', async () => {
    const dir = await tmp();
    const timers = new FakeTimers();
    const { log } = await anchoredLog(dir, timers, { headIntervalMs: 0 });
    for (let i = 1; i <= 3; i++) {
      expect(await log.append(ev(i))).toMatchObject({ ok: true, seq: i });
      expect((await readHead(dir))!.seq).toBe(i);
    }
    expect(timers.pending).toEqual([]);
  });

  it('close() anchors every record written, so a clean stop leaves no unanchored tail', async () => {
    const dir = await tmp();
    const timers = new FakeTimers();
    const { log } = await anchoredLog(dir, timers);
    await log.append(ev(1));
    await Promise.all([2, 3, 4].map((i) => log.append(ev(i))));
    expect((await readHead(dir))!.seq).toBe(1);
    await log.close();
    expect((await readHead(dir))!.seq).toBe(4);
    expect(await verifyAuditLog(dir)).toMatchObject({ ok: true, records: 4, beyondHead: 0 });
    expect(timers.pending).toEqual([]);
  });

  it('never names a record that is not durable: the anchor stays on the last durable record when a write fails', async () => {
    const dir = await tmp();
    const timers = new FakeTimers();
    // The batch write reports an I/O error.
    const disk = failingWrites(() => {
      throw Object.assign(new Error('EIO: i/o error'), { code: 'EIO' });
    });
    const { log, heads } = await anchoredLog(dir, timers, {
      writeAt: disk.writeAt,
      events: { auditWriteFailed: () => undefined },
    });
    await log.append(ev(1));
    timers.advance(100);
    disk.failNext();
    expect((await log.append(ev(2))).ok).toBe(false);
    timers.advance(100);
    await log.close();
    // Every anchor written named a record that was in the file when it was written.
    for (const h of heads) expect(h.seq).toBeLessThanOrEqual(await lineCount(dir));
    expect((await readHead(dir))!.seq).toBe(1);
    expect(await verifyAuditLog(dir)).toMatchObject({ ok: true, records: 1 });
  });
});

describe('what a lagging anchor still detects', () => {
  it('a crash between the data sync and the anchor update: the log reopens, verifies with records beyond the anchor, and the next batch anchors them', async () => {
    const dir = await tmp();
    const timers = new FakeTimers();
    const first = await anchoredLog(dir, timers);
    await first.log.append(ev(1));
    timers.advance(10);
    await Promise.all([2, 3].map((i) => first.log.append(ev(i))));
    // Crash: the process dies here; the anchor still says 1, the log holds 3 durable records.
    expect((await readHead(dir))!.seq).toBe(1);
    expect(await verifyAuditLog(dir)).toMatchObject({ ok: true, records: 3, beyondHead: 2, problems: [] });
    const after = await anchoredLog(dir, new FakeTimers());
    expect(await after.log.append(ev(4))).toMatchObject({ ok: true, seq: 4 });
    expect(await readHead(dir)).toMatchObject({ seq: 4 });
    expect(await verifyAuditLog(dir)).toMatchObject({ ok: true, records: 4, beyondHead: 0 });
  });

  it('truncation below the anchor is still detected (and refused on reopen) while the anchor lags', async () => {
    const dir = await tmp();
    const timers = new FakeTimers();
    const { log } = await anchoredLog(dir, timers);
    await Promise.all([1, 2, 3].map((i) => log.append(ev(i))));
    timers.advance(100);
    await log.append(ev(4));
    const anchored = (await readHead(dir))!.seq;
    timers.advance(10);
    await Promise.all([5, 6].map((i) => log.append(ev(i))));
    expect((await readHead(dir))!.seq).toBe(anchored); // lagging
    const lines = (await readFile(path.join(dir, LOG_FILE), 'utf8')).split('\n').filter(Boolean);
    await writeFile(path.join(dir, LOG_FILE), `${lines.slice(0, anchored - 1).join('\n')}\n`);
    const r = await verifyAuditLog(dir);
    expect(r.ok).toBe(false);
    expect(r.problems.map((p) => p.kind)).toEqual(['truncated']);
    await expect(createAuditLog({ dir, failMode: 'closed' })).rejects.toSatisfy((e) => e instanceof GraphwardenError && e.code === 'GW_ERR_AUDIT_CORRUPT');
  });

  it('a cut within the unanchored tail is invisible to the local anchor but caught by an exported one (documented limit)', async () => {
    const dir = await tmp();
    const timers = new FakeTimers();
    const { log } = await anchoredLog(dir, timers);
    await log.append(ev(1));
    timers.advance(10);
    await Promise.all([2, 3].map((i) => log.append(ev(i))));
    const status = log.status();
    const exported: AuditHead = { seq: status.seq, hash: '' };
    const lines = (await readFile(path.join(dir, LOG_FILE), 'utf8')).split('\n').filter(Boolean);
    exported.hash = (JSON.parse(lines.at(-1)!) as { hash: string }).hash;
    await writeFile(path.join(dir, LOG_FILE), `${lines.slice(0, 2).join('\n')}\n`);
    expect(await verifyAuditLog(dir)).toMatchObject({ ok: true, records: 2, beyondHead: 1 });
    const withExport = await verifyAuditLog(dir, exported);
    expect(withExport.problems.map((p) => p.kind)).toEqual(['truncated']);
  });
});
