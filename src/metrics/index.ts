/**
 * Every Prometheus metric graphwarden exposes, in one registry with bounded labels.
 * Modules never import prom-client: they emit events and the composition root maps
 * them onto these instruments.
 */
import { Registry, Counter, Histogram, Gauge, collectDefaultMetrics } from 'prom-client';

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export function createMetrics(opts: { processMetrics?: boolean } = {}) {
  const registry = new Registry();
  if (opts.processMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'graphwarden_' });
  const r = [registry];
  const m = {
    registry,
    requests: new Counter({
      name: 'graphwarden_requests_total',
      help: 'Calls answered by the proxy, by method, HTTP status and outcome (forwarded, rejected by graphwarden, upstream error).',
      labelNames: ['method', 'status', 'outcome'] as const,
      registers: r,
    }),
    requestDuration: new Histogram({
      name: 'graphwarden_request_duration_seconds',
      help: 'End-to-end time from request received to response finished, by outcome.',
      labelNames: ['outcome'] as const,
      buckets: LATENCY_BUCKETS,
      registers: r,
    }),
    upstreamDuration: new Histogram({
      name: 'graphwarden_upstream_duration_seconds',
      help: 'Time from sending a call to Graph to receiving its response headers.',
      labelNames: ['status_class'] as const,
      buckets: LATENCY_BUCKETS,
      registers: r,
    }),
    upstreamErrors: new Counter({
      name: 'graphwarden_upstream_errors_total',
      help: 'Calls that could not be completed with Graph, by kind (connect, timeout, reset, body).',
      labelNames: ['kind'] as const,
      registers: r,
    }),
    inFlight: new Gauge({ name: 'graphwarden_requests_in_flight', help: 'Calls being handled now.', registers: r }),
    tokenCache: new Counter({
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
  };
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;

export function statusClass(status: number): string {
  return `${Math.floor(status / 100)}xx`;
}
