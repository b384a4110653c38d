// The facts are serialised once on the request path (facts digest + audit record): the texts must be
// exactly what the slower, obvious forms give, so records written before and after verify and replay alike.
import { describe, it, expect } from 'vitest';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import fc from 'fast-check';
import { buildDecisionEvent, buildDecisionRecord, decisionEventJson, decisionJson, expandDecision, serialiseFacts } from '../../../src/audit/event.js';
import type { DecisionEventInput, DecisionEventV2, FactsHeadEventV1 } from '../../../src/audit/event.js';
import { createAuditLog, LOG_FILE, recordBody, recordBodyFromJson } from '../../../src/audit/log.js';
import { findDecision, verifyAuditLog } from '../../../src/audit/verify.js';
import { decide, factsDigest } from '../../../src/decision/decide.js';
import { createDecider } from '../../../src/decision/decider.js';
import { replayDecision } from '../../../src/decision/replay.js';
import { gatherFacts } from '../../../src/policy/inputs.js';
import { createFixtureView } from '../../../src/policy/fixture-view.js';
import { sha256Hex } from '../../../src/canonical.js';
import { appPrincipal, delegatedPrincipal, operation, policyFrom, APP } from '../policy/helpers.js';
import { useTempLogs } from './support.js';

const { tmp, logs } = useTempLogs('gw-audit-ser-');

// Two matches for a POST, one of them in shadow mode with a reason that needs escaping.
const policy = policyFrom(
  'rules:\n  - id: watch\n    effect: alert\n    reasonCode: watched\n    reason: Watched.\n    when: { operation: { method: POST } }\n' +
    '  - id: shadowed\n    effect: block\n    mode: shadow\n    reasonCode: shadowed\n    reason: "Shadowed \\"quote\\" \\u2028 Zoë."\n    when: { operation: { method: POST } }\n',
);
const view = createFixtureView({
  agents: [{ appId: APP, permissions: ['Mail.Read'], tags: ['mailbox-reader'], owners: [{ id: 'owner-1' }], eligibleRoles: [{ displayName: 'Global Administrator', privileged: true }] }],
  objects: [{ id: 'user-2', type: 'user', displayName: 'Zoë “Quotes” \\ Backslash' }],
});

const plainOf = <T,>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/** A compact record made whole with the head it requires, as JSON text (what the whole event serialises to). */
function wholeJson(rec: { json: string; requires?: { json: string } }): string {
  if (!rec.requires) return rec.json;
  return JSON.stringify(expandDecision(JSON.parse(rec.json) as DecisionEventV2, JSON.parse(rec.requires.json) as FactsHeadEventV1));
}

// The fixture view caching its answer per principal, as the directory's does: every facts part but the
// time and risk is shared.
function cachingView(): typeof view {
  const answers = new Map<object, ReturnType<typeof view.effective>>();
  return {
    ...view,
    effective: (p) => {
      if (!answers.has(p)) answers.set(p, view.effective(p));
      return answers.get(p);
    },
  };
}

function factsFor(principal = appPrincipal(), op = operation()) {
  return gatherFacts(principal, op, view, { now: new Date(Date.UTC(2026, 0, 1)), risk: { score: 7, flags: ['impossible-travel'] } });
}

describe('serialiseFacts', () => {
  it('gives JSON.stringify(facts) as the record text and exactly the text factsDigest() hashes', () => {
    for (const facts of [factsFor(), factsFor(delegatedPrincipal()), gatherFacts(appPrincipal(), operation(), undefined, { now: new Date(0) })]) {
      const json = serialiseFacts(facts);
      expect(json.record).toBe(JSON.stringify(facts));
      expect(json.factsDigest).toBe(factsDigest(facts));
    }
  });

  it('remembers the shared parts\' text and hash state, and stays exact call after call, in any member order', () => {
    const caching = cachingView();
    const ada = delegatedPrincipal();
    const grace = delegatedPrincipal({ userPrincipalName: 'grace@contoso.test' });
    const digests = new Set<string>();
    for (const [i, principal] of [appPrincipal(), ada, ada, grace].entries()) {
      const facts = gatherFacts(principal, operation(), caching, { now: new Date(Date.UTC(2026, 0, 1, 0, 0, i)), ...(i % 2 ? { risk: { score: i, flags: ['x'] } } : {}) });
      const json = serialiseFacts(facts);
      expect(json.record).toBe(JSON.stringify(facts));
      expect(json.factsDigest).toBe(factsDigest(facts));
      digests.add(json.factsDigest);
      // The same facts with the time first, as records of earlier releases have them.
      const { v, at, ...rest } = plainOf(facts);
      const older = { v, at, ...rest } as typeof facts;
      expect(serialiseFacts(older).record).toBe(JSON.stringify(older));
      expect(serialiseFacts(older).factsDigest).toBe(factsDigest(older));
    }
    // The time and risk, which differ between the four calls, are covered; the user principal name is
    // not (so a record that pseudonymises it replays to the same digest).
    expect(digests.size).toBe(4);
    const facts = gatherFacts(grace, operation(), caching, { now: new Date(0) });
    const renamed = plainOf(facts);
    renamed.agent.userPrincipalName = 'upn-sha256:0';
    expect(serialiseFacts(facts).factsDigest).toBe(factsDigest(renamed));
  });

  it('calls on the same shared parts in the same millisecond share a digest only while their risk is the same too', () => {
    const caching = cachingView();
    const principal = appPrincipal();
    const at = new Date(Date.UTC(2026, 0, 1, 0, 0, 0, 5));
    const risks = [undefined, undefined, { score: 3, flags: [] }, { score: 3, flags: ['x'] }, undefined, { score: 3, flags: ['x'] }];
    const seen = risks.map((risk) => {
      const facts = gatherFacts(principal, operation(), caching, { now: at, ...(risk ? { risk } : {}) });
      const json = serialiseFacts(facts);
      expect(json.head).toBeDefined(); // the shared-head path, where the digest is remembered
      expect(json.factsDigest).toBe(factsDigest(facts));
      return json.factsDigest;
    });
    expect(new Set(seen).size).toBe(3);
    expect([seen[1], seen[4], seen[5]]).toEqual([seen[0], seen[0], seen[3]]);
  });

  it('holds for arbitrary names and user principal names (escaping, unicode, lone surrogates)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.option(fc.string({ unit: 'grapheme' }), { nil: undefined }), (name, upn) => {
        const principal = upn === undefined ? appPrincipal({ appDisplayName: name }) : delegatedPrincipal({ userPrincipalName: upn, appDisplayName: name });
        const facts = gatherFacts(principal, operation(), undefined, { now: new Date(0) });
        const json = serialiseFacts(facts);
        expect(json.record).toBe(JSON.stringify(facts));
        expect(json.factsDigest).toBe(factsDigest(facts));
      }),
      { numRuns: 200 },
    );
  });
});

describe('decisionJson', () => {
  const approving = policyFrom('rules:\n  - id: needs-approval\n    effect: approve\n    reasonCode: needs-approval\n    reason: Needs a human.\n    when: { operation: { method: POST } }\n');
  const post = factsFor(delegatedPrincipal(), operation({ method: 'POST', action: 'create' }));
  const decisions = [
    decide(factsFor(), policy, { decisionId: 'no-match' }), // default effect, no rule, no optional member
    decide(post, policy, { decisionId: 'alert-and-shadow' }), // ruleId and wouldBe
    decide(post, approving, { decisionId: 'held', holdApprovals: true }), // approval: hold
    decide(post, approving, { decisionId: 'fallback' }), // approval fallback
  ];

  it('is JSON.stringify(decision) for every shape decide() makes', () => {
    expect(decisions.map((d) => [d.ruleId !== undefined, d.wouldBe !== undefined, d.approval])).toEqual([
      [false, false, undefined],
      [true, true, undefined],
      [true, false, 'hold'],
      [true, false, 'fallback-block'],
    ]);
    for (const d of decisions) expect(decisionJson(d)).toBe(JSON.stringify(d));
  });

  it('is JSON.stringify(decision) for decisions read back and altered: other member order, extra or undefined members, any strings', () => {
    const member = fc.constantFrom('id', 'effect', 'enforced', 'mode', 'reasonCode', 'rulesRevision', 'factsDigest', 'ruleId', 'wouldBe', 'approval', 'extra');
    fc.assert(
      fc.property(
        fc.constantFrom(...decisions),
        fc.array(fc.tuple(member, fc.oneof(fc.string({ unit: 'binary' }), fc.constant(undefined), fc.integer())), { maxLength: 4 }),
        fc.boolean(),
        (decision, edits, reorder) => {
          let d = plainOf(decision) as unknown as Record<string, unknown>;
          for (const [k, v] of edits) d[k] = v;
          if (reorder) d = Object.fromEntries(Object.entries(d).reverse());
          expect(decisionJson(d as unknown as typeof decision)).toBe(JSON.stringify(d));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('decisionEventJson / buildDecisionRecord', () => {
  it('is byte-identical to JSON.stringify(event), with and without the optional members', () => {
    const facts = factsFor(delegatedPrincipal(), operation({ method: 'POST', action: 'create' }));
    const decision = decide(facts, policy, { decisionId: 'dec-1' });
    expect(decision.matches.map((m) => [m.ruleId, m.shadow])).toEqual([['watch', false], ['shadowed', true]]);
    expect(decision.wouldBe).toBe('block');
    const inputs: DecisionEventInput[] = [
      { facts, decision },
      { facts, decision, requestId: 'req-"1"', clientRequestId: 'c\u2028r', batchItemId: '3', decisionMicros: 12, token: 'tok', body: '{"a":1}' },
    ];
    for (const input of inputs) {
      for (const privacy of [{}, { includeToken: true, includeBody: true }, { pseudonymiseUserPrincipalName: true }]) {
        const ev = buildDecisionEvent(input, privacy);
        expect(decisionEventJson(ev, JSON.stringify(ev.facts))).toBe(JSON.stringify(ev));
        const rec = buildDecisionRecord(input, privacy, serialiseFacts(facts));
        // Compact: the record names the facts head it requires; made whole, it is the event's own text.
        expect(rec.requires).toBeDefined();
        expect(JSON.parse(rec.json)).toMatchObject({ v: 2, facts: { head: rec.requires!.id } });
        expect(wholeJson(rec)).toBe(JSON.stringify(rec.event));
        expect(rec.event).toEqual(ev);
      }
    }
  });

  it('never writes the raw user principal name when pseudonymisation is on, though the facts text had it', () => {
    const facts = factsFor(delegatedPrincipal());
    const decision = decide(facts, policy, { decisionId: 'd' });
    const pre = serialiseFacts(facts);
    expect(pre.record).toContain('ada@contoso.test');
    const rec = buildDecisionRecord({ facts, decision }, { pseudonymiseUserPrincipalName: true }, pre);
    expect(rec.json + rec.requires!.json).not.toContain('ada@contoso.test');
    expect(rec.requires!.json).toMatch(/"userPrincipalName":"upn-sha256:[0-9a-f]{64}"/);
    // Calls of one token share the pseudonymised agent, so their records keep every facts part shared.
    const principal = delegatedPrincipal();
    const [a, b] = [1, 2].map((s) => {
      const f = gatherFacts(principal, operation(), view, { now: new Date(Date.UTC(2026, 0, 1, 0, 0, s)) });
      return buildDecisionRecord({ facts: f, decision: decide(f, policy, { decisionId: `d-${s}` }) }, { pseudonymiseUserPrincipalName: true }, serialiseFacts(f));
    });
    expect(b!.event.facts.agent).toBe(a!.event.facts.agent);
    expect(Object.isFrozen(a!.event.facts.agent)).toBe(true);
    // One head for both calls: only the time differs, and it is not in the head.
    expect(b!.requires!.id).toBe(a!.requires!.id);
    for (const r of [a!, b!]) {
      expect(wholeJson(r)).toBe(JSON.stringify(r.event));
      expect(r.json + r.requires!.json).not.toContain('ada@contoso.test');
      expect(factsDigest(r.event.facts)).toBe(r.event.decision.factsDigest);
    }
  });
});

describe('pre-serialised appends', () => {
  it('whole and compact records verify and read back alike; a compact log holds each facts head once', async () => {
    const principal = appPrincipal();
    const events = [1, 2, 3].map((i) => {
      const facts = i === 2 ? factsFor(delegatedPrincipal()) : gatherFacts(principal, operation(), view, { now: new Date(Date.UTC(2026, 0, 1, 0, 0, i)) });
      return buildDecisionRecord({ facts, decision: decide(facts, policy, { decisionId: `dec-${i}` }), requestId: `r-${i}` }, {}, serialiseFacts(facts));
    });
    expect(events[2]!.requires!.id).toBe(events[0]!.requires!.id);
    const [dirA, dirB] = [await tmp(), await tmp()];
    const a = await createAuditLog({ dir: dirA, failMode: 'closed' });
    const b = await createAuditLog({ dir: dirB, failMode: 'closed' });
    logs.push(a, b);
    for (const e of events) {
      expect((await a.append(e.event)).ok).toBe(true);
      expect((await b.append(e.event, e.json, { requires: e.requires! })).ok).toBe(true);
    }
    await a.close();
    await b.close();
    expect(await verifyAuditLog(dirA)).toMatchObject({ ok: true, records: 3, beyondHead: 0 });
    // Two heads (the app's, written once for its two calls, and the delegated call's), then the three decisions.
    expect(await verifyAuditLog(dirB)).toMatchObject({ ok: true, records: 5, beyondHead: 0 });
    const types = (await readFile(path.join(dirB, LOG_FILE), 'utf8')).trim().split('\n').map((l) => (JSON.parse(l) as { event: { type: string } }).event.type);
    expect(types).toEqual(['facts-head', 'decision', 'facts-head', 'decision', 'decision']);
    for (const e of events) {
      const [fa, fb] = [await findDecision(dirA, e.event.decisionId), await findDecision(dirB, e.event.decisionId)];
      expect(fb!.record.event).toEqual(fa!.record.event);
      expect(fb!.factsHead).toMatchObject({ id: e.requires!.id, intact: true });
      expect(fa!.factsHead).toBeUndefined();
    }
    const whole = decisionEventJson(events[0]!.event, JSON.stringify(events[0]!.event.facts));
    expect(recordBodyFromJson(4, 'f'.repeat(64), whole)).toBe(recordBody(4, 'f'.repeat(64), events[0]!.event));
  });

  it('verify reports a facts head whose content does not match its id, even in an intact chain', async () => {
    const facts = factsFor();
    const rec = buildDecisionRecord({ facts, decision: decide(facts, policy, { decisionId: 'dec-1' }) }, {}, serialiseFacts(facts));
    const forged = JSON.parse(rec.requires!.json) as FactsHeadEventV1;
    forged.head.agent.displayName = 'Someone else';
    const dir = await tmp();
    const log = await createAuditLog({ dir, failMode: 'closed' });
    logs.push(log);
    // Written through the log, so the chain itself is intact: only the id check can tell.
    await log.append(forged);
    await log.append(rec.event, rec.json);
    await log.close();
    const result = await verifyAuditLog(dir);
    expect(result.ok).toBe(false);
    expect(result.problems.map((p) => p.kind)).toEqual(['facts-head-mismatch', 'facts-head-missing']);
    const found = await findDecision(dir, 'dec-1');
    expect(found!.factsHead!.intact).toBe(false);
    expect(found!.record.event.facts.agent.displayName).toBe('Someone else');
    expect(replayDecision(found!.record.event, policy).factsIntact).toBe(false);
  });

  it('the decider records what it decided: the record verifies and replays to the same decision and facts digest', async () => {
    const dir = await tmp();
    const audit = await createAuditLog({ dir, failMode: 'closed' });
    logs.push(audit);
    let n = 0;
    const decider = createDecider({ policy: { current: () => policy }, audit, privacy: { pseudonymiseUserPrincipalName: true }, newId: () => `dec-${++n}`, clock: () => new Date(Date.UTC(2026, 0, 2)) });
    const outcomes = [
      decider.evaluate({ principal: appPrincipal(), operation: operation(), view }),
      decider.evaluate({ principal: delegatedPrincipal(), operation: operation({ method: 'POST', action: 'create' }), view, requestId: 'req-2', batchItemId: '1' }),
    ];
    for (const o of outcomes) expect((await o.audited)!.ok).toBe(true);
    await audit.close();
    expect(await verifyAuditLog(dir)).toMatchObject({ ok: true, records: 4 });
    for (const o of outcomes) {
      expect(o.decision.factsDigest).toBe(factsDigest(o.facts));
      const found = await findDecision(dir, o.decision.id);
      expect(found!.record.event).toEqual(JSON.parse(JSON.stringify(o.event)));
      const replay = replayDecision(found!.record.event, policy);
      expect(replay).toMatchObject({ same: true, factsIntact: true, differences: [] });
    }
    expect(outcomes[1]!.decision.enforced).toBe('alert');
    expect(await readFile(path.join(dir, LOG_FILE), 'utf8')).not.toContain('ada@contoso.test');
  });
});

describe('sha256Hex', () => {
  it('is sha256 over the UTF-8 bytes of the text', () => {
    for (const text of ['', 'abc', 'Zoë — 日本語 🎉', '\u{10FFFF}']) {
      expect(sha256Hex(text)).toBe(createHash('sha256').update(Buffer.from(text, 'utf8')).digest('hex'));
    }
  });
});
