/**
 * The audit event types and the builder of decision events. Owns the field allowlist: an event holds
 * exactly the fields below, copied one by one, never a spread of request or token objects. Tokens and
 * bodies are included only when configured. Does not write anything (log.ts does).
 */
import type { Decision } from '../decision/decide.js';
import type { DecisionFacts } from '../policy/inputs.js';
import { createHash } from 'node:crypto';
import type { Hash } from 'node:crypto';
import { sha256Hex } from '../canonical.js';
import { isShared, jsonWithShared, quotedJson, shareJson } from '../policy/shared-json.js';
import { factsDigestOfJson } from '../decision/decide.js';

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

/**
 * The compact form of a decision event in the log: the facts' parts that repeat between calls are not
 * repeated in it but named by `facts.head`, the id of a `facts-head` event earlier in the file. Expanded
 * (`expandDecision`), it is the `DecisionEventV1` it was made from, member for member.
 */
export interface DecisionEventV2 extends Omit<DecisionEventV1, 'v' | 'facts'> {
  v: 2;
  facts: { head: string; at: string; risk: DecisionFacts['risk'] };
}

/**
 * The facts' parts that many decisions share (agent, token, operation, target, permissions, directory),
 * written once per process before the first record that names them. `id` is `sha256:` + sha256 of the
 * JSON text of `head`, so the reference is checked by its content.
 */
export interface FactsHeadEventV1 {
  type: 'facts-head';
  v: 1;
  id: string;
  head: Omit<DecisionFacts, 'at' | 'risk'>;
}

export type AuditEvent = DecisionEventV1 | DecisionEventV2 | FactsHeadEventV1 | ApprovalEventV1 | RulesEventV1;

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

// The agent with its user principal name pseudonymised, once per shared agent part: shared in turn, so the
// record's facts keep every part shared and serialise through the remembered head (serialiseFacts).
const pseudonymisedAgents = new WeakMap<DecisionFacts['agent'], DecisionFacts['agent']>();
function pseudonymisedAgent(agent: DecisionFacts['agent'], upn: string): DecisionFacts['agent'] {
  let p = pseudonymisedAgents.get(agent);
  if (!p) {
    p = { ...agent, userPrincipalName: `upn-sha256:${sha256Hex(upn.toLowerCase())}` };
    if (isShared(agent)) {
      p = shareJson(p);
      pseudonymisedAgents.set(agent, p);
    }
  }
  return p;
}

export function buildDecisionEvent(input: DecisionEventInput, privacy: AuditPrivacyOptions = {}): DecisionEventV1 {
  let facts = input.facts;
  const upn = facts.agent.userPrincipalName;
  if (privacy.pseudonymiseUserPrincipalName && upn !== undefined) {
    facts = { ...facts, agent: pseudonymisedAgent(facts.agent, upn) };
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
 * The facts of one decision serialised once for both uses on the request path: `factsDigest` is exactly
 * `factsDigest(facts)` (sha256 of the facts' text without the user principal name), `record` is the
 * text the audit record stores (with the name, pseudonymised when configured). Members keep the facts'
 * own order, so `record` is byte-identical to `JSON.stringify(facts)` and replay re-derives the digest
 * from the parsed record. Pure (remembered texts and hash states of shared, frozen parts are a cache).
 */
export interface FactsJson {
  factsDigest: string;
  record: string;
  /** When the facts' repeated parts are shared: the head event and what follows it (`,"at":…,"risk":…}`). */
  head?: { event(): FactsHeadJson; tail: string };
}

// The members of facts as gatherFacts builds them: the parts shared between calls, then the decision
// time and risk, which change with every call. For one combination of shared parts the text up to the
// time, and the digest's hash state over it, are the same call after call: they are remembered.
const SHARED_MEMBERS = ['v', 'agent', 'token', 'operation', 'target', 'permissions', 'directory'] as const;
const MEMBER_ORDER = [...SHARED_MEMBERS, 'at', 'risk'];

interface SharedHead {
  /** `{"v":1,"agent":…,…,"directory":…` as the record has it. */
  record: string;
  /** sha256 state over the same text with the agent's user principal name left out. */
  digest: Hash;
  /**
   * The last tail digested over this head and its facts digest: calls made on the same parts within the
   * same millisecond (the time's resolution) with the same risk have the same facts, so the same digest.
   */
  lastTail?: string;
  lastDigest?: string;
  /** The head as a `facts-head` event (made when a compact record first needs it). */
  event?: FactsHeadJson;
}

/** A `facts-head` event's id and JSON text. */
export interface FactsHeadJson {
  id: string;
  json: string;
}

type HeadLevel = WeakMap<object, HeadLevel | SharedHead>;
const heads: HeadLevel = new WeakMap();
const NO_DIRECTORY = {};

function sharedHead(facts: DecisionFacts): SharedHead | undefined {
  if (facts.v !== 1 || !isShared(facts.agent) || !isShared(facts.token) || !isShared(facts.operation) || !isShared(facts.target) || !isShared(facts.permissions)) return undefined;
  if (facts.directory !== null && !isShared(facts.directory)) return undefined;
  const keys = Object.keys(facts);
  if (keys.length !== MEMBER_ORDER.length || keys.some((k, i) => k !== MEMBER_ORDER[i])) return undefined;
  let level = heads;
  for (const m of ['agent', 'token', 'operation', 'target', 'permissions'] as const) {
    let next = level.get(facts[m]) as HeadLevel | undefined;
    if (!next) level.set(facts[m], (next = new WeakMap()));
    level = next;
  }
  const dirKey = facts.directory ?? NO_DIRECTORY;
  let head = level.get(dirKey) as SharedHead | undefined;
  if (!head) {
    const text = (f: DecisionFacts) => {
      let out = '{"v":1';
      for (const m of SHARED_MEMBERS) if (m !== 'v') out += `,${JSON.stringify(m)}:${jsonWithShared(f[m], 0)}`;
      return out;
    };
    const record = text(facts);
    const digestText = facts.agent.userPrincipalName === undefined ? record : text({ ...facts, agent: agentForDigest(facts.agent) });
    head = { record, digest: createHash('sha256').update(digestText) };
    level.set(dirKey, head);
  }
  return head;
}

export function serialiseFacts(facts: DecisionFacts): FactsJson {
  const head = sharedHead(facts);
  if (head) {
    const tail = `,"at":${JSON.stringify(facts.at)},"risk":${jsonWithShared(facts.risk, 1)}}`;
    const shared = head;
    const event = (): FactsHeadJson => {
      if (!shared.event) {
        const text = `${shared.record}}`;
        const id = `sha256:${sha256Hex(text)}`;
        shared.event = { id, json: `{"type":"facts-head","v":1,"id":"${id}","head":${text}}` };
      }
      return shared.event;
    };
    // Hash.copy() makes a Hash object, the largest cost of serialising a repeated call's facts.
    let factsDigest = head.lastTail === tail ? head.lastDigest : undefined;
    if (factsDigest === undefined) {
      factsDigest = `sha256:${head.digest.copy().update(tail).digest('hex')}`;
      head.lastTail = tail;
      head.lastDigest = factsDigest;
    }
    return { record: head.record + tail, factsDigest, head: { event, tail } };
  }
  // Shared parts carry their text already; depth 2 reuses the shared lists inside parts that are not
  // shared (under a view that does not cache its answers, or facts in another order).
  const record = jsonWithShared(facts, 2);
  if (facts.agent.userPrincipalName === undefined) return { factsDigest: factsDigestOfJson(record), record };
  return { factsDigest: factsDigestOfJson(jsonWithShared({ ...facts, agent: agentForDigest(facts.agent) }, 2)), record };
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

// A decision's members in the order decide() makes them: the required ones, then the optional ones.
const DECISION_REQUIRED = ['id', 'effect', 'enforced', 'mode', 'reasonCode', 'matches', 'rulesRevision', 'factsDigest'] as const;
const DECISION_MEMBERS = [...DECISION_REQUIRED, 'ruleId', 'wouldBe', 'approval'] as const;

/**
 * `JSON.stringify(decision)`, byte for byte. A decision as decide() makes it is written member by member
 * with the recurring strings' quoted text remembered and the shared match entries' text reused (the
 * generic walk cost about twice the time and three times the garbage); anything else — members in
 * another order, a member this writer does not know — takes the generic walk.
 */
export function decisionJson(d: Decision): string {
  let i = 0;
  for (const key in d) {
    // Skip optional members the decision does not have, in order; anything unexpected ends the fast path.
    while (i < DECISION_MEMBERS.length && DECISION_MEMBERS[i] !== key && i >= DECISION_REQUIRED.length) i++;
    if (DECISION_MEMBERS[i] !== key || (d as unknown as Record<string, unknown>)[key] === undefined) return jsonWithShared(d, 2);
    i++;
  }
  if (i < DECISION_REQUIRED.length) return jsonWithShared(d, 2);
  let text = `{"id":${JSON.stringify(d.id)},"effect":${quotedJson(d.effect)},"enforced":${quotedJson(d.enforced)},"mode":${quotedJson(d.mode)},"reasonCode":${quotedJson(d.reasonCode)},"matches":${jsonWithShared(d.matches, 1)},"rulesRevision":${quotedJson(d.rulesRevision)},"factsDigest":${JSON.stringify(d.factsDigest)}`;
  if (d.ruleId !== undefined) text += `,"ruleId":${quotedJson(d.ruleId)}`;
  if (d.wouldBe !== undefined) text += `,"wouldBe":${quotedJson(d.wouldBe)}`;
  if (d.approval !== undefined) text += `,"approval":${quotedJson(d.approval)}`;
  return `${text}}`;
}

/**
 * The JSON text of a decision event, given its facts' record text (`serialiseFacts(event.facts).record`):
 * byte-identical to `JSON.stringify(event)` (same members, same order), without serialising the facts a
 * second time, nor the rules' match entries (shared, see decide.ts). The audit log hashes the exact text
 * it writes, so the chain does not depend on this equality; replay and `explain` only need the text to
 * parse back to the event.
 */
export function decisionEventJson(ev: DecisionEventV1, factsRecordJson: string, v: 1 | 2 = 1): string {
  let text = `{"type":"decision","v":${v},"decisionId":${JSON.stringify(ev.decisionId)},"at":${JSON.stringify(ev.at)},"decision":${decisionJson(ev.decision)},"facts":${factsRecordJson}`;
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
): { event: DecisionEventV1; json: string; requires?: FactsHeadJson } {
  const event = buildDecisionEvent(input, privacy);
  const facts = factsJson && event.facts === input.facts ? factsJson : serialiseFacts(event.facts);
  if (!facts.head) return { event, json: decisionEventJson(event, facts.record) };
  // Compact: the record names the shared head, which the log writes before it once (AppendOptions.requires).
  const head = facts.head.event();
  return { event, json: decisionEventJson(event, `{"head":"${head.id}"${facts.head.tail}`, 2), requires: head };
}

/**
 * A decision event as the log holds it, made whole: a compact (v2) event's facts rebuilt from the head it
 * names, member for member as they were decided on (the head's members, then the time and risk), so its
 * facts digest and replay hold as for an event written whole (and show it when the head was edited).
 * Returns undefined when `head` is not the one the event names.
 */
export function expandDecision(event: DecisionEventV1 | DecisionEventV2, head?: FactsHeadEventV1): DecisionEventV1 | undefined {
  if (event.v !== 2) return event;
  if (!head || head.id !== event.facts.head) return undefined;
  // Spread first: `v` and `facts` keep their places among the members.
  return { ...event, v: 1, facts: { ...head.head, at: event.facts.at, risk: event.facts.risk } };
}

/** The id a `facts-head` event's content gives (what a compact decision names). */
export function factsHeadId(head: FactsHeadEventV1['head']): string {
  // `?? ''`: a record altered to hold no head must be reported, not crash the verifier.
  return `sha256:${sha256Hex(JSON.stringify(head) ?? '')}`;
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
