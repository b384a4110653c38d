/**
 * The ports the approval module talks through: audit events out, metric events out, a clock and
 * timers in. Owns only these shapes; the audit and metrics modules implement them elsewhere.
 */

export type ApprovalAuditAction =
  | 'requested'
  | 'joined'
  | 'approved'
  | 'denied'
  | 'expiry-warning'
  | 'expired'
  | 'used'
  | 'wait-ended'
  | 'abandoned'
  | 'override-created'
  | 'override-approved'
  | 'override-activated'
  | 'override-revoked'
  | 'override-expired';

/** One approval or override event for the hash-chained decision log. For overrides, approvalId is the override id. */
export interface ApprovalAuditEvent {
  type: 'approval';
  approvalId: string;
  decisionId?: string;
  action: ApprovalAuditAction;
  /** Approver name, 'agent:<appId>' for the calling agent, or 'system' for time and restarts. */
  actor: string;
  justification?: string;
  /** ISO 8601. */
  at: string;
}

export interface AuditPort {
  append(event: ApprovalAuditEvent): void | Promise<void>;
}

/** Metric events; the metrics module maps them to prom-client (no prom-client import here). */
export type ApprovalMetricEvent =
  | { type: 'approvals-pending'; count: number }
  | { type: 'approval-outcome'; outcome: 'approved' | 'denied' | 'expired' }
  | { type: 'approval-time-to-decision'; outcome: 'approved' | 'denied'; seconds: number }
  | { type: 'hold-outcome'; outcome: 'approved' | 'denied' | 'pending' | 'expired' | 'abandoned' | 'retry-approved' }
  | { type: 'overrides-active'; count: number }
  | { type: 'notify-failed'; target: string; attempts: number; error: string }
  | { type: 'notify-sent'; target: string; attempts: number }
  | { type: 'audit-failed'; action: ApprovalAuditAction };

export type MetricSink = (e: ApprovalMetricEvent) => void;

/** Epoch milliseconds. Injected so the cores and tests own time. */
export type Clock = () => number;

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: Timers = {
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    // Expiry timers must never keep the process alive on shutdown.
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** Sends an audit event without letting a failing audit sink break approvals; failures are counted. */
export function emitAudit(audit: AuditPort, metric: MetricSink, event: ApprovalAuditEvent): void {
  try {
    const r = audit.append(event);
    if (r && typeof (r as Promise<void>).then === 'function') {
      (r as Promise<void>).catch(() => metric({ type: 'audit-failed', action: event.action }));
    }
  } catch {
    metric({ type: 'audit-failed', action: event.action });
  }
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}
