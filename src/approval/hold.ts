/**
 * Holding calls for a human: one approval request per identical call, waiters woken by the
 * decision (no polling), retries of an approved call released by consume, expiry and warnings
 * by sweep(). Owns the approval lifecycle around model.ts; does not speak HTTP (admin-api.ts)
 * and does not schedule its own timers for expiry (index.ts arms one timer from nextDeadline()).
 */
import { randomUUID } from 'node:crypto';
import * as model from './model.js';
import type { Approval, ApprovalState, Approver, HeldCallSummary, Refusal, RequestKeyParts } from './model.js';
import type { ApprovalNotice } from './notify.js';
import { emitAudit, iso, realTimers, type ApprovalAuditAction, type ApprovalAuditEvent, type AuditPort, type Clock, type MetricSink, type Timers } from './ports.js';
import type { ApprovalStore } from './store.js';

export interface HoldRequest {
  key: RequestKeyParts;
  /** The policy decision id of this call; links the hold to the decision log. */
  decisionId: string;
  /** The decision narrative, shown to approvers. */
  narrative: string;
  agent: HeldCallSummary['agent'];
  principal: HeldCallSummary['principal'];
  operation: HeldCallSummary['operation'];
  /** How long this call may wait for a decision before answering "pending" (capped by config). */
  waitMs: number;
}

export type HoldOutcome =
  | { kind: 'approved'; approvalId: string }
  | { kind: 'denied'; approvalId: string; by: string; justification: string }
  | { kind: 'pending'; approvalId: string; retryAfterSec: number }
  /** Nobody decided within the request's lifetime: distinct from a denial. */
  | { kind: 'expired'; approvalId: string }
  | { kind: 'abandoned' };

export type DecideResult = { ok: true; approval: Approval; released: number } | { ok: false; reason: Refusal | 'not-found' };

export interface ApprovalsConfig {
  /** A request nobody decides expires after this. */
  pendingTtlMs: number;
  /** Approvers get a warning this long before a request expires. */
  warnBeforeMs: number;
  /** An approval is usable this long unless the approver says otherwise. */
  defaultValidForMs: number;
  maxValidForMs: number;
  /** Largest `uses` an approver may grant. */
  maxUses: number;
  /** Retry-After on the "pending" answer; the Graph JS SDK caps its sleep at 180 s. */
  retryAfterSec: number;
  /** Identical calls get the denial (403) for this long after it, so an SDK retry does not re-ask. */
  denialHoldMs: number;
  /** Upper bound on any single hold's wait. */
  maxWaitMs: number;
}

export const DEFAULT_APPROVALS_CONFIG: ApprovalsConfig = {
  pendingTtlMs: 3_600_000,
  warnBeforeMs: 600_000,
  defaultValidForMs: 900_000,
  maxValidForMs: 86_400_000,
  maxUses: 100,
  retryAfterSec: 30,
  denialHoldMs: 900_000,
  maxWaitMs: 120_000,
};

export interface ApproveRequest {
  justification: string;
  uses?: number;
  reusable?: boolean;
  validForSec?: number;
}

export interface ApprovalService {
  hold(req: HoldRequest, signal: AbortSignal): Promise<HoldOutcome>;
  /** A retry of an approved call: one use, or null when no usable approval matches this exact key. */
  consume(key: RequestKeyParts, decisionId: string): { approvalId: string } | null;
  approve(id: string, approver: Approver, input: ApproveRequest): DecideResult;
  deny(id: string, approver: Approver, input: { justification: string }): DecideResult;
  get(id: string): Approval | undefined;
  list(filter?: { state?: ApprovalState; limit?: number }): Approval[];
  /** Calls held on this approval in this process right now. */
  waiting(id: string): number;
  /** At startup: holds left open by a previous process are recorded abandoned. Returns how many. */
  recover(): number;
  /** Expiry warnings and expiries that are due; returns how many approvals changed. */
  sweep(): number;
  nextDeadline(): number | null;
  /** Shutdown: every waiting call gets "pending" so its SDK retries against the next process. */
  close(): void;
}

interface Waiter {
  decisionId: string;
  settle(o: HoldOutcome): void;
}

export function createApprovalService(options: {
  store: ApprovalStore;
  audit: AuditPort;
  clock: Clock;
  metric?: MetricSink;
  notify?: (n: ApprovalNotice) => void;
  timers?: Timers;
  config?: Partial<ApprovalsConfig>;
  /** Told after every change that may move nextDeadline(). */
  onChange?: () => void;
}): ApprovalService {
  const { store, audit, clock } = options;
  const metric = options.metric ?? (() => {});
  const notify = options.notify ?? (() => {});
  const timers = options.timers ?? realTimers;
  const config: ApprovalsConfig = { ...DEFAULT_APPROVALS_CONFIG, ...options.config };
  const waiters = new Map<string, Set<Waiter>>();
  const retryAfterSec = Math.max(1, Math.min(180, Math.round(config.retryAfterSec)));

  /** Runs fn in a transaction; audit events it queues go out only after commit. */
  const txn = <T>(fn: (out: ApprovalAuditEvent[]) => T): T => {
    const out: ApprovalAuditEvent[] = [];
    const result = store.transaction(() => fn(out));
    for (const e of out) emitAudit(audit, metric, e);
    return result;
  };

  const record = (
    out: ApprovalAuditEvent[],
    a: Approval,
    action: ApprovalAuditAction,
    actor: string,
    at: number,
    extra: { decisionId?: string; justification?: string } = {},
  ): void => {
    store.recordEvent({ subject: 'approval', subjectId: a.id, action, actor, at, ...extra });
    out.push({ type: 'approval', approvalId: a.id, action, actor, at: iso(at), ...extra });
  };

  const publishPending = (): void => {
    metric({ type: 'approvals-pending', count: store.listApprovals({ state: 'pending', limit: 1_000_000 }).length });
    options.onChange?.();
  };

  const takeWaiters = (id: string): Waiter[] => {
    const set = waiters.get(id);
    waiters.delete(id);
    return set ? [...set] : [];
  };

  /** Expire an approval inside a transaction; returns the waiters to wake after commit. */
  const expireIn = (out: ApprovalAuditEvent[], a: Approval, now: number): { next: Approval; woken: Waiter[] } | null => {
    const next = model.expire(a, now);
    if (!next) return null;
    store.putApproval(next);
    if (next.state === 'expired') record(out, next, 'expired', 'system', now);
    const woken = a.state === 'pending' ? takeWaiters(a.id) : [];
    for (const w of woken) store.endHold(w.decisionId, 'expired', now);
    return { next, woken };
  };

  const afterExpiry = (a: Approval, woken: Waiter[], wasPending: boolean): void => {
    for (const w of woken) w.settle({ kind: 'expired', approvalId: a.id });
    if (wasPending && a.state === 'expired') {
      metric({ type: 'approval-outcome', outcome: 'expired' });
      notify({ event: 'expired', approval: a });
    }
  };

  const agentActor = (a: Approval): string => `agent:${a.keyParts.appId}`;

  const consumeIn = (out: ApprovalAuditEvent[], key: string, decisionId: string, now: number): Approval | null => {
    for (const a of store.findByKey(key, ['approved'])) {
      const used = model.consume(a, key, now);
      if (!used) continue;
      store.putApproval(used);
      record(out, used, 'used', agentActor(used), now, { decisionId });
      return used;
    }
    return null;
  };

  const service: ApprovalService = {
    hold(req, signal) {
      // A store failure reaches the caller as a rejection (it answers 500, fail closed), never a sync throw.
      try {
        return holdCall(req, signal);
      } catch (err) {
        return Promise.reject(err instanceof Error ? err : new Error(String(err)));
      }
    },

    consume(keyParts, decisionId) {
      const now = clock();
      const key = model.requestKey(keyParts);
      const used = txn((out) => consumeIn(out, key, decisionId, now));
      if (used) metric({ type: 'hold-outcome', outcome: 'retry-approved' });
      return used ? { approvalId: used.id } : null;
    },

    approve(id, approver, input) {
      return decide(id, approver, 'approve', input);
    },

    deny(id, approver, input) {
      return decide(id, approver, 'deny', input);
    },

    get: (id) => store.getApproval(id),
    list: (filter) => store.listApprovals(filter),
    waiting: (id) => waiters.get(id)?.size ?? 0,

    recover() {
      const now = clock();
      const open = store.openHolds();
      txn((out) => {
        for (const h of open) {
          store.endHold(h.decisionId, 'abandoned', now);
          const a = store.getApproval(h.approvalId);
          if (a) record(out, a, 'abandoned', 'system', now, { decisionId: h.decisionId });
        }
      });
      publishPending();
      return open.length;
    },

    sweep() {
      const now = clock();
      const changed: Array<{ a: Approval; woken: Waiter[]; wasPending: boolean }> = [];
      const warned: Approval[] = [];
      txn((out) => {
        for (const state of ['pending', 'approved'] as const) {
          for (const a of store.listApprovals({ state, limit: 1_000_000 })) {
            const e = expireIn(out, a, now);
            if (e) {
              changed.push({ a: e.next, woken: e.woken, wasPending: a.state === 'pending' });
            } else if (model.warningDue(a, now, config.warnBeforeMs)) {
              const next = { ...a, warnedAt: now };
              store.putApproval(next);
              record(out, next, 'expiry-warning', 'system', now);
              warned.push(next);
            }
          }
        }
      });
      for (const c of changed) afterExpiry(c.a, c.woken, c.wasPending);
      for (const w of warned) notify({ event: 'expiring', approval: w });
      if (changed.length || warned.length) publishPending();
      return changed.length + warned.length;
    },

    nextDeadline() {
      let next: number | null = null;
      for (const state of ['pending', 'approved'] as const) {
        for (const a of store.listApprovals({ state, limit: 1_000_000 })) {
          const d = model.nextDeadline(a, config.warnBeforeMs);
          if (d !== null && (next === null || d < next)) next = d;
        }
      }
      return next;
    },

    close() {
      const at = clock();
      const all = [...waiters.entries()];
      waiters.clear();
      txn((out) => {
        for (const [id, set] of all) {
          const a = store.getApproval(id);
          for (const w of set) if (store.endHold(w.decisionId, 'pending', at) && a) record(out, a, 'wait-ended', 'system', at, { decisionId: w.decisionId });
        }
      });
      for (const [id, set] of all) for (const w of set) w.settle({ kind: 'pending', approvalId: id, retryAfterSec });
    },
  };

  function holdCall(req: HoldRequest, signal: AbortSignal): Promise<HoldOutcome> {
    if (signal.aborted) return Promise.resolve({ kind: 'abandoned' });
    const now = clock();
    const key = model.requestKey(req.key);
    const expired: Array<{ a: Approval; woken: Waiter[]; wasPending: boolean }> = [];

    const step = txn((out): HoldOutcome | { kind: 'wait'; approval: Approval; created: boolean } => {
      // Lazy expiry: correctness never depends on a timer having fired.
      for (const a of store.findByKey(key, ['pending', 'approved'])) {
        const e = expireIn(out, a, now);
        if (e) expired.push({ a: e.next, woken: e.woken, wasPending: a.state === 'pending' });
      }
      const used = consumeIn(out, key, req.decisionId, now);
      if (used) return { kind: 'approved', approvalId: used.id };
      const denied = store.findByKey(key, ['denied']).reverse().find((a) => model.denialInForce(a, key, now));
      if (denied) {
        record(out, denied, 'denied', denied.decidedBy ?? 'system', now, { decisionId: req.decisionId, justification: denied.justification ?? '' });
        return { kind: 'denied', approvalId: denied.id, by: denied.decidedBy ?? '', justification: denied.justification ?? '' };
      }
      const pending = store.findByKey(key, ['pending'])[0];
      if (pending) {
        store.startHold({ decisionId: req.decisionId, approvalId: pending.id, startedAt: now });
        record(out, pending, 'joined', agentActor(pending), now, { decisionId: req.decisionId });
        return { kind: 'wait', approval: pending, created: false };
      }
      const a = model.createApproval(
        {
          id: `apr_${randomUUID()}`,
          keyParts: req.key,
          decisionId: req.decisionId,
          summary: { agent: req.agent, principal: req.principal, operation: req.operation, narrative: req.narrative },
        },
        now,
        config.pendingTtlMs,
      );
      store.putApproval(a);
      store.startHold({ decisionId: req.decisionId, approvalId: a.id, startedAt: now });
      record(out, a, 'requested', agentActor(a), now, { decisionId: req.decisionId });
      return { kind: 'wait', approval: a, created: true };
    });

    for (const e of expired) afterExpiry(e.a, e.woken, e.wasPending);
    if (step.kind !== 'wait') {
      metric({ type: 'hold-outcome', outcome: step.kind === 'approved' ? 'retry-approved' : step.kind });
      if (expired.length) publishPending();
      return Promise.resolve(step);
    }
    const approval = step.approval;
    if (step.created) {
      notify({ event: 'requested', approval });
    }
    if (step.created || expired.length) publishPending();

    return new Promise<HoldOutcome>((resolve) => {
      let timer: unknown;
      const waiter: Waiter = {
        decisionId: req.decisionId,
        settle: (o) => {
          if (timer !== undefined) timers.clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
          waiters.get(approval.id)?.delete(waiter);
          metric({ type: 'hold-outcome', outcome: o.kind });
          resolve(o);
        },
      };
      const endWith = (outcome: 'abandoned' | 'pending', action: ApprovalAuditAction): boolean => {
        // Only the first ending counts: a decision may have closed this hold already.
        const at = clock();
        return txn((out) => {
          if (!store.endHold(req.decisionId, outcome, at)) return false;
          record(out, approval, action, action === 'abandoned' ? agentActor(approval) : 'system', at, { decisionId: req.decisionId });
          return true;
        });
      };
      const onAbort = (): void => {
        if (!waiters.get(approval.id)?.has(waiter)) return;
        if (endWith('abandoned', 'abandoned')) waiter.settle({ kind: 'abandoned' });
      };
      let set = waiters.get(approval.id);
      if (!set) waiters.set(approval.id, (set = new Set()));
      set.add(waiter);
      signal.addEventListener('abort', onAbort, { once: true });
      const waitMs = Math.max(0, Math.min(req.waitMs, config.maxWaitMs));
      timer = timers.setTimeout(() => {
        timer = undefined;
        if (!waiters.get(approval.id)?.has(waiter)) return;
        if (endWith('pending', 'wait-ended')) waiter.settle({ kind: 'pending', approvalId: approval.id, retryAfterSec });
      }, waitMs);
    });
  }

  function decide(id: string, approver: Approver, verb: 'approve' | 'deny', input: ApproveRequest): DecideResult {
    const now = clock();
    let expiredNow: { a: Approval; woken: Waiter[]; wasPending: boolean } | null = null;
    let woken: Waiter[] = [];
    const result = txn((out): DecideResult => {
      const a = store.getApproval(id);
      if (!a) return { ok: false, reason: 'not-found' };
      const e = expireIn(out, a, now);
      if (e) {
        expiredNow = { a: e.next, woken: e.woken, wasPending: a.state === 'pending' };
        return { ok: false, reason: a.state === 'pending' ? 'request-expired' : 'not-pending' };
      }
      const t =
        verb === 'approve'
          ? model.approve(
              a,
              {
                approver,
                justification: input.justification,
                ...(input.uses !== undefined ? { uses: input.uses } : {}),
                ...(input.reusable ? { reusable: true } : {}),
                validForMs: input.validForSec !== undefined ? input.validForSec * 1000 : config.defaultValidForMs,
              },
              now,
              { maxUses: config.maxUses, maxValidForMs: config.maxValidForMs },
            )
          : model.deny(a, { approver, justification: input.justification, holdForMs: config.denialHoldMs }, now);
      if (!t.ok) return t;
      woken = takeWaiters(id);
      let next = t.approval;
      record(out, next, verb === 'approve' ? 'approved' : 'denied', approver.name, now, { justification: next.justification ?? '' });
      if (verb === 'approve') {
        // Every identical call already waiting is released by this approval, each one a use.
        next = model.releaseHeld(next, woken.length);
        for (const w of woken) {
          store.endHold(w.decisionId, 'approved', now);
          record(out, next, 'used', agentActor(next), now, { decisionId: w.decisionId });
        }
      } else {
        for (const w of woken) store.endHold(w.decisionId, 'denied', now);
      }
      store.putApproval(next);
      return { ok: true, approval: next, released: woken.length };
    });
    const exp = expiredNow as { a: Approval; woken: Waiter[]; wasPending: boolean } | null;
    if (exp) {
      afterExpiry(exp.a, exp.woken, exp.wasPending);
      publishPending();
    }
    if (!result.ok) return result;
    const a = result.approval;
    for (const w of woken) {
      w.settle(
        verb === 'approve'
          ? { kind: 'approved', approvalId: id }
          : { kind: 'denied', approvalId: id, by: approver.name, justification: a.justification ?? '' },
      );
    }
    const outcome = verb === 'approve' ? 'approved' : 'denied';
    metric({ type: 'approval-outcome', outcome });
    metric({ type: 'approval-time-to-decision', outcome, seconds: (now - a.createdAt) / 1000 });
    notify({ event: outcome, approval: a });
    publishPending();
    return result;
  }

  return service;
}
