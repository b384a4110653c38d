import { describe, it, expect } from 'vitest';
import { compilePolicy, globToRegExp, revisionOf } from '../../../src/policy/compile.js';
import { gatherFacts } from '../../../src/policy/inputs.js';
import type { DecisionFacts } from '../../../src/policy/inputs.js';
import { createFixtureView } from '../../../src/policy/fixture-view.js';
import { appPrincipal, operation, policyFrom } from './helpers.js';

const NOW = new Date('2026-03-04T10:30:00Z'); // a Wednesday

function facts(over: Parameters<typeof operation>[0] = {}, risk?: { score: number; flags: string[] }, now = NOW): DecisionFacts {
  const view = createFixtureView({ agents: [{ appId: appPrincipal().appId, servicePrincipalId: 'sp-1', tags: ['nightly'], permissions: ['Mail.Read'] }] });
  return gatherFacts(appPrincipal(), operation(over), view, { now, ...(risk ? { risk } : {}) });
}

function matches(when: string, f: DecisionFacts): boolean {
  const p = policyFrom(`rules:\n  - id: r\n    effect: alert\n    reasonCode: x\n    reason: y\n    when: ${when}\n`);
  return p.rules[0]!.match(f);
}

describe('rule validation', () => {
  it('lists every schema error with file and path, and accepts nothing', () => {
    const r = compilePolicy([{ name: 'bad.yaml', text: 'rules:\n  - id: Not_Kebab\n    effect: deny\n    reasonCode: x\n    reason: y\n    when: { agent: { colour: red } }\n' }]);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const text = r.errors.join('\n');
    expect(text).toMatch(/bad\.yaml: \/rules\/0\/id/);
    expect(text).toMatch(/bad\.yaml: \/rules\/0\/effect/);
    expect(text).toMatch(/colour/);
  });

  it('rejects duplicate rule ids across files, unknown controls, settings set twice and bad time zones', () => {
    const rule = (id: string) => `  - id: ${id}\n    effect: block\n    reasonCode: x\n    reason: y\n    controls: [nope]\n    when: { context: { time: { timezone: Mars/Olympus } } }\n`;
    const r = compilePolicy([
      { name: 'a.yaml', text: `settings: { mode: shadow }\nrules:\n${rule('same')}` },
      { name: 'b.yaml', text: `settings: { mode: enforce }\nrules:\n${rule('same')}` },
      { name: 'controls.yaml', text: 'controls:\n  soc2-cc6.1: { framework: SOC 2, ref: CC6.1, title: t }\n' },
    ]);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const text = r.errors.join('\n');
    expect(text).toMatch(/duplicate rule id/);
    expect(text).toMatch(/control 'nope' is not in controls\.yaml/);
    expect(text).toMatch(/setting 'mode' is already set in a\.yaml/);
    expect(text).toMatch(/unknown time zone 'Mars\/Olympus'/);
  });

  it('rejects invalid YAML and an empty rule set', () => {
    expect(compilePolicy([{ name: 'x.yaml', text: 'rules: [' }]).ok).toBe(false);
    expect(compilePolicy([]).ok).toBe(false);
  });

  it('revision is a content hash independent of file order, sensitive to any byte', () => {
    const a = { name: 'a.yaml', text: 'rules: []\n' };
    const b = { name: 'b.yaml', text: 'rules: []\n' };
    expect(revisionOf([a, b])).toBe(revisionOf([b, a]));
    expect(revisionOf([a, b])).not.toBe(revisionOf([a, { ...b, text: 'rules: [] \n' }]));
    expect(revisionOf([a])).toMatch(/^[0-9a-f]{64}$/);
  });

  it('a disabled rule is validated but never matches', () => {
    const p = policyFrom('rules:\n  - id: off\n    enabled: false\n    effect: block\n    reasonCode: x\n    reason: y\n    when: {}\n');
    expect(p.rules).toHaveLength(0);
  });
});

describe('globs', () => {
  it('* stays within a segment, ** crosses segments, {placeholders} are one segment, case-insensitive', () => {
    expect(globToRegExp('/users/*/messages').test('/users/{id}/messages')).toBe(true);
    expect(globToRegExp('/users/*/messages').test('/users/a/b/messages')).toBe(false);
    expect(globToRegExp('/users/**/messages').test('/users/a/b/messages')).toBe(true);
    expect(globToRegExp('/servicePrincipals**/appRoleAssignedTo').test('/serviceprincipals(appid={value})/approleassignedto')).toBe(true);
    expect(globToRegExp('/groups/{id}/members/$ref').test('/groups/{id}/members/$ref')).toBe(true);
    expect(globToRegExp('/groups/{id}/members/$ref').test('/groups/{id}/members/xref')).toBe(false);
    expect(globToRegExp('Mail.*').test('mail.read')).toBe(true);
  });
});

describe('selectors', () => {
  it('agent selectors', () => {
    const f = facts();
    expect(matches('{ agent: { appId: AAAAAAAA-0000-0000-0000-000000000001 } }', f)).toBe(true);
    expect(matches('{ agent: { kind: delegated } }', f)).toBe(false);
    expect(matches('{ agent: { tags: [nightly, other] } }', f)).toBe(true);
    expect(matches('{ agent: { unknownToDirectory: true } }', f)).toBe(false);
    expect(matches('{ agent: { hasOwners: false } }', f)).toBe(true);
    expect(matches('{ agent: { tenant: 22222222-2222-2222-2222-222222222222 } }', f)).toBe(false);
  });

  it('operation selectors, templates without the version prefix', () => {
    const f = facts({ version: 'beta', template: '/beta/users/{id}/messages', related: { select: ['subject'], expand: ['attachments'] } });
    expect(matches('{ operation: { template: /users/*/messages } }', f)).toBe(true);
    expect(matches('{ operation: { method: get, action: read, version: beta } }', f)).toBe(true);
    expect(matches('{ operation: { permission: "Mail.*" } }', f)).toBe(true);
    expect(matches('{ operation: { permission: "Files.*" } }', f)).toBe(false);
    expect(matches('{ operation: { expand: attach* } }', f)).toBe(true);
    expect(matches('{ operation: { select: body } }', f)).toBe(false);
    expect(matches('{ operation: { unknown: true } }', f)).toBe(false);
    expect(matches('{ operation: { tier: [control-plane, user-data] } }', f)).toBe(true);
  });

  it('permission selectors: held true/false/unknown', () => {
    expect(matches('{ permissions: { held: true } }', facts())).toBe(true);
    expect(matches('{ permissions: { held: false } }', facts({ needs: ['Mail.ReadWrite'] }))).toBe(true);
    expect(matches('{ permissions: { held: unknown } }', facts({ known: false }))).toBe(true);
    expect(matches('{ permissions: { held: false } }', facts({ known: false }))).toBe(false);
  });

  it('time windows honour the time zone, days and windows past midnight', () => {
    // 10:30Z on Wednesday = 11:30 in Paris (CET, UTC+1 in March before DST).
    expect(matches('{ context: { time: { timezone: Europe/Paris, days: [wed], from: "11:00", to: "12:00" } } }', facts())).toBe(true);
    expect(matches('{ context: { time: { timezone: UTC, days: [wed], from: "11:00", to: "12:00" } } }', facts())).toBe(false);
    expect(matches('{ context: { time: { timezone: UTC, days: [thu] } } }', facts())).toBe(false);
    const lateTue = new Date('2026-03-04T01:00:00Z'); // Wednesday 01:00 UTC, in Tuesday's 22:00-06:00 window
    expect(matches('{ context: { time: { timezone: UTC, days: [tue], from: "22:00", to: "06:00" } } }', facts({}, undefined, lateTue))).toBe(true);
    expect(matches('{ context: { time: { timezone: UTC, days: [wed], from: "22:00", to: "06:00" } } }', facts({}, undefined, lateTue))).toBe(false);
  });

  it('risk never matches without an assessment; score and flags when present', () => {
    expect(matches('{ context: { risk: { scoreAtLeast: 0 } } }', facts())).toBe(false);
    expect(matches('{ context: { risk: { scoreAtLeast: 70 } } }', facts({}, { score: 80, flags: [] }))).toBe(true);
    expect(matches('{ context: { risk: { scoreAtLeast: 90 } } }', facts({}, { score: 80, flags: [] }))).toBe(false);
    expect(matches('{ context: { risk: { flags: [off-hours] } } }', facts({}, { score: 1, flags: ['off-hours'] }))).toBe(true);
  });

  it('all / any / not combinators', () => {
    const f = facts();
    expect(matches('{ any: [ { agent: { kind: delegated } }, { operation: { method: GET } } ] }', f)).toBe(true);
    expect(matches('{ all: [ { agent: { kind: app } }, { operation: { method: POST } } ] }', f)).toBe(false);
    expect(matches('{ not: { operation: { method: GET } } }', f)).toBe(false);
    expect(matches('{}', f)).toBe(true);
  });
});

describe('glob limits', () => {
  it('refuses patterns with many ** (polynomial backtracking over long paths)', () => {
    const r = compilePolicy([{ name: 'a.yaml', text: 'rules:\n  - id: r\n    effect: alert\n    reasonCode: x\n    reason: y\n    when: { operation: { path: "/**a**a**a**a" } }\n' }]);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors.join()).toMatch(/more than 3 '\*\*'/);
  });
});
