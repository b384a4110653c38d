/**
 * The decision stage as the request path uses it (the effectful edge around the pure core): picks the
 * policy in force, gathers facts, decides, builds the audit event, appends it, records first use and
 * emits metrics events. Owns ids, the clock and latency measurement; does not write HTTP responses.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Principal } from '../identity/principal.js';
import type { DirectoryView } from '../directory/view.js';
import type { CompiledPolicy, Effect } from '../policy/compile.js';
import { agentKey, gatherFacts } from '../policy/inputs.js';
import type { DecisionFacts, FactsContext, OperationFacts, RiskFacts } from '../policy/inputs.js';
import type { UsageStore } from '../policy/usage-store.js';
import { buildDecisionRecord, isSensitive, serialiseFacts } from '../audit/event.js';
import type { AuditPrivacyOptions, DecisionEventInput, DecisionEventV1 } from '../audit/event.js';
import type { AppendOptions, AppendResult, AuditLog } from '../audit/log.js';
import { decide } from './decide.js';
import type { Decision } from './decide.js';

export interface DecisionMetricsEvents {
  /** One per decision (per $batch item). Labels stay bounded: effects and rule reason codes. */
  decision?(e: { effect: Effect; enforced: Effect; reasonCode: string; shadow: boolean; wouldBe?: Effect }): void;
  decisionLatency?(seconds: number): void;
}

export interface DeciderOptions {
  policy: { current(): CompiledPolicy };
  usage?: UsageStore;
  audit?: AuditLog;
  privacy?: AuditPrivacyOptions;
  events?: DecisionMetricsEvents;
  /** true once an approval workflow holds `approve` calls; until then the rules' approvalFallback applies. */
  holdApprovals?: boolean;
  newId?: () => string;
  clock?: () => Date;
}

export interface DecideInput {
  principal: Principal;
  operation: OperationFacts;
  view: DirectoryView | undefined;
  risk?: RiskFacts;
  requestId?: string;
  clientRequestId?: string;
  batchItemId?: string;
  /** Offered to the audit event; kept only if the privacy options say so. */
  token?: string;
  body?: string;
}

export interface DecideOutcome {
  facts: DecisionFacts;
  decision: Decision;
  event: DecisionEventV1;
  sensitive: boolean;
  /** The audit append (durable when it resolves ok). Undefined when no audit log is wired. */
  audited?: Promise<AppendResult>;
}

export interface Decider {
  evaluate(input: DecideInput): DecideOutcome;
  /**
   * Whether the call may go on as far as auditing is concerned: waits for the audit record of sensitive
   * calls and applies the fail mode; plain allowed reads do not wait (their failures are still counted).
   */
  admit(outcome: DecideOutcome): Promise<'proceed' | 'refuse'>;
}

const WAIT: AppendOptions = { wait: true };
const NO_WAIT: AppendOptions = { wait: false };

export function createDecider(opts: DeciderOptions): Decider {
  const newId = opts.newId ?? randomUUID;
  const clock = opts.clock ?? (() => new Date());
  return {
    evaluate(input) {
      const t0 = performance.now();
      const policy = opts.policy.current();
      // Optional members are set one by one (no conditional spreads: this runs for every call).
      const context: FactsContext = { now: clock() };
      if (input.risk) context.risk = input.risk;
      if (opts.usage) context.usage = opts.usage;
      const facts = gatherFacts(input.principal, input.operation, input.view, context);
      // The facts are serialised once: the same text is hashed for the facts digest and written to the log.
      const factsJson = serialiseFacts(facts);
      const decision = decide(facts, policy, { decisionId: newId(), holdApprovals: opts.holdApprovals === true, factsDigest: factsJson.factsDigest });
      const micros = Math.round((performance.now() - t0) * 1000);
      const eventInput: DecisionEventInput = { facts, decision, decisionMicros: micros };
      if (input.requestId !== undefined) eventInput.requestId = input.requestId;
      if (input.clientRequestId !== undefined) eventInput.clientRequestId = input.clientRequestId;
      if (input.batchItemId !== undefined) eventInput.batchItemId = input.batchItemId;
      if (input.token !== undefined) eventInput.token = input.token;
      if (input.body !== undefined) eventInput.body = input.body;
      const { event, json, requires } = buildDecisionRecord(eventInput, opts.privacy, factsJson);
      opts.events?.decisionLatency?.(micros / 1e6);
      opts.events?.decision?.({
        effect: decision.effect,
        enforced: decision.enforced,
        reasonCode: decision.reasonCode,
        shadow: decision.wouldBe !== undefined,
        ...(decision.wouldBe !== undefined ? { wouldBe: decision.wouldBe } : {}),
      });
      // firstUse false: the store already holds the pair (gatherFacts asked it), nothing to record.
      if (opts.usage && decision.enforced !== 'block' && facts.permissions.used !== undefined && facts.permissions.firstUse !== false) {
        void opts.usage.record(agentKey(input.principal), facts.permissions.used);
      }
      const outcome: DecideOutcome = { facts, decision, event, sensitive: isSensitive(facts, decision) };
      // Only a sensitive call waits for its record (admit), so only its record is synced before it resolves.
      if (opts.audit) {
        const wait = outcome.sensitive;
        outcome.audited = opts.audit.append(event, json, requires ? { wait, requires } : wait ? WAIT : NO_WAIT);
      }
      return outcome;
    },
    async admit(outcome) {
      if (!opts.audit || !outcome.audited) return 'proceed';
      if (!outcome.sensitive) return 'proceed';
      return opts.audit.gate(await outcome.audited, true);
    },
  };
}
