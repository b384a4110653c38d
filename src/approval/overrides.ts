/**
 * Governed overrides: time-boxed, justified exceptions for one agent and named operations or
 * rules, two-person for break-glass, expiring on their own, every change audited.
 * Owns override lifecycle and lookup; does not evaluate policy (policy asks activeOverridesFor).
 */
import { randomUUID } from 'node:crypto';
import type { Approver } from './model.js';
import { emitAudit, iso, type ApprovalAuditAction, type AuditPort, type Clock, type MetricSink } from './ports.js';
import type { ApprovalStore } from './store.js';

/** An operation is named by a policy rule id or by a classifier template (exact match, no wildcards). */
export type OverrideOperation = { ruleId: string } | { template: string };

export type OverrideState = 'awaiting-second-approver' | 'active' | 'revoked' | 'expired';

export interface Override {
  id: string;
  /** The agent's appId. */
  agent: string;
  operations: OverrideOperation[];
  /** Epoch ms; the override stops applying at this instant. */
  until: number;
  justification: string;
  createdBy: string;
  createdAt: number;
  /** Distinct approver names; the creator is the first. */
  approvedBy: string[];
  breakGlass: boolean;
  state: OverrideState;
  revokedBy: string | null;
  revokedAt: number | null;
  revokeJustification: string | null;
}

export interface CreateOverrideInput {
  agent: string;
  operations: OverrideOperation[];
  until: number;
  justification: string;
  breakGlass?: boolean;
}

export type OverrideRefusal =
  | 'not-found'
  | 'justification-required'
  | 'self-override'
  | 'automation-approver'
  | 'invalid-agent'
  | 'invalid-operations'
  | 'invalid-until'
  | 'too-long'
  | 'same-approver'
  | 'not-awaiting-approval'
  | 'not-revocable';

export type OverrideResult = { ok: true; override: Override } | { ok: false; reason: OverrideRefusal };

export interface OverridesConfig {
  /** Longest an ordinary override may last. */
  maxDurationMs: number;
  /** Longest a break-glass override may last. */
  maxBreakGlassDurationMs: number;
}

export const DEFAULT_OVERRIDES_CONFIG: OverridesConfig = { maxDurationMs: 7 * 86_400_000, maxBreakGlassDurationMs: 86_400_000 };

export interface OverridesService {
  create(input: CreateOverrideInput, by: Approver): OverrideResult;
  approve(id: string, by: Approver): OverrideResult;
  revoke(id: string, by: Approver, justification: string): OverrideResult;
  get(id: string): Override | undefined;
  list(filter?: { state?: OverrideState }): Override[];
  /** Active overrides for this agent covering any of these rule ids or this template, at `now`. Hot path: in memory. */
  activeOverridesFor(agent: string, ruleIds: readonly string[], template: string | undefined, now: number): Override[];
  /** Expire what is due; returns how many changed. */
  sweep(): number;
  /** Next instant at which sweep() has work, or null. */
  nextDeadline(): number | null;
}

/** Pure: does this override apply to this call at `now`? */
export function overrideApplies(o: Override, agent: string, ruleIds: readonly string[], template: string | undefined, now: number): boolean {
  if (o.state !== 'active' || now >= o.until) return false;
  // appIds are GUIDs: compare case-insensitively so casing cannot dodge or widen a match.
  if (o.agent.toLowerCase() !== agent.toLowerCase()) return false;
  return o.operations.some((op) => ('ruleId' in op ? ruleIds.includes(op.ruleId) : template !== undefined && op.template === template));
}

/** One line for decision narratives: which override let the call through, who stands behind it, until when. */
export function overrideNarrative(o: Override): string {
  const who = o.breakGlass ? `break-glass, approved by ${o.approvedBy.join(' and ')}` : `granted by ${o.createdBy}`;
  return `override ${o.id} (${who}) until ${new Date(o.until).toISOString()}: ${o.justification}`;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function validOperations(ops: unknown): ops is OverrideOperation[] {
  if (!Array.isArray(ops) || ops.length === 0 || ops.length > 50) return false;
  return ops.every((op: unknown) => {
    if (typeof op !== 'object' || op === null) return false;
    const keys = Object.keys(op);
    if (keys.length !== 1) return false;
    const v = (op as Record<string, unknown>)[keys[0]!];
    return (keys[0] === 'ruleId' || keys[0] === 'template') && typeof v === 'string' && v.trim().length > 0 && v.length <= 512;
  });
}

export function createOverrides(options: {
  store: ApprovalStore;
  audit: AuditPort;
  clock: Clock;
  metric?: MetricSink;
  config?: Partial<OverridesConfig>;
  /** Told after every change, so a scheduler can re-arm its expiry timer. */
  onChange?: () => void;
}): OverridesService {
  const { store, audit, clock } = options;
  const metric = options.metric ?? (() => {});
  const config = { ...DEFAULT_OVERRIDES_CONFIG, ...options.config };
  let live: Override[] = [];

  const reload = (): void => {
    live = [...store.listOverrides({ state: 'active' }), ...store.listOverrides({ state: 'awaiting-second-approver' })];
    metric({ type: 'overrides-active', count: live.filter((o) => o.state === 'active').length });
  };

  const record = (o: Override, action: ApprovalAuditAction, actor: string, justification?: string): void => {
    const at = clock();
    store.recordEvent({ subject: 'override', subjectId: o.id, action, actor, at, ...(justification ? { justification } : {}) });
    emitAudit(audit, metric, { type: 'approval', approvalId: o.id, action, actor, at: iso(at), ...(justification ? { justification } : {}) });
  };

  const changed = (): void => {
    reload();
    options.onChange?.();
  };

  const refuseApprover = (o: { agent: string }, by: Approver): OverrideRefusal | null => {
    if (by.automation) return 'automation-approver';
    if (by.ids.some((id) => id.toLowerCase() === o.agent.toLowerCase())) return 'self-override';
    return null;
  };

  reload();

  return {
    create(input, by) {
      if (typeof input.agent !== 'string' || !GUID.test(input.agent)) return { ok: false, reason: 'invalid-agent' };
      if (!validOperations(input.operations)) return { ok: false, reason: 'invalid-operations' };
      if (typeof input.justification !== 'string' || !input.justification.trim()) return { ok: false, reason: 'justification-required' };
      const refusal = refuseApprover(input, by);
      if (refusal) return { ok: false, reason: refusal };
      const now = clock();
      const breakGlass = input.breakGlass === true;
      if (!Number.isFinite(input.until) || input.until <= now) return { ok: false, reason: 'invalid-until' };
      if (input.until - now > (breakGlass ? config.maxBreakGlassDurationMs : config.maxDurationMs)) return { ok: false, reason: 'too-long' };
      const o: Override = {
        id: `ovr_${randomUUID()}`,
        agent: input.agent.toLowerCase(),
        operations: input.operations.map((op) => ('ruleId' in op ? { ruleId: op.ruleId.trim() } : { template: op.template.trim() })),
        until: input.until,
        justification: input.justification.trim(),
        createdBy: by.name,
        createdAt: now,
        approvedBy: [by.name],
        // Break-glass is two-person: it waits for a second, distinct approver.
        breakGlass,
        state: breakGlass ? 'awaiting-second-approver' : 'active',
        revokedBy: null,
        revokedAt: null,
        revokeJustification: null,
      };
      store.transaction(() => {
        store.putOverride(o);
        record(o, 'override-created', by.name, o.justification);
        if (o.state === 'active') record(o, 'override-activated', by.name);
      });
      changed();
      return { ok: true, override: o };
    },

    approve(id, by) {
      const result = store.transaction((): OverrideResult => {
        const o = store.getOverride(id);
        if (!o) return { ok: false, reason: 'not-found' };
        if (o.state !== 'awaiting-second-approver') return { ok: false, reason: 'not-awaiting-approval' };
        const now = clock();
        if (now >= o.until) return { ok: false, reason: 'invalid-until' };
        const refusal = refuseApprover(o, by);
        if (refusal) return { ok: false, reason: refusal };
        if (o.approvedBy.includes(by.name)) return { ok: false, reason: 'same-approver' };
        const next: Override = { ...o, approvedBy: [...o.approvedBy, by.name], state: 'active' };
        store.putOverride(next);
        record(next, 'override-approved', by.name);
        record(next, 'override-activated', by.name);
        return { ok: true, override: next };
      });
      if (result.ok) changed();
      return result;
    },

    revoke(id, by, justification) {
      if (typeof justification !== 'string' || !justification.trim()) return { ok: false, reason: 'justification-required' };
      const result = store.transaction((): OverrideResult => {
        const o = store.getOverride(id);
        if (!o) return { ok: false, reason: 'not-found' };
        if (o.state !== 'active' && o.state !== 'awaiting-second-approver') return { ok: false, reason: 'not-revocable' };
        // Revoking only narrows access, so any named approver may do it (automation included).
        const next: Override = { ...o, state: 'revoked', revokedBy: by.name, revokedAt: clock(), revokeJustification: justification.trim() };
        store.putOverride(next);
        record(next, 'override-revoked', by.name, next.revokeJustification ?? undefined);
        return { ok: true, override: next };
      });
      if (result.ok) changed();
      return result;
    },

    get: (id) => store.getOverride(id),
    list: (filter) => store.listOverrides(filter),

    activeOverridesFor(agent, ruleIds, template, now) {
      return live.filter((o) => overrideApplies(o, agent, ruleIds, template, now));
    },

    sweep() {
      const now = clock();
      const due = live.filter((o) => now >= o.until);
      if (due.length === 0) return 0;
      store.transaction(() => {
        for (const o of due) {
          const current = store.getOverride(o.id);
          if (!current || (current.state !== 'active' && current.state !== 'awaiting-second-approver')) continue;
          store.putOverride({ ...current, state: 'expired' });
          record(current, 'override-expired', 'system');
        }
      });
      changed();
      return due.length;
    },

    nextDeadline() {
      let next: number | null = null;
      for (const o of live) if (next === null || o.until < next) next = o.until;
      return next;
    },
  };
}
