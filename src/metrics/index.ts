/**
 * Every Prometheus metric graphwarden exposes, in one registry with bounded labels.
 * Modules never import prom-client: they emit events and the composition root maps
 * them onto these instruments.
 */
import { Registry, Counter, Histogram, Gauge, collectDefaultMetrics } from 'prom-client';
import { HotCounter, HotHistogram } from './hot.js';

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export function createMetrics(opts: { processMetrics?: boolean } = {}) {
  const registry = new Registry();
  /** Read at scrape time; the composition root points these at the modules that know. */
  const sources: { snapshotAgeMs?: () => number | undefined } = {};
  if (opts.processMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'graphwarden_' });
  const r = [registry];
  let inFlightNow = 0;
  const m = {
    registry,
    requests: new HotCounter({
      name: 'graphwarden_requests_total',
      help: 'Calls answered by the proxy, by method, HTTP status and outcome (forwarded, rejected by graphwarden, upstream error).',
      labelNames: ['method', 'status', 'outcome'] as const,
      registers: r,
    }),
    requestDuration: new HotHistogram({
      name: 'graphwarden_request_duration_seconds',
      help: 'End-to-end time from request received to response finished, by outcome.',
      labelNames: ['outcome'] as const,
      buckets: LATENCY_BUCKETS,
      registers: r,
    }),
    upstreamDuration: new HotHistogram({
      name: 'graphwarden_upstream_duration_seconds',
      help: 'Time from sending a call to Graph to receiving its response headers.',
      labelNames: ['status_class'] as const,
      buckets: LATENCY_BUCKETS,
      registers: r,
    }),
    upstreamErrors: new Counter({
      name: 'graphwarden_upstream_errors_total',
      help: 'Calls that could not be completed with Graph, by kind (connect, timeout, reset, tls, closed, body; encoding: an answer to merge that could not be decoded).',
      labelNames: ['kind'] as const,
      registers: r,
    }),
    // Counted in a plain number on the request path; the gauge reads it at scrape time.
    inFlight: {
      inc: () => void (inFlightNow += 1),
      dec: () => void (inFlightNow -= 1),
    },
    inFlightGauge: new Gauge({
      name: 'graphwarden_requests_in_flight',
      help: 'Calls being handled now.',
      registers: r,
      collect() {
        this.set(inFlightNow);
      },
    }),
    tokenCache: new HotCounter({
      name: 'graphwarden_token_cache_lookups_total',
      help: 'Verified-token cache lookups by result (hit, miss); the hit ratio is hit / (hit + miss).',
      labelNames: ['result'] as const,
      registers: r,
    }),
    tokenRejections: new Counter({
      name: 'graphwarden_token_rejections_total',
      help: 'Tokens refused, by graphwarden error code.',
      labelNames: ['code'] as const,
      registers: r,
    }),
    jwksRefreshes: new Counter({
      name: 'graphwarden_jwks_refreshes_total',
      help: 'Signing-key fetches per tenant, by reason (startup, interval, unknown-kid) and outcome.',
      labelNames: ['tenant', 'reason', 'outcome'] as const,
      registers: r,
    }),
    failOpen: new Counter({
      name: 'graphwarden_fail_open_total',
      help: 'Calls let through by an explicit fail-open setting, by which setting.',
      labelNames: ['setting'] as const,
      registers: r,
    }),
    decisions: new HotCounter({
      name: 'graphwarden_decisions_total',
      help: 'Policy decisions (one per call, one per $batch item) by what policy said, what was enforced, and the deciding reason code.',
      labelNames: ['effect', 'enforced', 'reason'] as const,
      registers: r,
    }),
    shadowDecisions: new Counter({
      name: 'graphwarden_shadow_decisions_total',
      help: 'Decisions where shadow-mode rules would have done something else: what they would have done, by reason.',
      labelNames: ['would_be', 'reason'] as const,
      registers: r,
    }),
    decisionDuration: new HotHistogram({
      name: 'graphwarden_decision_duration_seconds',
      labelNames: [] as const,
      help: 'Time to gather facts and evaluate the rules for one decision.',
      buckets: [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01],
      registers: r,
    }),
    ruleReloads: new Counter({
      name: 'graphwarden_rule_reloads_total',
      help: 'Rule set reloads by outcome (ok, failed: the last good set stays in force).',
      labelNames: ['outcome'] as const,
      registers: r,
    }),
    auditWriteFailures: new Counter({ name: 'graphwarden_audit_write_failures_total', help: 'Audit records whose write or sync (fdatasync) failed.', registers: r }),
    directorySyncs: new Counter({
      name: 'graphwarden_directory_syncs_total',
      help: 'Directory syncs per tenant by mode (full, delta) and outcome.',
      labelNames: ['tenant', 'mode', 'outcome'] as const,
      registers: r,
    }),
    directoryObjects: new Gauge({ name: 'graphwarden_directory_objects', help: 'Directory objects in the snapshot in force.', registers: r }),
    directorySnapshotAge: new Gauge({
      name: 'graphwarden_directory_snapshot_age_seconds',
      help: 'Age of the directory snapshot in force (absent until one is loaded).',
      registers: r,
      collect() {
        const age = sources.snapshotAgeMs?.();
        if (age !== undefined) this.set(age / 1000);
      },
    }),
    approvalsPending: new Gauge({ name: 'graphwarden_approvals_pending', help: 'Approval requests waiting for a human.', registers: r }),
    approvalOutcomes: new Counter({
      name: 'graphwarden_approvals_total',
      help: 'Approval requests by outcome (approved, denied, expired: expiry is not a denial).',
      labelNames: ['outcome'] as const,
      registers: r,
    }),
    approvalTimeToDecision: new Histogram({
      name: 'graphwarden_approval_time_to_decision_seconds',
      help: 'Time from a call being held to a human decision.',
      labelNames: ['outcome'] as const,
      buckets: [5, 15, 30, 60, 120, 300, 600, 1800, 3600, 14_400],
      registers: r,
    }),
    holdOutcomes: new Counter({
      name: 'graphwarden_held_calls_total',
      help: 'Held calls by what the agent got (approved, denied, pending: 503 + Retry-After, expired, abandoned, retry-approved).',
      labelNames: ['outcome'] as const,
      registers: r,
    }),
    overridesActive: new Gauge({ name: 'graphwarden_overrides_active', help: 'Governed overrides in force.', registers: r }),
    overridesApplied: new Counter({ name: 'graphwarden_overrides_applied_total', help: 'Calls let through by a governed override.', registers: r }),
    notifications: new Counter({
      name: 'graphwarden_approval_notifications_total',
      help: 'Approval notifications (webhook, Teams, Slack) by outcome.',
      labelNames: ['outcome'] as const,
      registers: r,
    }),
    sources,
  };
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;

export function statusClass(status: number): string {
  return `${Math.floor(status / 100)}xx`;
}
