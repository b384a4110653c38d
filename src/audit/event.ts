/**
 * The audit event types and the builder of decision events. Owns the field allowlist: an event holds
 * exactly the fields below, copied one by one, never a spread of request or token objects. Tokens and
 * bodies are included only when configured. Does not write anything (log.ts does).
 */
import type { Decision } from '../decision/decide.js';
import type { DecisionFacts } from '../policy/inputs.js';
import { sha256Hex } from '../canonical.js';
import { jsonWithShared, shareJson } from '../policy/shared-json.js';

export interface DecisionEventV1 {
  type: 'decision';
  v: 1;
  decisionId: string;
  at: string;
  /** graphwarden's request id (the HTTP request; shared by the items of one $batch). */
  requestId?: string;
  /** The agent's client-request-id header, when sent. */
  clientRequestId?: string;
  /** The $batch item id, for batch items. */
  batchItemId?: string;
  /** Microseconds spent deciding (gather + evaluate), for the latency record. */
  decisionMicros?: number;
  decision: Decision;
  facts: DecisionFacts;
  /** Present only when configured (audit.include.token / audit.include.body). */
  sensitive?: { token?: string; body?: string };
}

/** An event of the approvals workflow, appended to the same chain so `explain` shows it with the decision. */
export interface ApprovalEventV1 {
  type: 'approval';
  /** Format version; absent means 1 (the approvals module's events are appended as they are). */
  v?: 1;
  approvalId: string;
  decisionId?: string;
  /** e.g. requested, approved, denied, expired, used, abandoned, override-created, override-expired. */
  action: string;
  /** Who acted: an approver's identity, or `graphwarden` for automatic transitions. */
  actor: string;
  justification?: string;
  at: string;
  /** Small, non-secret details (approver count, expiry time...). */
  details?: Record<string, string | number | boolean | null>;
}

/** A policy lifecycle event: which rules revision came into force, or a change that was refused. */
export interface RulesEventV1 {
  type: 'rules';
  v: 1;
  action: 'loaded' | 'reload-failed';
  revision?: string;
  errors?: string[];
  at: string;
}

export type AuditEvent = DecisionEventV1 | ApprovalEventV1 | RulesEventV1;

export interface AuditPrivacyOptions {
  /** Record the raw bearer token. Default false; enabling it makes the log a store of live credentials. */
  includeToken?: boolean;
  /** Record the request body. Default false; bodies carry personal data. */
  includeBody?: boolean;
  /**
   * Replace user principal names by a keyed-less sha256 pseudonym (`upn-sha256:…`). User object ids are
   * kept: they are what rules match and auditors look up. Default false.
   */
  pseudonymiseUserPrincipalName?: boolean;
}

export interface DecisionEventInput {
  facts: DecisionFacts;
  decision: Decision;
  requestId?: string;
  clientRequestId?: string;
  batchItemId?: string;
  decisionMicros?: number;
  /** Offered by the caller; kept only if the privacy options allow. */
  token?: string;
  body?: string;
}

export function buildDecisionEvent(input: DecisionEventInput, privacy: AuditPrivacyOptions = {}): DecisionEventV1 {
  let facts = input.facts;
  if (privacy.pseudonymiseUserPrincipalName && facts.agent.userPrincipalName !== undefined) {
    facts = { ...facts, agent: { ...facts.agent, userPrincipalName: `upn-sha256:${sha256Hex(facts.agent.userPrincipalName.toLowerCase())}` } };
  }
  const ev: DecisionEventV1 = {
    type: 'decision',
    v: 1,
    decisionId: input.decision.id,
    at: facts.at,
    decision: input.decision,
    facts,
  };
  if (input.requestId !== undefined) ev.requestId = input.requestId;
  if (input.clientRequestId !== undefined) ev.clientRequestId = input.clientRequestId;
  if (input.batchItemId !== undefined) ev.batchItemId = input.batchItemId;
  if (input.decisionMicros !== undefined) ev.decisionMicros = input.decisionMicros;
  const sensitive: { token?: string; body?: string } = {};
  if (privacy.includeToken && input.token !== undefined) sensitive.token = input.token;
  if (privacy.includeBody && input.body !== undefined) sensitive.body = input.body;
  if (Object.keys(sensitive).length > 0) ev.sensitive = sensitive;
  return ev;
}

/**
 * The facts of one decision as JSON text, serialised once for both uses on the request path: `digest` is
 * exactly the text `factsDigest()` hashes (the facts without the user principal name), `record` is the
 * text the audit record stores (with the name, pseudonymised when configured). Members keep the facts'
 * own order, so `record` is byte-identical to `JSON.stringify(facts)` and replay re-derives `digest`
 * from the parsed record. Pure (the remembered texts of shared, frozen parts are a cache, not state).
 */
export interface FactsJson {
  digest: string;
  record: string;
}

export function serialiseFacts(facts: DecisionFacts): FactsJson {
  // Parts shared between decisions (token, agent, permission lists, snapshot) carry their text already.
  // Depth 2: parts built afresh for a call (a body's target, its permission facts) still hold shared lists.
  const record = jsonWithShared(facts, 2);
  if (facts.agent.userPrincipalName === undefined) return { digest: record, record };
  return { digest: jsonWithShared({ ...facts, agent: agentForDigest(facts.agent) }, 2), record };
}

// The agent without its user principal name (what the facts digest covers), once per shared agent.
const digestAgents = new WeakMap<DecisionFacts['agent'], DecisionFacts['agent']>();
function agentForDigest(agent: DecisionFacts['agent']): DecisionFacts['agent'] {
  let d = digestAgents.get(agent);
  if (!d) {
    const { userPrincipalName: _upn, ...rest } = agent;
    d = Object.isFrozen(agent) ? shareJson(rest) : rest;
    digestAgents.set(agent, d);
  }
  return d;
}

/**
 * The JSON text of a decision event, given its facts' record text (`serialiseFacts(event.facts).record`):
 * byte-identical to `JSON.stringify(event)` (same members, same order), without serialising the facts a
 * second time, nor the rules' match entries (shared, see decide.ts). The audit log hashes the exact text it writes, so the chain does not depend on this
 * equality; replay and `explain` only need the text to parse back to the event.
 */
export function decisionEventJson(ev: DecisionEventV1, factsRecordJson: string): string {
  let text = `{"type":"decision","v":1,"decisionId":${JSON.stringify(ev.decisionId)},"at":${JSON.stringify(ev.at)},"decision":${jsonWithShared(ev.decision, 2)},"facts":${factsRecordJson}`;
  if (ev.requestId !== undefined) text += `,"requestId":${JSON.stringify(ev.requestId)}`;
  if (ev.clientRequestId !== undefined) text += `,"clientRequestId":${JSON.stringify(ev.clientRequestId)}`;
  if (ev.batchItemId !== undefined) text += `,"batchItemId":${JSON.stringify(ev.batchItemId)}`;
  if (ev.decisionMicros !== undefined) text += `,"decisionMicros":${JSON.stringify(ev.decisionMicros)}`;
  if (ev.sensitive !== undefined) text += `,"sensitive":${JSON.stringify(ev.sensitive)}`;
  return `${text}}`;
}

/**
 * `buildDecisionEvent()` plus the event's JSON text for the audit log, reusing the facts text the caller
 * already serialised for the facts digest. When the privacy options changed the facts (a pseudonymised
 * user principal name), the changed facts are serialised afresh: the record never holds the raw name.
 */
export function buildDecisionRecord(
  input: DecisionEventInput,
  privacy: AuditPrivacyOptions = {},
  factsJson?: FactsJson,
): { event: DecisionEventV1; json: string } {
  const event = buildDecisionEvent(input, privacy);
  const record = factsJson && event.facts === input.facts ? factsJson.record : serialiseFacts(event.facts).record;
  return { event, json: decisionEventJson(event, record) };
}

/**
 * Sensitive for fail-closed purposes: anything that is not a plain allowed read of user data — changes,
 * control- or management-plane operations, unknown operations and every non-allow verdict.
 */
export function isSensitive(facts: DecisionFacts, decision: Decision): boolean {
  return (
    decision.effect !== 'allow' ||
    facts.operation.action !== 'read' ||
    facts.operation.tier === 'control-plane' ||
    facts.operation.tier === 'management-plane' ||
    !facts.operation.known
  );
}
