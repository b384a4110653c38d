import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { decide, NO_RULE_MATCHED } from '../../../src/decision/decide.js';
import { PRECEDENCE } from '../../../src/decision/precedence.js';
import { refusal } from '../../../src/decision/respond.js';
import { gatherFacts } from '../../../src/policy/inputs.js';
import { createFixtureView } from '../../../src/policy/fixture-view.js';
import type { Effect } from '../../../src/policy/compile.js';
import { appPrincipal, operation, policyFrom, APP } from '../policy/helpers.js';

const view = createFixtureView({ agents: [{ appId: APP, permissions: ['Mail.Read'] }] });
const f = gatherFacts(appPrincipal(), operation(), view, { now: new Date('2026-01-01T00:00:00Z') });
const rule = (id: string, effect: Effect, extra = '') => `  - id: ${id}\n    effect: ${effect}\n    reasonCode: rc-${id}\n    reason: because ${id}.\n${extra}    when: {}\n`;
const EFFECTS: Effect[] = ['allow', 'alert', 'approve', 'block'];

describe('decide', () => {
  it('the strongest matching effect wins, whatever the rule order (block > approve > alert > allow)', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...EFFECTS), { minLength: 1, maxLength: 8 }), (effects) => {
        const p = policyFrom(`rules:\n${effects.map((e, i) => rule(`r${i}`, e)).join('')}`);
        const d = decide(f, p, { decisionId: 'd' });
        const strongest = effects.reduce((a, b) => (PRECEDENCE[b] > PRECEDENCE[a] ? b : a));
        expect(d.effect).toBe(strongest);
        expect(d.matches).toHaveLength(effects.length);
        // The deciding rule is the first of the winning effect.
        expect(d.ruleId).toBe(`r${effects.indexOf(strongest)}`);
      }),
    );
  });

  it('no match → the default effect with reason no-rule-matched', () => {
    const p = policyFrom(`settings: { defaultEffect: block }\nrules:\n  - id: never\n    effect: allow\n    reasonCode: x\n    reason: y\n    when: { agent: { kind: delegated } }\n`);
    const d = decide(f, p, { decisionId: 'd1' });
    expect(d).toMatchObject({ effect: 'block', enforced: 'block', reasonCode: NO_RULE_MATCHED, matches: [] });
    expect(d.ruleId).toBeUndefined();
  });

  it('approve falls back to block (default) or alert, or is held when approvals are wired', () => {
    const body = `rules:\n${rule('a', 'approve')}`;
    expect(decide(f, policyFrom(body), { decisionId: 'x' })).toMatchObject({ effect: 'approve', enforced: 'block', approval: 'fallback-block' });
    expect(decide(f, policyFrom(`settings: { approvalFallback: alert }\n${body}`), { decisionId: 'x' })).toMatchObject({ enforced: 'alert', approval: 'fallback-alert' });
    expect(decide(f, policyFrom(body), { decisionId: 'x', holdApprovals: true })).toMatchObject({ enforced: 'approve', approval: 'hold' });
  });

  it('a shadow rule is recorded but does not decide; wouldBe says what it would have done', () => {
    const p = policyFrom(`rules:\n${rule('s', 'block', '    mode: shadow\n')}${rule('a', 'alert')}`);
    const d = decide(f, p, { decisionId: 'x' });
    expect(d).toMatchObject({ effect: 'alert', enforced: 'alert', wouldBe: 'block', reasonCode: 'rc-a' });
    expect(d.matches.find((m) => m.ruleId === 's')!.shadow).toBe(true);
  });

  it('global shadow lets every call through and records the would-be effect', () => {
    const p = policyFrom(`settings: { mode: shadow }\nrules:\n${rule('b', 'block')}`);
    const d = decide(f, p, { decisionId: 'x' });
    expect(d).toMatchObject({ effect: 'block', enforced: 'allow', wouldBe: 'block', mode: 'shadow', ruleId: 'b' });
    expect(refusal(d, new Date())).toBeUndefined();
  });

  it('is deterministic: same facts and policy, same decision (replay)', () => {
    const p = policyFrom(`rules:\n${rule('a', 'alert')}${rule('b', 'approve')}`);
    const again = JSON.parse(JSON.stringify(f)) as typeof f;
    expect(decide(again, p, { decisionId: 'same' })).toEqual(decide(f, p, { decisionId: 'same' }));
    expect(decide(f, p, { decisionId: 'same' }).factsDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
  });
});

describe('refusal', () => {
  it('a block is a 403 Graph error envelope with graphwarden’s own code, the rule, the reason and the decision id', () => {
    const p = policyFrom(`rules:\n${rule('no-mail', 'block')}`);
    const d = decide(f, p, { decisionId: 'dec-42' });
    const r = refusal(d, new Date('2026-01-01T00:00:00.123Z'), 'client-req-1')!;
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe('GraphwardenPolicyDenied');
    expect(r.body.error.code).not.toBe('Authorization_RequestDenied');
    expect(r.body.error.message).toContain("'no-mail'");
    expect(r.body.error.message).toContain('because no-mail.');
    expect(r.body.error.innerError['request-id']).toBe('dec-42');
    expect(r.body.error.innerError['client-request-id']).toBe('client-req-1');
    expect(r.body.error.innerError['graphwarden-code']).toBe('GW_ERR_POLICY_BLOCKED');
    expect(r.body.error.innerError.date).toBe('2026-01-01T00:00:00Z');
  });
  it('alerts and allows are not refused', () => {
    expect(refusal(decide(f, policyFrom(`rules:\n${rule('a', 'alert')}`), { decisionId: 'x' }), new Date())).toBeUndefined();
  });
});
