// Rule matching remembers answers for values that cannot change (frozen shared lists, map templates, the
// decision time): decisions on shared facts must equal decisions on the same facts as plain data, in any
// order of calls.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { decide } from '../../../src/decision/decide.js';
import { gatherFacts } from '../../../src/policy/inputs.js';
import type { DecisionFacts } from '../../../src/policy/inputs.js';
import { createFixtureView } from '../../../src/policy/fixture-view.js';
import { appPrincipal, delegatedPrincipal, operation, policyFrom, APP } from './helpers.js';

const policy = policyFrom(`rules:
  - id: mail-perm
    effect: alert
    reasonCode: mail-perm
    reason: Mail permission.
    when: { operation: { permission: [Mail.*] } }
  - id: users-template
    effect: block
    reasonCode: users-template
    reason: Users.
    when: { operation: { template: [/users/*/messages**] } }
  - id: select-secret
    effect: approve
    reasonCode: select-secret
    reason: Select.
    when: { operation: { select: [secret*] } }
  - id: path-beta
    effect: alert
    reasonCode: path-beta
    reason: Path.
    when: { operation: { path: [/groups/**] } }
  - id: office-hours
    effect: alert
    reasonCode: office-hours
    reason: Office hours.
    when: { context: { time: { timezone: UTC, days: [mon, tue, wed, thu, fri], from: "08:00", to: "18:00" } } }
`);
const fixture = createFixtureView({ agents: [{ appId: APP, permissions: ['Mail.Read', 'User.Read.All'] }] });
// The directory's view caches its effective answer per principal (so target and permission facts are
// shared parts too); the fixture view recomputes it on each call, so cache its answers the same way.
const answers = new WeakMap<object, ReturnType<typeof fixture.effective>>();
const view: typeof fixture = {
  ...fixture,
  effective(principal) {
    if (!answers.has(principal)) answers.set(principal, fixture.effective(principal));
    return answers.get(principal);
  },
};

const plain = (f: DecisionFacts): DecisionFacts => JSON.parse(JSON.stringify(f)) as DecisionFacts;
const summary = (facts: DecisionFacts) => {
  const d = decide(facts, policy, { decisionId: 'd' });
  return { effect: d.effect, matches: d.matches.map((m) => m.ruleId) };
};

describe('remembered rule matching', () => {
  it('decides shared (frozen) facts exactly as the same facts as plain data, whatever the call order', () => {
    const ops = [
      operation(),
      operation({ needs: ['User.Read.All'], template: '/users', path: '/users' }),
      operation({ needs: ['Mail.Send'], template: '/users/{id}/sendMail', path: '/users/u/sendMail', method: 'POST', action: 'invoke' }),
      operation({ needs: ['Group.Read.All'], template: null, known: false, path: '/groups/g1/whatever', related: { select: ['secretSauce'], expand: [] } }),
    ];
    for (const op of ops) Object.freeze(op.related);
    const principal = appPrincipal({ roles: ['Mail.Read', 'User.Read.All'] });
    // Monday 10:00 UTC and Saturday 23:00 UTC, alternating, so the time memo has to follow.
    const times = [new Date('2026-01-05T10:00:00Z'), new Date('2026-01-10T23:00:00Z')];
    for (let round = 0; round < 3; round++) {
      for (const op of round === 1 ? [...ops].reverse() : ops) {
        for (const now of times) {
          const shared = gatherFacts(principal, Object.isFrozen(op) ? op : Object.freeze({ ...op }), view, { now });
          expect(Object.isFrozen(shared.operation.needs)).toBe(true);
          expect(summary(shared)).toEqual(summary(plain(shared)));
        }
      }
    }
    const mon = gatherFacts(principal, ops[0]!, view, { now: times[0]! });
    expect(summary(mon).matches).toEqual(['mail-perm', 'users-template', 'office-hours']);
    const sat = gatherFacts(principal, ops[3]!, view, { now: times[1]! });
    expect(summary(sat).matches).toEqual(['select-secret', 'path-beta']);
  });
});

// The rule index answers agent and operation selectors once per shared part: whatever the rules (nested
// all/any/not mixing parts), the rules that match must be exactly those whose whole condition matches.
describe('rule index', () => {
  const agentSel = fc.constantFrom<Record<string, unknown>>({ appId: APP }, { appId: 'bbbbbbbb-0000-0000-0000-000000000002' }, { kind: 'app' }, { kind: 'delegated' }, { unknownToDirectory: true });
  const opSel = fc.constantFrom<Record<string, unknown>>({ method: 'GET' }, { method: ['POST', 'PATCH'] }, { template: '/users/**' }, { tier: 'user-data' }, { permission: 'Mail.*' }, { select: 'secret*' });
  const otherSel = fc.constantFrom<Record<string, unknown>>({ target: { type: 'user' } }, { permissions: { held: true } }, { permissions: { held: false } }, { context: { time: { timezone: 'UTC', days: ['mon'] } } });
  const leaf = fc.oneof(agentSel.map((agent) => ({ agent })), opSel.map((operation) => ({ operation })), otherSel);
  const cond: fc.Arbitrary<Record<string, unknown>> = fc.letrec<{ c: Record<string, unknown> }>((tie) => ({
    c: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      leaf,
      fc.tuple(leaf, leaf).map(([a, b]) => ({ ...a, ...b })),
      fc.array(tie('c'), { minLength: 1, maxLength: 3 }).map((all) => ({ all })),
      fc.array(tie('c'), { minLength: 1, maxLength: 3 }).map((any) => ({ any })),
      tie('c').map((not) => ({ not })),
    ),
  })).c;
  const rules = fc.array(fc.tuple(cond, fc.constantFrom('allow', 'alert', 'block', 'approve')), { minLength: 1, maxLength: 12 });

  const principals = [appPrincipal({ roles: ['Mail.Read', 'User.Read.All'] }), appPrincipal({ appId: 'bbbbbbbb-0000-0000-0000-000000000002' }), delegatedPrincipal()];
  const ops = [
    operation(),
    operation({ needs: ['User.Read.All'], template: '/users', path: '/users' }),
    operation({ needs: ['Group.ReadWrite.All'], template: '/groups/{id}', path: '/groups/g1', method: 'PATCH', action: 'update', tier: 'management-plane', target: { type: 'group', id: 'g1' } }),
    operation({ needs: ['Mail.Read'], related: { select: ['secretSauce'], expand: [] } }),
  ];
  // As the classifier hands out remembered operations: frozen, so their facts are shared parts.
  const frozenOps = ops.map((o) => Object.freeze({ ...o, target: Object.freeze({ ...o.target }), related: Object.freeze({ ...o.related }) }));
  const times = [new Date('2026-01-05T10:00:00Z'), new Date('2026-01-10T23:00:00Z')];

  it('selects exactly the rules whose whole condition matches, for shared and plain facts alike', () => {
    fc.assert(
      fc.property(rules, fc.array(fc.tuple(fc.nat(2), fc.nat(3), fc.nat(1), fc.boolean()), { minLength: 1, maxLength: 12 }), (rs, calls) => {
        const doc = { rules: rs.map(([when, effect], i) => ({ id: `r${i}`, effect, reasonCode: `r${i}`, reason: 'R.', when })) };
        const p = policyFrom(JSON.stringify(doc));
        for (const [pi, oi, ti, frozenOp] of calls) {
          const facts0 = gatherFacts(principals[pi]!, frozenOp ? frozenOps[oi]! : ops[oi]!, view, { now: times[ti]! });
          for (const facts of [facts0, plain(facts0)]) {
            const expected = p.rules.filter((r) => r.match(facts)).map((r) => r.id);
            expect(p.candidates(facts).filter((c) => c.rest(facts)).map((c) => c.rule.id)).toEqual(expected);
            expect(decide(facts, p, { decisionId: 'd' }).matches.map((m) => m.ruleId)).toEqual(expected);
          }
        }
      }),
      { numRuns: 150 },
    );
  });

  it('leaves a call with only the rules naming its agent, operation and target', () => {
    const p = policyFrom(`rules:
  - { id: other-app, effect: block, reasonCode: other-app, reason: R., when: { agent: { appId: bbbbbbbb-0000-0000-0000-000000000002 } } }
  - { id: writes, effect: alert, reasonCode: writes, reason: R., when: { operation: { method: [POST, PATCH] } } }
  - { id: mine-reads, effect: alert, reasonCode: mine-reads, reason: R., when: { agent: { appId: ${APP} }, operation: { method: GET }, target: { type: user } } }
  - { id: groups, effect: alert, reasonCode: groups, reason: R., when: { target: { type: group } } }
  - { id: not-held, effect: block, reasonCode: not-held, reason: R., when: { permissions: { held: false } } }
`);
    const facts = gatherFacts(principals[0]!, frozenOps[0]!, view, { now: times[0]! });
    expect(p.candidates(facts).map((c) => c.rule.id)).toEqual(['mine-reads']);
    expect(p.candidates(plain(facts)).map((c) => c.rule.id)).toEqual(['mine-reads']);
    // Remembered for the combination of shared parts: the same list object the next time.
    const again = gatherFacts(principals[0]!, frozenOps[0]!, view, { now: times[1]! });
    expect(again.agent).toBe(facts.agent);
    expect(again.operation).toBe(facts.operation);
    expect(again.target).toBe(facts.target);
    expect(p.candidates(again)).toBe(p.candidates(facts));
  });

  it('settles what a mixed `any` reads of the shared parts once, leaving only the time or risk to check', () => {
    const p = policyFrom(`rules:
  - { id: mail-or-hours, effect: alert, reasonCode: a, reason: R., when: { any: [ { operation: { template: /users/*/messages } }, { context: { time: { timezone: UTC, days: [mon] } } } ] } }
  - { id: groups-or-hours, effect: alert, reasonCode: b, reason: R., when: { any: [ { operation: { template: /groups/** } }, { context: { time: { timezone: UTC, days: [mon] } } } ] } }
  - { id: other-app-or-writes, effect: block, reasonCode: c, reason: R., when: { any: [ { agent: { appId: bbbbbbbb-0000-0000-0000-000000000002 } }, { operation: { method: POST } } ] } }
`);
    const monday = gatherFacts(principals[0]!, frozenOps[0]!, view, { now: times[0]! });
    const saturday = gatherFacts(principals[0]!, frozenOps[0]!, view, { now: times[1]! });
    const list = p.candidates(monday);
    // The mail read settles mail-or-hours; groups-or-hours is left with its time window; the third
    // rule cannot match this agent's GET, whatever the time, so it is not a candidate at all.
    expect(list.map((c) => c.rule.id)).toEqual(['mail-or-hours', 'groups-or-hours']);
    expect(p.candidates(saturday)).toBe(list);
    expect(list.map((c) => [c.rest(monday), c.rest(saturday)])).toEqual([[true, true], [true, false]]);
    for (const facts of [monday, saturday, plain(monday), plain(saturday)]) {
      expect(decide(facts, p, { decisionId: 'd' }).matches.map((m) => m.ruleId)).toEqual(p.rules.filter((r) => r.match(facts)).map((r) => r.id));
    }
  });
});
