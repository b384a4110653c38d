/**
 * Connects the inspect stage to approval/: holding an `approve` call (request key, the
 * narrative approvers read, the agent-facing answer) and applying governed overrides.
 * Owns that translation only; holding, expiry and overrides themselves live in approval/.
 */
import type { Operation } from '../classify/index.js';
import type { DecideOutcome } from '../decision/decider.js';
import type { ApprovalEventV1 } from '../audit/event.js';
import type { ApprovalService, OverridesService } from '../approval/index.js';
import { requestKeyParts, holdAnswer, overrideNarrative } from '../approval/index.js';
import type { HoldPort, OverridePort } from './inspect.js';
import type { InspectInput } from './proxy.js';

/** The one paragraph an approver reads before deciding. */
export function heldCallNarrative(input: InspectInput, operation: Operation, outcome: DecideOutcome): string {
  const p = input.principal;
  const agent = outcome.facts.agent;
  const m = outcome.decision.matches.find((x) => x.ruleId === outcome.decision.ruleId);
  return [
    `${agent.displayName ?? p.appId} (appId ${p.appId}${p.kind === 'delegated' ? `, acting for user ${p.userPrincipalName ?? p.userId}` : ', app-only'})`,
    `wants to call ${input.method} /${operation.version}${operation.path} (${operation.template ?? 'unknown operation'}, ${operation.tier}).`,
    m ? `Rule '${m.ruleId}' (${m.reasonCode}) holds it for approval: ${m.reason}` : `Policy holds it for approval (${outcome.decision.reasonCode}).`,
    `Decision id ${outcome.decision.id}; explain it with: graphwarden explain ${outcome.decision.id}`,
  ].join(' ');
}

export function createHoldPort(deps: { approvals: ApprovalService; waitMs: number; now(): number }): HoldPort {
  return {
    async hold(input, operation, outcome, body) {
      const query = input.target.includes('?') ? input.target.slice(input.target.indexOf('?')) : '';
      // A retry must be the same call: same agent and user, method, canonical URL and body digest.
      const key = requestKeyParts(input.principal, input.method, `/${operation.version}${operation.path}${query}`, body ?? Buffer.alloc(0));
      const p = input.principal;
      const agent = outcome.facts.agent;
      const held = await deps.approvals.hold(
        {
          key,
          decisionId: outcome.decision.id,
          narrative: heldCallNarrative(input, operation, outcome),
          agent: { appId: p.appId, ...(agent.displayName ? { displayName: agent.displayName } : {}), ...(p.servicePrincipalId ? { servicePrincipalId: p.servicePrincipalId } : {}) },
          principal: { kind: p.kind, ...(p.userId ? { userId: p.userId } : {}), ...(p.userPrincipalName ? { userPrincipalName: p.userPrincipalName } : {}) },
          operation: { method: input.method, ...(operation.template ? { template: operation.template } : {}), summary: `${input.method} /${operation.version}${operation.path}` },
          waitMs: deps.waitMs,
        },
        input.abortSignal(),
      );
      const crid = input.headers['client-request-id'];
      const answer = holdAnswer(held, outcome.decision.id, new Date(deps.now()), typeof crid === 'string' ? crid : undefined);
      if (answer.forward) return { kind: 'proceed', approvalId: held.kind === 'approved' ? held.approvalId : '' };
      if (answer.status === null) return { kind: 'abandoned' };
      return { kind: 'respond', status: answer.status, headers: answer.headers, body: answer.body, outcome: held.kind === 'pending' ? 'held' : held.kind };
    },
  };
}

export function createOverridePort(deps: { overrides: OverridesService; now(): number; record(event: ApprovalEventV1): void }): OverridePort {
  return {
    apply(input, operation, outcome) {
      const ruleIds = outcome.decision.matches.filter((x) => x.effect === outcome.decision.effect).map((x) => x.ruleId);
      const [o] = deps.overrides.activeOverridesFor(input.principal.appId, ruleIds, operation.template ?? undefined, deps.now());
      if (!o) return undefined;
      // The decision record keeps what policy said; this event, chained to it, says why the call went through.
      deps.record({
        type: 'approval',
        approvalId: o.id,
        decisionId: outcome.decision.id,
        action: 'override-applied',
        actor: 'graphwarden',
        justification: overrideNarrative(o),
        at: new Date(deps.now()).toISOString(),
      });
      return o.id;
    },
  };
}
