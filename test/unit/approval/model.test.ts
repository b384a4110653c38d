import { describe, expect, it } from 'vitest';
import * as m from '../../../src/approval/model.js';
import { AGENT_APP, AGENT_SP, T0, USER, keyParts } from './helpers.js';

const summary: m.HeldCallSummary = {
  agent: { appId: AGENT_APP, servicePrincipalId: AGENT_SP },
  principal: { kind: 'delegated', userId: USER },
  operation: { method: 'POST', summary: 'x' },
  narrative: 'n',
};
const alice: m.Approver = { name: 'alice', ids: ['99999999-9999-9999-9999-999999999999'] };
const limits = { maxUses: 10, maxValidForMs: 3_600_000 };

function pending(over: Partial<m.RequestKeyParts> = {}): m.Approval {
  return m.createApproval({ id: 'apr_1', keyParts: keyParts({ userId: USER, ...over }), summary, decisionId: 'd1' }, T0, 60_000);
}

function approved(uses?: number, reusable = false): m.Approval {
  const t = m.approve(pending(), { approver: alice, justification: 'ok', validForMs: 600_000, ...(uses ? { uses } : {}), reusable }, T0 + 1000, limits);
  if (!t.ok) throw new Error(t.reason);
  return t.approval;
}

describe('requestKey', () => {
  it('differs when any part differs and ignores GUID and method casing', () => {
    const base = m.requestKey(keyParts());
    expect(m.requestKey(keyParts({ appId: AGENT_APP.toUpperCase(), method: 'post' }))).toBe(base);
    for (const over of [{ tenantId: USER }, { appId: USER }, { userId: USER }, { method: 'PATCH' }, { canonicalUrl: '/v1.0/users' }, { bodyDigest: 'b'.repeat(64) }]) {
      expect(m.requestKey(keyParts(over))).not.toBe(base);
    }
  });

  it('cannot be confused by moving a delimiter between parts', () => {
    const a = m.requestKey(keyParts({ canonicalUrl: '/v1.0/a', bodyDigest: 'b|c' }));
    const b = m.requestKey(keyParts({ canonicalUrl: '/v1.0/a|b', bodyDigest: 'c' }));
    expect(a).not.toBe(b);
  });
});

describe('approval state machine', () => {
  it('starts pending with an expiry', () => {
    const a = pending();
    expect(a.state).toBe('pending');
    expect(a.expiresAt).toBe(T0 + 60_000);
  });

  it('an approval for key A does not pass key B (tampered or replayed on another call)', () => {
    const a = approved();
    const other = m.requestKey(keyParts({ userId: USER, bodyDigest: 'f'.repeat(64) }));
    expect(m.consume(a, other, T0 + 2000)).toBeNull();
    expect(m.consume(a, a.key, T0 + 2000)?.state).toBe('used');
  });

  it('is single use by default: a replay of the same approval is refused', () => {
    const once = m.consume(approved(), approved().key, T0 + 2000)!;
    expect(once.usesCount).toBe(1);
    expect(m.consume(once, once.key, T0 + 3000)).toBeNull();
  });

  it('honours uses: N and reusable within the validity window only', () => {
    let a = approved(2);
    a = m.consume(a, a.key, T0 + 2000)!;
    expect(a.state).toBe('approved');
    a = m.consume(a, a.key, T0 + 3000)!;
    expect(a.state).toBe('used');
    expect(m.consume(a, a.key, T0 + 4000)).toBeNull();

    let r = approved(undefined, true);
    for (let i = 0; i < 5; i++) r = m.consume(r, r.key, T0 + 2000 + i)!;
    expect(r.usesCount).toBe(5);
    expect(m.consume(r, r.key, T0 + 1000 + 600_000)).toBeNull();
  });

  it('refuses self-approval by the agent appId, its service principal id or the delegated user', () => {
    for (const id of [AGENT_APP, AGENT_SP.toUpperCase(), USER]) {
      const t = m.approve(pending(), { approver: { name: 'x', ids: [id] }, justification: 'ok', validForMs: 1000 }, T0, limits);
      expect(t).toEqual({ ok: false, reason: 'self-approval' });
      expect(m.deny(pending(), { approver: { name: 'x', ids: [id] }, justification: 'no', holdForMs: 1 }, T0)).toEqual({ ok: false, reason: 'self-approval' });
    }
  });

  it('refuses automation approvers, empty justifications and out-of-range uses/validity', () => {
    const auto = { name: 'robot', ids: [], automation: true };
    expect(m.approve(pending(), { approver: auto, justification: 'ok', validForMs: 1000 }, T0, limits)).toEqual({ ok: false, reason: 'automation-approver' });
    expect(m.deny(pending(), { approver: auto, justification: 'no', holdForMs: 1 }, T0).ok).toBe(true);
    expect(m.approve(pending(), { approver: alice, justification: '  ', validForMs: 1000 }, T0, limits)).toEqual({ ok: false, reason: 'justification-required' });
    expect(m.approve(pending(), { approver: alice, justification: 'ok', uses: 0, validForMs: 1000 }, T0, limits)).toEqual({ ok: false, reason: 'invalid-uses' });
    expect(m.approve(pending(), { approver: alice, justification: 'ok', uses: 1.5, validForMs: 1000 }, T0, limits)).toEqual({ ok: false, reason: 'invalid-uses' });
    expect(m.approve(pending(), { approver: alice, justification: 'ok', validForMs: 3_600_001 }, T0, limits)).toEqual({ ok: false, reason: 'invalid-validity' });
  });

  it('expired is distinct from denied and cannot be decided afterwards', () => {
    const a = pending();
    expect(m.expire(a, T0 + 59_999)).toBeNull();
    const e = m.expire(a, T0 + 60_000)!;
    expect(e.state).toBe('expired');
    expect(e.decidedBy).toBeNull();
    expect(m.approve(a, { approver: alice, justification: 'late', validForMs: 1000 }, T0 + 60_000, limits)).toEqual({ ok: false, reason: 'request-expired' });
    expect(m.approve(e, { approver: alice, justification: 'late', validForMs: 1000 }, T0 + 1, limits)).toEqual({ ok: false, reason: 'not-pending' });
    const d = m.deny(a, { approver: alice, justification: 'no', holdForMs: 5000 }, T0 + 1)!;
    expect(d.ok && d.approval.state).toBe('denied');
  });

  it('an approved approval left unused expires; a used one ends as used', () => {
    const a = approved();
    expect(m.expire(a, a.validUntil!)!.state).toBe('expired');
    const r = m.consume(approved(undefined, true), a.key, T0 + 2000)!;
    expect(m.expire(r, r.validUntil!)!.state).toBe('used');
  });

  it('warns once, before expiry, and schedules the warning first', () => {
    const a = pending();
    expect(m.nextDeadline(a, 10_000)).toBe(T0 + 50_000);
    expect(m.warningDue(a, T0 + 49_999, 10_000)).toBe(false);
    expect(m.warningDue(a, T0 + 50_000, 10_000)).toBe(true);
    expect(m.warningDue({ ...a, warnedAt: T0 + 50_000 }, T0 + 55_000, 10_000)).toBe(false);
    expect(m.nextDeadline({ ...a, warnedAt: T0 + 50_000 }, 10_000)).toBe(T0 + 60_000);
  });

  it('releases every held call on approval, each as a use', () => {
    const a = m.releaseHeld(approved(1), 3);
    expect(a.usesCount).toBe(3);
    expect(a.state).toBe('used');
    expect(m.releaseHeld(approved(5), 2).state).toBe('approved');
  });
});
