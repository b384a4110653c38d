/**
 * The inspect stage of the request path: classify the call (each $batch item too), look
 * the agent up in the directory, decide by policy, wait for the audit record of sensitive
 * calls, hold approvals, and turn the outcome into a verdict for server/proxy.ts. Owns the
 * order of those steps and the $batch split; the steps themselves live in their modules.
 */
import type { Classifier, BatchItemResponse, LocalItemResponse, Operation } from '../classify/index.js';
import { planBatchForward, mergeBatchResponses } from '../classify/index.js';
import type { DirectoryView } from '../directory/view.js';
import type { Decider, DecideOutcome } from '../decision/decider.js';
import { refusal } from '../decision/respond.js';
import { ERRORS, graphErrorBody } from '../errors.js';
import type { InspectInput, InspectVerdict } from './proxy.js';

/** What the approval stage answers for a held call (see approval/). */
export type HoldVerdict =
  | { kind: 'proceed'; approvalId: string }
  | { kind: 'respond'; status: number; headers: Record<string, string>; body: unknown; outcome: string }
  | { kind: 'abandoned' };

export interface HoldPort {
  hold(input: InspectInput, operation: Operation, outcome: DecideOutcome, body: Buffer | undefined): Promise<HoldVerdict>;
}

/** Governed overrides: an active, approved exception lets a blocked or held call through (recorded by the port). */
export interface OverridePort {
  apply(input: InspectInput, operation: Operation, outcome: DecideOutcome): string | undefined;
}

export interface InspectorDeps {
  classifier: Classifier;
  view(): DirectoryView | undefined;
  /** Tenants are configured: no snapshot yet means refuse (fail closed), not "every agent unknown". */
  requireDirectory: boolean;
  decider: Decider;
  approvals?: HoldPort;
  overrides?: OverridePort;
  now(): number;
}

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function isJson(contentType: string | string[] | undefined): boolean {
  const ct = (Array.isArray(contentType) ? contentType[0] : contentType) ?? '';
  return /\bjson\b/i.test(ct);
}

function clientRequestIdOf(input: InspectInput): string | undefined {
  const v = input.headers['client-request-id'];
  return typeof v === 'string' ? v : undefined;
}

function outcomeLabel(o: DecideOutcome): string {
  return o.decision.enforced === 'alert' ? 'alerted' : 'forwarded';
}

export function createInspector(deps: InspectorDeps) {
  async function decideOne(input: InspectInput, operation: Operation, view: DirectoryView | undefined, batchItemId?: string) {
    const clientRequestId = clientRequestIdOf(input);
    const outcome = deps.decider.evaluate({
      principal: input.principal,
      operation,
      view,
      requestId: input.requestId,
      ...(clientRequestId ? { clientRequestId } : {}),
      ...(batchItemId !== undefined ? { batchItemId } : {}),
    });
    const admitted = await deps.decider.admit(outcome);
    return { outcome, admitted };
  }

  return async function inspect(input: InspectInput): Promise<InspectVerdict> {
    let body: Buffer | undefined;
    // JSON write bodies carry what the call touches (a $ref's member, every $batch item): read them,
    // bounded, before classifying. Uploads (non-JSON) stream through untouched.
    if (WRITE_METHODS.has(input.method) && isJson(input.headers['content-type'])) {
      const read = await input.readBody();
      if (!read.ok) return { kind: 'reject', code: read.code, message: read.message, outcome: 'rejected' };
      body = read.body;
    }
    const classified = deps.classifier.classify({ method: input.method, url: input.target, principal: input.principal, ...(body ? { body } : {}) });
    if (!classified.ok) return { kind: 'reject', code: classified.code, message: classified.message, outcome: 'rejected' };
    const view = deps.view();
    if (!view && deps.requireDirectory) {
      return { kind: 'reject', code: 'GW_ERR_DIRECTORY_UNAVAILABLE', message: 'graphwarden has no directory snapshot yet, so it cannot check what this agent may do; retry shortly.', headers: { 'retry-after': '10' }, outcome: 'rejected' };
    }
    const now = new Date(deps.now());
    const clientRequestId = clientRequestIdOf(input);

    if (!classified.batch) {
      const { outcome, admitted } = await decideOne(input, classified.operation, view);
      const decisionId = outcome.decision.id;
      if (admitted === 'refuse') {
        return { kind: 'reject', code: 'GW_ERR_AUDIT_UNAVAILABLE', message: 'The call could not be recorded in the audit log, so it was not forwarded.', outcome: 'audit-refused' };
      }
      const enforced = outcome.decision.enforced;
      if ((enforced === 'block' || enforced === 'approve') && deps.overrides) {
        const overrideId = deps.overrides.apply(input, classified.operation, outcome);
        if (overrideId) return { kind: 'forward', ...(body ? { body } : {}), decisionId, outcome: 'overridden' };
      }
      const refused = refusal(outcome.decision, now, clientRequestId);
      if (refused) return { kind: 'respond', status: refused.status, body: refused.body, outcome: 'blocked', headers: { 'request-id': decisionId } };
      if (enforced === 'approve' && deps.approvals) {
        const held = await deps.approvals.hold(input, classified.operation, outcome, body);
        if (held.kind === 'abandoned') return { kind: 'reject', code: 'GW_ERR_UPSTREAM_UNAVAILABLE', message: 'The caller went away while the call was held.', outcome: 'client-gone' };
        if (held.kind === 'respond') return { kind: 'respond', status: held.status, body: held.body, outcome: held.outcome, headers: { ...held.headers, 'request-id': decisionId } };
        return { kind: 'forward', ...(body ? { body } : {}), decisionId, outcome: 'approved' };
      }
      return { kind: 'forward', ...(body ? { body } : {}), decisionId, outcome: outcomeLabel(outcome) };
    }

    // $batch: every item is decided on its own; only allowed items are forwarded and the others
    // are answered here in Graph's batch response shape (json-batching.md).
    const plan = classified.batch;
    const allowed = new Set<string>();
    const local = new Map<string, LocalItemResponse>();
    let blocked = 0;
    for (const item of plan.items) {
      if (!item.operation) continue; // planBatchForward answers unparsable items with 400
      const { outcome, admitted } = await decideOne(input, item.operation, view, item.id);
      const itemError = (code: keyof typeof ERRORS, message: string): LocalItemResponse => ({
        status: ERRORS[code].status,
        headers: { 'content-type': 'application/json' },
        body: graphErrorBody(code, message, outcome.decision.id, now, clientRequestId ? { clientRequestId } : {}),
      });
      if (admitted === 'refuse') {
        local.set(item.id, itemError('GW_ERR_AUDIT_UNAVAILABLE', 'The call could not be recorded in the audit log, so it was not forwarded.'));
        blocked++;
        continue;
      }
      const itemEnforced = outcome.decision.enforced;
      if ((itemEnforced === 'block' || itemEnforced === 'approve') && deps.overrides?.apply(input, item.operation, outcome)) {
        allowed.add(item.id);
        continue;
      }
      const refused = refusal(outcome.decision, now, clientRequestId);
      if (refused) {
        local.set(item.id, { status: refused.status, headers: { 'content-type': 'application/json' }, body: refused.body });
        blocked++;
        continue;
      }
      if (outcome.decision.enforced === 'approve') {
        // Holding single items inside a batch would stall the others: ask the agent to send it alone.
        local.set(item.id, itemError('GW_ERR_POLICY_BLOCKED', `This request needs human approval (${outcome.decision.reasonCode}); send it on its own, outside $batch, to have it held for an approver. Decision id: ${outcome.decision.id}.`));
        blocked++;
        continue;
      }
      allowed.add(item.id);
    }
    const split = planBatchForward(plan, allowed, local);
    if (split.body === null) return { kind: 'respond', status: 200, body: { responses: split.local }, outcome: 'blocked' };
    const answers: BatchItemResponse[] = split.local;
    return {
      kind: 'forward',
      body: split.body,
      outcome: blocked > 0 || answers.length > 0 ? 'partially-forwarded' : 'forwarded',
      ...(answers.length > 0
        ? {
            rewriteResponse: (status: number, upstream: Buffer) =>
              status === 200 ? { status, body: Buffer.from(JSON.stringify(mergeBatchResponses(upstream, answers))) } : { status, body: upstream },
          }
        : {}),
    };
  };
}
