/**
 * Turning a refused decision into what the agent receives: a 403 Graph error envelope with graphwarden's
 * own code (not Graph's Authorization_RequestDenied, so a person reading agent logs knows it was policy),
 * a message naming the rule and reason, and innerError.request-id = the decision id. Does not write responses.
 */
import { ERRORS, graphErrorBody } from '../errors.js';
import type { GraphErrorBody } from '../errors.js';
import type { Decision } from './decide.js';

export interface RefusalResponse {
  status: number;
  body: GraphErrorBody;
}

/** The message an agent's operator reads; no facts beyond the rule and its reason text. */
export function blockMessage(decision: Decision): string {
  const m = decision.matches.find((x) => x.ruleId === decision.ruleId);
  if (m) {
    const via = decision.approval === 'fallback-block' ? ' (needs human approval, which is not available, so it is blocked)' : '';
    return `Blocked by graphwarden policy rule '${m.ruleId}' (${m.reasonCode})${via}: ${m.reason} Decision id: ${decision.id}.`;
  }
  return `Blocked by graphwarden policy (${decision.reasonCode}): no rule allows this call and the default is to block. Decision id: ${decision.id}.`;
}

/** The 403 for an enforced block, or undefined when the decision lets the call through. */
export function refusal(decision: Decision, now: Date, clientRequestId?: string): RefusalResponse | undefined {
  if (decision.enforced !== 'block') return undefined;
  return {
    status: ERRORS.GW_ERR_POLICY_BLOCKED.status,
    body: graphErrorBody('GW_ERR_POLICY_BLOCKED', blockMessage(decision), decision.id, now, {
      ...(clientRequestId !== undefined ? { clientRequestId } : {}),
      'graphwarden-rule': decision.ruleId ?? null,
      'graphwarden-reason': decision.reasonCode,
    }),
  };
}
