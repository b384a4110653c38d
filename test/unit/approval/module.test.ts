import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApprovalModule } from '../../../src/approval/index.js';
import { AGENT_APP, T0, fakeClock, holdRequest, manualTimers, recorder, tempDir } from './helpers.js';

describe('approval module wiring', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(() => tmp.cleanup());

  const build = (clock: ReturnType<typeof fakeClock>, timers: ReturnType<typeof manualTimers>, rec: ReturnType<typeof recorder>) =>
    createApprovalModule(
      { stateDir: path.join(tmp.dir, 'state'), approvers: [], approvals: { pendingTtlMs: 60_000, warnBeforeMs: 10_000 } },
      { audit: rec.audit, metric: rec.metric, clock: clock.now, timers },
    );

  it('one timer drives warnings, expiries and override expiry from the nearest deadline', async () => {
    const clock = fakeClock();
    const timers = manualTimers();
    const rec = recorder();
    const mod = build(clock, timers, rec);
    mod.start();
    expect(timers.pending()).toBe(0);
    const held = mod.approvals.hold(holdRequest('d1', { waitMs: 120_000 }), new AbortController().signal);
    mod.overrides.create({ agent: AGENT_APP, operations: [{ ruleId: 'r1' }], until: T0 + 30_000, justification: 'x' }, { name: 'alice', ids: [] });
    expect(rec.metrics).toContainEqual({ type: 'approvals-pending', count: 1 });

    // The scheduler's one timer aims at the nearest deadline (the override at +30 s, before the
    // warning at +50 s); the other timer is the hold's own wait.
    expect(timers.delays()).toEqual([30_000, 120_000]);
    clock.set(T0 + 30_000);
    timers.fireAll();
    // fireAll also ended the hold's wait: the call got "pending"; the request stays pending.
    expect((await held).kind).toBe('pending');
    expect(mod.overrides.list()[0]!.state).toBe('expired');
    expect(timers.delays()).toEqual([20_000]);
    clock.set(T0 + 50_000);
    timers.fireAll();
    expect(timers.delays()).toEqual([10_000]);
    expect(rec.events.map((e) => e.action)).toContain('expiry-warning');
    clock.set(T0 + 60_000);
    timers.fireAll();
    expect(mod.approvals.list()[0]!.state).toBe('expired');
    expect(rec.metrics.filter((m) => m.type === 'approvals-pending').at(-1)).toEqual({ type: 'approvals-pending', count: 0 });
    expect(timers.pending()).toBe(0);
    await mod.stop();
  });

  it('start() after a crash records abandoned holds and keeps the request pending', async () => {
    const clock = fakeClock();
    const rec = recorder();
    const first = build(clock, manualTimers(), rec);
    first.start();
    void first.approvals.hold(holdRequest('d1'), new AbortController().signal);
    first.store.close(); // the process dies: no stop()

    const second = build(clock, manualTimers(), rec);
    expect(second.start()).toEqual({ abandoned: 1 });
    expect(second.approvals.list({ state: 'pending' })).toHaveLength(1);
    await second.stop();
  });
});
