// Rule matching remembers answers for values that cannot change (frozen shared lists, map templates, the
// decision time): decisions on shared facts must equal decisions on the same facts as plain data, in any
// order of calls.
import { describe, it, expect } from 'vitest';
import { decide } from '../../../src/decision/decide.js';
import { gatherFacts } from '../../../src/policy/inputs.js';
import type { DecisionFacts } from '../../../src/policy/inputs.js';
import { createFixtureView } from '../../../src/policy/fixture-view.js';
import { appPrincipal, operation, policyFrom, APP } from './helpers.js';

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
const view = createFixtureView({ agents: [{ appId: APP, permissions: ['Mail.Read', 'User.Read.All'] }] });

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
