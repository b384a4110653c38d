import { describe, it, expect, afterEach } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createDecider } from '../../../src/decision/decider.js';
import type { DecisionMetricsEvents } from '../../../src/decision/decider.js';
import { replayDecision } from '../../../src/decision/replay.js';
import { createPolicyStore } from '../../../src/policy/store.js';
import { createUsageStore } from '../../../src/policy/usage-store.js';
import { createFixtureView } from '../../../src/policy/fixture-view.js';
import type { AppendResult, AuditLog } from '../../../src/audit/log.js';
import type { AuditEvent } from '../../../src/audit/event.js';
import { appPrincipal, operation, policyFrom, APP } from '../policy/helpers.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

const view = createFixtureView({ agents: [{ appId: APP, permissions: ['Mail.Read'] }] });
const rules = `rules:
  - id: first
    effect: alert
    reasonCode: first-use-of-permission
    reason: First use.
    when: { permissions: { firstUse: true } }
  - id: no-writes
    effect: block
    reasonCode: no-writes
    reason: No writes.
    when: { operation: { action: [create, update, delete] } }
  - id: try-beta
    effect: block
    mode: shadow
    reasonCode: beta
    reason: Beta.
    when: { operation: { version: beta } }
`;

/** An audit log double whose appends succeed or fail on demand. */
function fakeAudit(failMode: 'closed' | 'open', fail: () => boolean): AuditLog & { events: AuditEvent[]; waits: boolean[] } {
  const events: AuditEvent[] = [];
  const waits: boolean[] = [];
  return {
    events,
    waits,
    append(e, _json, opts): Promise<AppendResult> {
      events.push(e);
      waits.push(opts?.wait !== false);
      return Promise.resolve(fail() ? { ok: false, error: 'disk full' } : { ok: true, seq: events.length, hash: 'h' });
    },
    gate(r, sensitive) {
      return r.ok || !sensitive ? 'proceed' : failMode === 'closed' ? 'refuse' : 'proceed';
    },
    status: () => ({ ok: true, seq: events.length, failures: 0 }),
    close: () => Promise.resolve(),
  };
}

describe('decider', () => {
  it('emits metrics events, records first use only for calls let through, and audits every decision', async () => {
    const usage = await createUsageStore({});
    const audit = fakeAudit('closed', () => false);
    const seen: Array<Parameters<NonNullable<DecisionMetricsEvents['decision']>>[0]> = [];
    const latencies: number[] = [];
    let n = 0;
    const policy = policyFrom(rules);
    const decider = createDecider({
      policy: { current: () => policy },
      usage,
      audit,
      newId: () => `d${++n}`,
      events: { decision: (e) => seen.push(e), decisionLatency: (s) => latencies.push(s) },
    });
    const first = decider.evaluate({ principal: appPrincipal(), operation: operation(), view, requestId: 'r1' });
    expect(first.decision).toMatchObject({ id: 'd1', effect: 'alert', reasonCode: 'first-use-of-permission' });
    const second = decider.evaluate({ principal: appPrincipal(), operation: operation({ version: 'beta' }), view });
    expect(second.decision).toMatchObject({ effect: 'allow', wouldBe: 'block' });
    const blocked = decider.evaluate({ principal: appPrincipal({ roles: ['Mail.Send'] }), operation: operation({ method: 'POST', action: 'create', needs: ['Mail.Send'] }), view });
    expect(blocked.decision.enforced).toBe('block');
    expect(usage.has(`${appPrincipal().tenantId}/${APP}`, 'Mail.Send')).toBe(false); // blocked calls are not "used"
    expect(seen.map((e) => [e.enforced, e.reasonCode, e.shadow])).toEqual([
      ['alert', 'first-use-of-permission', false],
      ['allow', 'no-rule-matched', true],
      ['block', 'no-writes', false],
    ]);
    expect(latencies).toHaveLength(3);
    expect(latencies.every((s) => Number.isFinite(s) && s >= 0)).toBe(true);
    expect(audit.events.map((e) => (e.type === 'decision' ? e.decisionId : ''))).toEqual(['d1', 'd2', 'd3']);
    expect(await decider.admit(first)).toBe('proceed');
  });

  it('fail closed: a sensitive call whose audit record failed is refused; a plain allowed read is not held up', async () => {
    const policy = policyFrom('rules:\n  - id: watch-writes\n    effect: alert\n    reasonCode: w\n    reason: w\n    when: { operation: { action: create } }\n');
    const audit = fakeAudit('closed', () => true);
    const decider = createDecider({
      policy: { current: () => policy },
      audit,
    });
    const write = decider.evaluate({ principal: appPrincipal(), operation: operation({ method: 'POST', action: 'create' }), view });
    expect(write.sensitive).toBe(true);
    expect(await decider.admit(write)).toBe('refuse');
    const read = decider.evaluate({ principal: appPrincipal(), operation: operation(), view });
    expect(read.sensitive).toBe(false);
    expect(await decider.admit(read)).toBe('proceed');
    // Only the sensitive call's record is appended as waited for (synced before it resolves).
    expect(audit.waits).toEqual([true, false]);
  });

  it('a decision made under an old rules revision replays the same after the rules changed', async () => {
    const rulesDir = await mkdtemp(path.join(tmpdir(), 'gw-rules-'));
    const state = await mkdtemp(path.join(tmpdir(), 'gw-state-'));
    dirs.push(rulesDir, state);
    await writeFile(path.join(rulesDir, 'a.yaml'), rules);
    const store = await createPolicyStore({ dir: rulesDir, stateDir: state, watch: false });
    const decider = createDecider({ policy: store, newId: () => 'old' });
    const old = decider.evaluate({ principal: appPrincipal(), operation: operation({ method: 'POST', action: 'create' }), view });
    expect(old.decision.enforced).toBe('block');

    await writeFile(path.join(rulesDir, 'a.yaml'), rules.replace('effect: block\n    reasonCode: no-writes', 'effect: allow\n    reasonCode: no-writes'));
    expect((await store.reload()).ok).toBe(true);
    expect(store.current().revision).not.toBe(old.decision.rulesRevision);
    store.close();

    const recorded = JSON.parse(JSON.stringify(old.event)) as typeof old.event;
    const fresh = await createPolicyStore({ dir: rulesDir, stateDir: state, watch: false });
    const policy = await fresh.byRevision(recorded.decision.rulesRevision);
    fresh.close();
    const r = replayDecision(recorded, policy!);
    expect(r).toMatchObject({ same: true, differences: [], factsIntact: true });
    // Replaying against the new rules gives a different answer, and says where.
    const other = replayDecision(recorded, fresh.current());
    expect(other.same).toBe(false);
    expect(other.differences).toEqual(expect.arrayContaining(['effect', 'enforced', 'rulesRevision']));
  });
});
