/**
 * The approval module as the composition root sees it: one call builds the store, the approval
 * service, overrides, notifier and admin handler, and one timer drives expiry from the nearest
 * deadline. Owns that wiring only; logic lives in the files it imports.
 */
import type { IncomingMessage } from 'node:http';
import { createApprovalAdminApi, type AdminHandler, type ApproverConfig } from './admin-api.js';
import { createApprovalService, type ApprovalService, type ApprovalsConfig } from './hold.js';
import type { Approver } from './model.js';
import { createNotifier, type Notifier, type NotifierConfig, type WebhookTarget } from './notify.js';
import { createOverrides, type OverridesConfig, type OverridesService } from './overrides.js';
import { realTimers, type AuditPort, type Clock, type MetricSink, type Timers } from './ports.js';
import { createApprovalStore, type ApprovalStore } from './store.js';

export type { HoldRequest, HoldOutcome, ApprovalService, ApprovalsConfig } from './hold.js';
export type { OverridesService, Override, OverrideOperation } from './overrides.js';
export type { ApprovalAuditEvent, ApprovalMetricEvent, AuditPort, MetricSink } from './ports.js';
export type { ApproverConfig, AdminHandler } from './admin-api.js';
export type { RequestKeyParts, Approver } from './model.js';
export { tokenDigest } from './admin-api.js';
export { overrideNarrative, overrideApplies } from './overrides.js';
export { approvalsConfigSchema, overridesConfigSchema, approvalModuleConfig, type ApprovalsConfigSlice, type OverridesConfigSlice } from './config.js';

export interface ApprovalModuleConfig {
  /** The state directory; the store is `approvals.sqlite` in it. */
  stateDir: string;
  approvers: ApproverConfig[];
  approvals?: Partial<ApprovalsConfig>;
  overrides?: Partial<OverridesConfig>;
  notify?: Partial<NotifierConfig> & { targets: WebhookTarget[] };
  adminMaxBodyBytes?: number;
}

export interface ApprovalModule {
  store: ApprovalStore;
  approvals: ApprovalService;
  overrides: OverridesService;
  notifier: Notifier;
  /** Mount on the admin listener; returns false for paths it does not own. */
  adminApi: AdminHandler;
  /** Records calls held by a previous process as abandoned, runs due expiries and arms the timer. */
  start(): { abandoned: number };
  /** Answers every waiting call "pending", stops the timer, waits for notifications, closes the store. */
  stop(): Promise<void>;
}

// setTimeout cannot wait longer than 2^31-1 ms.
const MAX_TIMER_MS = 2_147_483_647;

export function createApprovalModule(
  config: ApprovalModuleConfig,
  ports: { audit: AuditPort; metric?: MetricSink; clock?: Clock; timers?: Timers; authenticate?: (req: IncomingMessage) => Approver | null },
): ApprovalModule {
  const clock = ports.clock ?? Date.now;
  const timers = ports.timers ?? realTimers;
  const metric = ports.metric ?? (() => {});
  const store = createApprovalStore({ stateDir: config.stateDir });
  const notifier = createNotifier({ config: config.notify ?? { targets: [] }, clock, metric });
  let timer: unknown;
  let running = false;

  const arm = (): void => {
    if (!running) return;
    if (timer !== undefined) timers.clearTimeout(timer);
    timer = undefined;
    const candidates = [approvals.nextDeadline(), overrides.nextDeadline()].filter((d): d is number => d !== null);
    if (!candidates.length) return;
    const wait = Math.max(0, Math.min(MAX_TIMER_MS, Math.min(...candidates) - clock()));
    timer = timers.setTimeout(() => {
      timer = undefined;
      approvals.sweep();
      overrides.sweep();
      arm();
    }, wait);
  };

  const approvals = createApprovalService({ store, audit: ports.audit, clock, metric, timers, notify: (n) => notifier.notify(n), onChange: arm, ...(config.approvals ? { config: config.approvals } : {}) });
  const overrides = createOverrides({ store, audit: ports.audit, clock, metric, onChange: arm, ...(config.overrides ? { config: config.overrides } : {}) });
  const adminApi = createApprovalAdminApi({
    approvals,
    overrides,
    approvers: config.approvers,
    clock,
    ...(ports.authenticate ? { authenticate: ports.authenticate } : {}),
    ...(config.adminMaxBodyBytes ? { maxBodyBytes: config.adminMaxBodyBytes } : {}),
  });

  return {
    store,
    approvals,
    overrides,
    notifier,
    adminApi,
    start() {
      running = true;
      const abandoned = approvals.recover();
      approvals.sweep();
      overrides.sweep();
      arm();
      return { abandoned };
    },
    async stop() {
      running = false;
      if (timer !== undefined) timers.clearTimeout(timer);
      timer = undefined;
      approvals.close();
      await notifier.idle();
      store.close();
    },
  };
}
export { holdAnswer, requestKeyParts, bodyDigest, type HoldAnswer } from './respond.js';
