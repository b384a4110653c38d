import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createOverrides, overrideApplies, overrideNarrative, type OverridesService } from '../../../src/approval/overrides.js';
import { createApprovalStore, type ApprovalStore } from '../../../src/approval/store.js';
import { AGENT_APP, T0, fakeClock, recorder, tempDir } from './helpers.js';

const alice = { name: 'alice', ids: [] };
const bob = { name: 'bob', ids: [] };
const HOUR = 3_600_000;

describe('governed overrides', () => {
  let tmp: ReturnType<typeof tempDir>;
  let store: ApprovalStore;
  let clock: ReturnType<typeof fakeClock>;
  let rec: ReturnType<typeof recorder>;
  let ov: OverridesService;

  beforeEach(() => {
    tmp = tempDir();
    store = createApprovalStore({ stateDir: tmp.dir });
    clock = fakeClock();
    rec = recorder();
    ov = createOverrides({ store, audit: rec.audit, metric: rec.metric, clock: clock.now, config: { maxDurationMs: 24 * HOUR, maxBreakGlassDurationMs: 4 * HOUR } });
  });
  afterEach(() => {
    store.close();
    tmp.cleanup();
  });

  it('applies only to its agent and its named rules or templates, until it expires', () => {
    const r = ov.create({ agent: AGENT_APP.toUpperCase(), operations: [{ ruleId: 'approve-role-assignments' }, { template: 'POST /users' }], until: T0 + HOUR, justification: 'migration' }, alice);
    expect(r.ok).toBe(true);
    expect(ov.activeOverridesFor(AGENT_APP, ['approve-role-assignments'], undefined, T0)).toHaveLength(1);
    expect(ov.activeOverridesFor(AGENT_APP, [], 'POST /users', T0)).toHaveLength(1);
    expect(ov.activeOverridesFor(AGENT_APP, ['other-rule'], 'POST /groups', T0)).toHaveLength(0);
    expect(ov.activeOverridesFor('55555555-5555-5555-5555-555555555555', ['approve-role-assignments'], undefined, T0)).toHaveLength(0);
    expect(ov.activeOverridesFor(AGENT_APP, ['approve-role-assignments'], undefined, T0 + HOUR)).toHaveLength(0);
    expect(rec.metrics).toContainEqual({ type: 'overrides-active', count: 1 });

    expect(ov.nextDeadline()).toBe(T0 + HOUR);
    clock.set(T0 + HOUR);
    expect(ov.sweep()).toBe(1);
    expect(ov.list()[0]!.state).toBe('expired');
    expect(rec.events.map((e) => e.action)).toEqual(['override-created', 'override-activated', 'override-expired']);
    expect(rec.metrics.at(-1)).toEqual({ type: 'overrides-active', count: 0 });
  });

  it('break-glass needs a second, distinct approver before it applies', () => {
    const r = ov.create({ agent: AGENT_APP, operations: [{ ruleId: 'r1' }], until: T0 + HOUR, justification: 'outage', breakGlass: true }, alice);
    if (!r.ok) throw new Error(r.reason);
    expect(r.override.state).toBe('awaiting-second-approver');
    expect(ov.activeOverridesFor(AGENT_APP, ['r1'], undefined, T0)).toHaveLength(0);
    expect(ov.approve(r.override.id, alice)).toEqual({ ok: false, reason: 'same-approver' });
    const second = ov.approve(r.override.id, bob);
    expect(second.ok && second.override.approvedBy).toEqual(['alice', 'bob']);
    expect(ov.activeOverridesFor(AGENT_APP, ['r1'], undefined, T0)).toHaveLength(1);
    expect(overrideNarrative(ov.activeOverridesFor(AGENT_APP, ['r1'], undefined, T0)[0]!)).toBe(
      `override ${r.override.id} (break-glass, approved by alice and bob) until 2026-01-05T11:00:00.000Z: outage`,
    );
    expect(ov.approve(r.override.id, { name: 'carol', ids: [] })).toEqual({ ok: false, reason: 'not-awaiting-approval' });
  });

  it('refuses self-granted, automation, unjustified, over-long and malformed overrides', () => {
    const base = { agent: AGENT_APP, operations: [{ ruleId: 'r1' }], until: T0 + HOUR, justification: 'x' };
    expect(ov.create(base, { name: 'bot', ids: [AGENT_APP] })).toEqual({ ok: false, reason: 'self-override' });
    expect(ov.create(base, { name: 'bot', ids: [], automation: true })).toEqual({ ok: false, reason: 'automation-approver' });
    expect(ov.create({ ...base, justification: ' ' }, alice)).toEqual({ ok: false, reason: 'justification-required' });
    expect(ov.create({ ...base, until: T0 + 25 * HOUR }, alice)).toEqual({ ok: false, reason: 'too-long' });
    expect(ov.create({ ...base, until: T0 + 5 * HOUR, breakGlass: true }, alice)).toEqual({ ok: false, reason: 'too-long' });
    expect(ov.create({ ...base, until: T0 }, alice)).toEqual({ ok: false, reason: 'invalid-until' });
    expect(ov.create({ ...base, operations: [] }, alice)).toEqual({ ok: false, reason: 'invalid-operations' });
    expect(ov.create({ ...base, operations: [{ ruleId: 'r', template: 't' }] as never }, alice)).toEqual({ ok: false, reason: 'invalid-operations' });
    expect(ov.create({ ...base, agent: 'not-a-guid' }, alice)).toEqual({ ok: false, reason: 'invalid-agent' });
    expect(ov.list()).toHaveLength(0);
  });

  it('revocation stops it at once and is audited with its justification', () => {
    const r = ov.create({ agent: AGENT_APP, operations: [{ ruleId: 'r1' }], until: T0 + HOUR, justification: 'x' }, alice);
    if (!r.ok) throw new Error(r.reason);
    expect(ov.revoke(r.override.id, bob, '')).toEqual({ ok: false, reason: 'justification-required' });
    expect(ov.revoke(r.override.id, bob, 'done early').ok).toBe(true);
    expect(ov.activeOverridesFor(AGENT_APP, ['r1'], undefined, T0)).toHaveLength(0);
    expect(rec.events.at(-1)).toMatchObject({ action: 'override-revoked', actor: 'bob', justification: 'done early', approvalId: r.override.id });
    expect(ov.revoke(r.override.id, bob, 'again')).toEqual({ ok: false, reason: 'not-revocable' });
  });

  it('overrideApplies is exact on templates (no prefix or wildcard widening)', () => {
    const o = { id: 'ovr_x', agent: AGENT_APP, operations: [{ template: 'POST /users' }], until: T0 + 1, justification: 'j', createdBy: 'a', createdAt: T0, approvedBy: ['a'], breakGlass: false, state: 'active' as const, revokedBy: null, revokedAt: null, revokeJustification: null };
    expect(overrideApplies(o, AGENT_APP, [], 'POST /users', T0)).toBe(true);
    expect(overrideApplies(o, AGENT_APP, [], 'POST /users/{id}', T0)).toBe(false);
    expect(overrideApplies(o, AGENT_APP, [], 'POST /user', T0)).toBe(false);
  });
});
