/**
 * The approval state machine: pending → approved | denied | expired; approved → used | expired.
 * Pure: takes an approval and `now` (epoch ms), returns the next approval or a refusal.
 * Does not persist, notify, audit or wait; hold.ts does that around these functions.
 */
import { createHash } from 'node:crypto';

export type ApprovalState = 'pending' | 'approved' | 'denied' | 'expired' | 'used';

/** What makes two calls "the same call": a retry must match on every part. */
export interface RequestKeyParts {
  tenantId: string;
  /** The calling agent's client appId. */
  appId: string;
  /** Delegated calls: the signed-in user's object id; app-only calls: null. */
  userId: string | null;
  method: string;
  /** The canonical URL from classify (never the raw one), so encodings cannot split or merge keys. */
  canonicalUrl: string;
  /** Hex SHA-256 of the buffered request body ('' body included). */
  bodyDigest: string;
}

/** Who is waiting, for approvers and for the self-approval check. */
export interface HeldCallSummary {
  agent: { appId: string; displayName?: string; servicePrincipalId?: string };
  principal: { kind: 'app' | 'delegated'; userId?: string; userPrincipalName?: string };
  operation: { method: string; template?: string; summary: string };
  narrative: string;
}

export interface Approval {
  id: string;
  /** requestKey(keyParts): the only thing a retry is matched on. */
  key: string;
  keyParts: RequestKeyParts;
  state: ApprovalState;
  summary: HeldCallSummary;
  /** The decision id of the call that created the request. */
  firstDecisionId: string;
  createdAt: number;
  /** A pending request with no decision by this time expires (distinct from a denial). */
  expiresAt: number;
  /** When the expiry warning went out, if it did. */
  warnedAt: number | null;
  decidedAt: number | null;
  decidedBy: string | null;
  justification: string | null;
  /** Approved: how many calls it may release; null = reusable until validUntil. */
  usesAllowed: number | null;
  usesCount: number;
  /** Approved: uses are accepted until this time. Denied: identical calls are refused until this time. */
  validUntil: number | null;
}

export type Refusal =
  | 'not-pending'
  | 'request-expired'
  | 'justification-required'
  | 'self-approval'
  | 'automation-approver'
  | 'invalid-uses'
  | 'invalid-validity';

export type Transition = { ok: true; approval: Approval } | { ok: false; reason: Refusal };

/** A person (or identity) allowed to decide, as named in config. */
export interface Approver {
  name: string;
  /** Entra object ids / appIds this approver acts as; used to refuse self-approval. */
  ids: string[];
  /** An automation identity (no human owner): may deny, never approve. */
  automation?: boolean;
}

/** Stable key for a call: SHA-256 over the parts in a fixed order, so no delimiter games. */
export function requestKey(p: RequestKeyParts): string {
  const canonical = JSON.stringify([p.tenantId.toLowerCase(), p.appId.toLowerCase(), p.userId?.toLowerCase() ?? null, p.method.toUpperCase(), p.canonicalUrl, p.bodyDigest.toLowerCase()]);
  return createHash('sha256').update(canonical).digest('hex');
}

export function createApproval(
  input: { id: string; keyParts: RequestKeyParts; summary: HeldCallSummary; decisionId: string },
  now: number,
  pendingTtlMs: number,
): Approval {
  return {
    id: input.id,
    key: requestKey(input.keyParts),
    keyParts: { ...input.keyParts },
    state: 'pending',
    summary: input.summary,
    firstDecisionId: input.decisionId,
    createdAt: now,
    expiresAt: now + pendingTtlMs,
    warnedAt: null,
    decidedAt: null,
    decidedBy: null,
    justification: null,
    usesAllowed: null,
    usesCount: 0,
    validUntil: null,
  };
}

/**
 * Would this approver be deciding their own call? Entra ids compare case-insensitively (GUIDs).
 * The held call's appId, service principal id and user oid are all "the agent".
 */
export function isSelfApproval(a: Approval, approver: Approver): boolean {
  const own = new Set(
    [a.keyParts.appId, a.summary.agent.appId, a.summary.agent.servicePrincipalId, a.keyParts.userId, a.summary.principal.userId]
      .filter((x): x is string => typeof x === 'string' && x.length > 0)
      .map((x) => x.toLowerCase()),
  );
  return approver.ids.some((id) => own.has(id.toLowerCase()));
}

export interface ApproveInput {
  approver: Approver;
  justification: string;
  /** Number of calls this approval may release; omitted = 1. */
  uses?: number;
  /** Reusable until validUntil (overrides uses). */
  reusable?: boolean;
  validForMs: number;
}

export function approve(a: Approval, input: ApproveInput, now: number, limits: { maxUses: number; maxValidForMs: number }): Transition {
  if (a.state !== 'pending') return { ok: false, reason: 'not-pending' };
  if (now >= a.expiresAt) return { ok: false, reason: 'request-expired' };
  if (!input.justification.trim()) return { ok: false, reason: 'justification-required' };
  if (isSelfApproval(a, input.approver)) return { ok: false, reason: 'self-approval' };
  if (input.approver.automation) return { ok: false, reason: 'automation-approver' };
  const uses = input.reusable ? null : (input.uses ?? 1);
  if (uses !== null && (!Number.isInteger(uses) || uses < 1 || uses > limits.maxUses)) return { ok: false, reason: 'invalid-uses' };
  if (!Number.isFinite(input.validForMs) || input.validForMs <= 0 || input.validForMs > limits.maxValidForMs) {
    return { ok: false, reason: 'invalid-validity' };
  }
  return {
    ok: true,
    approval: {
      ...a,
      state: 'approved',
      decidedAt: now,
      decidedBy: input.approver.name,
      justification: input.justification.trim(),
      usesAllowed: uses,
      usesCount: 0,
      validUntil: now + input.validForMs,
    },
  };
}

/** Denying needs no self check to be safe, but the agent still may not decide its own call. */
export function deny(a: Approval, input: { approver: Approver; justification: string; holdForMs: number }, now: number): Transition {
  if (a.state !== 'pending') return { ok: false, reason: 'not-pending' };
  if (now >= a.expiresAt) return { ok: false, reason: 'request-expired' };
  if (!input.justification.trim()) return { ok: false, reason: 'justification-required' };
  if (isSelfApproval(a, input.approver)) return { ok: false, reason: 'self-approval' };
  return {
    ok: true,
    approval: { ...a, state: 'denied', decidedAt: now, decidedBy: input.approver.name, justification: input.justification.trim(), validUntil: now + input.holdForMs },
  };
}

/**
 * Time passing: a pending request past expiresAt becomes expired (nobody decided);
 * an approved one past validUntil becomes used if it released anything, else expired.
 * Returns null when nothing changes.
 */
export function expire(a: Approval, now: number): Approval | null {
  if (a.state === 'pending' && now >= a.expiresAt) return { ...a, state: 'expired' };
  if (a.state === 'approved' && a.validUntil !== null && now >= a.validUntil) return { ...a, state: a.usesCount > 0 ? 'used' : 'expired' };
  return null;
}

/** Is the approval able to release one more call with this key now? */
export function usable(a: Approval, key: string, now: number): boolean {
  if (a.key !== key || a.state !== 'approved') return false;
  if (a.validUntil === null || now >= a.validUntil) return false;
  return a.usesAllowed === null || a.usesCount < a.usesAllowed;
}

/**
 * One use of an approval by a call with `key`. A different key never passes (an approval for
 * call A is not an approval for call B); an exhausted single-use approval never passes twice.
 */
export function consume(a: Approval, key: string, now: number): Approval | null {
  if (!usable(a, key, now)) return null;
  const usesCount = a.usesCount + 1;
  const exhausted = a.usesAllowed !== null && usesCount >= a.usesAllowed;
  return { ...a, usesCount, state: exhausted ? 'used' : 'approved' };
}

/**
 * Calls that were already held when the approval arrived are all released by it, as the
 * approver saw them waiting; each counts as a use, and the count may exceed usesAllowed.
 */
export function releaseHeld(a: Approval, held: number): Approval {
  if (a.state !== 'approved' || held <= 0) return a;
  const usesCount = a.usesCount + held;
  const exhausted = a.usesAllowed !== null && usesCount >= a.usesAllowed;
  return { ...a, usesCount, state: exhausted ? 'used' : 'approved' };
}

/** Is the denial still in force for identical calls? */
export function denialInForce(a: Approval, key: string, now: number): boolean {
  return a.key === key && a.state === 'denied' && a.validUntil !== null && now < a.validUntil;
}

/** Should the before-expiry warning go out now? Once per request. */
export function warningDue(a: Approval, now: number, warnBeforeMs: number): boolean {
  return a.state === 'pending' && a.warnedAt === null && now >= a.expiresAt - warnBeforeMs && now < a.expiresAt;
}

/** The next instant at which time alone changes something for this approval, or null. */
export function nextDeadline(a: Approval, warnBeforeMs: number): number | null {
  if (a.state === 'pending') return a.warnedAt === null && warnBeforeMs > 0 ? Math.min(a.expiresAt - warnBeforeMs, a.expiresAt) : a.expiresAt;
  if (a.state === 'approved') return a.validUntil;
  return null;
}
