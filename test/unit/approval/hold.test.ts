import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApprovalService, type ApprovalService } from '../../../src/approval/hold.js';
import type { Approver } from '../../../src/approval/model.js';
import type { ApprovalNotice } from '../../../src/approval/notify.js';
import { createApprovalStore, type ApprovalStore } from '../../../src/approval/store.js';
import { AGENT_APP, T0, fakeClock, holdRequest, keyParts, manualTimers, recorder, tempDir } from './helpers.js';

const alice: Approver = { name: 'alice', ids: ['99999999-9999-9999-9999-999999999999'] };
const bob: Approver = { name: 'bob', ids: [] };

describe('holding calls for approval', () => {
  let tmp: ReturnType<typeof tempDir>;
  let store: ApprovalStore;
  let clock: ReturnType<typeof fakeClock>;
  let timers: ReturnType<typeof manualTimers>;
  let rec: ReturnType<typeof recorder>;
  let notices: ApprovalNotice[];
  let svc: ApprovalService;

  const make = (): ApprovalService =>
    createApprovalService({
      store,
      audit: rec.audit,
      metric: rec.metric,
      clock: clock.now,
      timers,
      notify: (n) => notices.push(n),
      config: { pendingTtlMs: 60_000, warnBeforeMs: 10_000, retryAfterSec: 20 },
    });

  beforeEach(() => {
    tmp = tempDir();
    store = createApprovalStore({ stateDir: tmp.dir });
    clock = fakeClock();
    timers = manualTimers();
    rec = recorder();
    notices = [];
    svc = make();
  });
  afterEach(() => {
    store.close();
    tmp.cleanup();
  });

  it('concurrent identical calls share one request and are all released by one approval', async () => {
    const ctl = new AbortController();
    const holds = [svc.hold(holdRequest('d1'), ctl.signal), svc.hold(holdRequest('d2'), ctl.signal), svc.hold(holdRequest('d3'), ctl.signal)];
    const list = svc.list({ state: 'pending' });
    expect(list).toHaveLength(1);
    const id = list[0]!.id;
    expect(svc.waiting(id)).toBe(3);
    expect(notices.map((n) => n.event)).toEqual(['requested']);

    const r = svc.approve(id, alice, { justification: 'change ticket 42' });
    expect(r.ok && r.released).toBe(3);
    const outcomes = await Promise.all(holds);
    expect(outcomes).toEqual([0, 1, 2].map(() => ({ kind: 'approved', approvalId: id })));
    expect(svc.get(id)!.state).toBe('used');
    expect(rec.events.filter((e) => e.action === 'used').map((e) => e.decisionId).sort()).toEqual(['d1', 'd2', 'd3']);
    expect(rec.events.find((e) => e.action === 'requested')?.decisionId).toBe('d1');
    expect(rec.events.filter((e) => e.action === 'joined')).toHaveLength(2);
    // Single use: a later identical call is held again, not waved through.
    expect(svc.consume(keyParts(), 'd4')).toBeNull();
  });

  it('a different call does not join or use another call’s approval', async () => {
    const ctl = new AbortController();
    const p1 = svc.hold(holdRequest('d1'), ctl.signal);
    const p2 = svc.hold(holdRequest('d2', { key: keyParts({ bodyDigest: 'c'.repeat(64) }) }), ctl.signal);
    const [a, b] = svc.list({ state: 'pending' });
    expect(a!.id).not.toBe(b!.id);
    const first = svc.list({ state: 'pending' }).find((x) => x.keyParts.bodyDigest === 'a'.repeat(64))!;
    svc.approve(first.id, alice, { justification: 'ok', uses: 5 });
    expect(await p1).toEqual({ kind: 'approved', approvalId: first.id });
    expect(svc.consume(keyParts({ bodyDigest: 'c'.repeat(64) }), 'd9')).toBeNull();
    svc.deny(b!.id === first.id ? a!.id : b!.id, alice, { justification: 'no' });
    expect((await p2).kind).toBe('denied');
  });

  it('the wait ends with pending and Retry-After; the retry passes once after approval', async () => {
    const p = svc.hold(holdRequest('d1'), new AbortController().signal);
    timers.fireAll();
    const out = await p;
    expect(out).toEqual({ kind: 'pending', approvalId: expect.stringMatching(/^apr_/), retryAfterSec: 20 });
    const id = (out as { approvalId: string }).approvalId;
    expect(svc.get(id)!.state).toBe('pending');
    clock.advance(5000);
    svc.approve(id, alice, { justification: 'ok' });
    // The SDK's retry of the same call goes through hold() again and is released at once.
    expect(await svc.hold(holdRequest('d2'), new AbortController().signal)).toEqual({ kind: 'approved', approvalId: id });
    // A replay of the same approval is held anew, not released.
    const again = svc.hold(holdRequest('d3'), new AbortController().signal);
    expect(svc.list({ state: 'pending' })).toHaveLength(1);
    expect(svc.list({ state: 'pending' })[0]!.id).not.toBe(id);
    timers.fireAll();
    expect((await again).kind).toBe('pending');
    expect(rec.metrics).toContainEqual({ type: 'approval-time-to-decision', outcome: 'approved', seconds: 5 });
  });

  it('denial answers waiting calls and identical retries during the denial hold', async () => {
    const p = svc.hold(holdRequest('d1'), new AbortController().signal);
    const id = svc.list()[0]!.id;
    expect(svc.deny(id, bob, { justification: '' })).toEqual({ ok: false, reason: 'justification-required' });
    svc.deny(id, bob, { justification: 'not during freeze' });
    expect(await p).toEqual({ kind: 'denied', approvalId: id, by: 'bob', justification: 'not during freeze' });
    expect(await svc.hold(holdRequest('d2'), new AbortController().signal)).toEqual({ kind: 'denied', approvalId: id, by: 'bob', justification: 'not during freeze' });
    expect(svc.approve(id, alice, { justification: 'changed my mind' })).toEqual({ ok: false, reason: 'not-pending' });
  });

  it('expiry is not denial: waiters get expired, approvers are warned first, late approval is refused', async () => {
    const p = svc.hold(holdRequest('d1', { waitMs: 120_000 }), new AbortController().signal);
    const id = svc.list()[0]!.id;
    expect(svc.nextDeadline()).toBe(T0 + 50_000);
    clock.set(T0 + 50_000);
    expect(svc.sweep()).toBe(1);
    expect(notices.map((n) => n.event)).toEqual(['requested', 'expiring']);
    expect(svc.nextDeadline()).toBe(T0 + 60_000);
    clock.set(T0 + 60_000);
    svc.sweep();
    expect(await p).toEqual({ kind: 'expired', approvalId: id });
    expect(svc.get(id)!.state).toBe('expired');
    expect(svc.get(id)!.decidedBy).toBeNull();
    expect(svc.approve(id, alice, { justification: 'late' })).toEqual({ ok: false, reason: 'not-pending' });
    expect(rec.events.map((e) => e.action)).toEqual(['requested', 'expiry-warning', 'expired']);
    expect(rec.metrics).toContainEqual({ type: 'approval-outcome', outcome: 'expired' });
    // A new identical call asks afresh rather than inheriting the expiry.
    void svc.hold(holdRequest('d2'), new AbortController().signal);
    expect(svc.list({ state: 'pending' })).toHaveLength(1);
  });

  it('expires lazily on the next hold even if no timer fired', async () => {
    void svc.hold(holdRequest('d1', { waitMs: 0 }), new AbortController().signal);
    timers.fireAll();
    const id = svc.list()[0]!.id;
    clock.set(T0 + 61_000);
    const p = svc.hold(holdRequest('d2'), new AbortController().signal);
    expect(svc.get(id)!.state).toBe('expired');
    expect(svc.list({ state: 'pending' })).toHaveLength(1);
    timers.fireAll();
    await p;
  });

  it('a client that goes away is recorded abandoned and its approval remains usable by the retry', async () => {
    const ctl = new AbortController();
    const p = svc.hold(holdRequest('d1'), ctl.signal);
    const id = svc.list()[0]!.id;
    ctl.abort();
    expect(await p).toEqual({ kind: 'abandoned' });
    expect(rec.events.find((e) => e.action === 'abandoned')).toMatchObject({ approvalId: id, decisionId: 'd1' });
    expect(store.openHolds()).toHaveLength(0);
    svc.approve(id, alice, { justification: 'ok' });
    expect(svc.get(id)!.usesCount).toBe(0);
    expect(svc.consume(keyParts(), 'd2')).toEqual({ approvalId: id });
    expect(svc.consume(keyParts(), 'd3')).toBeNull();
  });

  it('a store failure rejects the hold instead of throwing, and leaves no half-written request', async () => {
    store.close();
    const p = svc.hold(holdRequest('d1'), new AbortController().signal);
    await expect(p).rejects.toThrow();
    store = createApprovalStore({ stateDir: tmp.dir });
    expect(store.listApprovals()).toHaveLength(0);
  });

  it('a failing audit sink is counted and does not change the outcome', async () => {
    const metrics: Array<{ type: string }> = [];
    const s2 = createApprovalService({
      store,
      clock: clock.now,
      timers,
      metric: (e) => void metrics.push(e),
      audit: {
        append: (e) => (e.action === 'requested' ? Promise.reject(new Error('disk full')) : (() => { throw new Error('disk full'); })()),
      },
    });
    const p = s2.hold(holdRequest('d1'), new AbortController().signal);
    const id = s2.list()[0]!.id;
    expect(s2.approve(id, alice, { justification: 'ok' }).ok).toBe(true);
    expect(await p).toEqual({ kind: 'approved', approvalId: id });
    expect(metrics.filter((m) => m.type === 'audit-failed').length).toBeGreaterThanOrEqual(3);
  });

  it('an already aborted signal holds nothing', async () => {
    const ctl = new AbortController();
    ctl.abort();
    expect(await svc.hold(holdRequest('d1'), ctl.signal)).toEqual({ kind: 'abandoned' });
    expect(svc.list()).toHaveLength(0);
  });

  it('the agent cannot approve its own call', async () => {
    void svc.hold(holdRequest('d1'), new AbortController().signal);
    const id = svc.list()[0]!.id;
    expect(svc.approve(id, { name: 'ops-bot', ids: [AGENT_APP] }, { justification: 'trust me' })).toEqual({ ok: false, reason: 'self-approval' });
    expect(svc.get(id)!.state).toBe('pending');
    svc.close();
  });

  it('close answers every waiting call pending so the SDK retries the next process', async () => {
    const p = svc.hold(holdRequest('d1'), new AbortController().signal);
    svc.close();
    expect((await p).kind).toBe('pending');
    expect(store.openHolds()).toHaveLength(0);
  });
});
