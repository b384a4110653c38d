/**
 * `decide()`: facts + compiled policy → one `Decision`. Pure: no clock, no ids of its own, no I/O, so the
 * same facts and rules revision always give the same decision (replay). Owns the modes (enforce/shadow,
 * global and per rule) and the approve fallback; does not own matching (policy/compile.ts) or responses.
 */
import type { DecisionFacts } from '../policy/inputs.js';
import type { CompiledPolicy, CompiledRule, Effect, Mode } from '../policy/compile.js';
import { sha256Hex } from '../canonical.js';
import { shareJson } from '../policy/shared-json.js';
import { PRECEDENCE } from './precedence.js';

export interface RuleMatch {
  ruleId: string;
  effect: Effect;
  reasonCode: string;
  reason: string;
  controls: string[];
  /** The rule is in shadow mode (its own or the global mode): recorded, not enforced. */
  shadow: boolean;
}

/**
 * How an `approve` was carried out: `hold` when an approval workflow holds the call, otherwise the
 * configured fallback (until approvals exist, or when they are switched off).
 */
export type ApprovalHandling = 'hold' | 'fallback-block' | 'fallback-alert';

export interface Decision {
  id: string;
  /** What the policy says, counting enforce-mode rules (and every rule under global shadow). */
  effect: Effect;
  /** What graphwarden does: effect after modes and the approve fallback (global shadow → allow). */
  enforced: Effect;
  mode: Mode;
  /** Reason code of the decision: the first matching rule of the winning effect, or `no-rule-matched`. */
  reasonCode: string;
  /** The rule that decided (absent when the default effect applied). */
  ruleId?: string;
  matches: RuleMatch[];
  /** Present when shadow rules or global shadow would have decided differently. */
  wouldBe?: Effect;
  approval?: ApprovalHandling;
  rulesRevision: string;
  factsDigest: string;
}

export interface DecideOptions {
  decisionId: string;
  /** true when an approval workflow is wired to hold `approve` calls; otherwise the fallback applies. */
  holdApprovals?: boolean;
  /**
   * `factsDigest(facts)` when the caller computed it already (from the facts text it also records);
   * replay never passes it, so a wrong digest here shows up as facts that no longer match on replay.
   */
  factsDigest?: string;
}

export const NO_RULE_MATCHED = 'no-rule-matched';

/**
 * Digest of the facts a decision was made on: sha256 of their JSON serialisation. Facts are built in a
 * fixed member order and JSON.parse keeps that order, so the recorded facts hash the same on replay
 * (and canonical sorting, several times slower, is not needed on the request path). The user principal
 * name is left out: it is for narratives only (rules never match on it), so an audit log that
 * pseudonymises it still replays to the same digest.
 */
export function factsDigest(facts: DecisionFacts): string {
  const { userPrincipalName: _upn, ...agent } = facts.agent;
  return factsDigestOfJson(JSON.stringify({ ...facts, agent }));
}

/**
 * The same digest from the text `factsDigest()` hashes, for a caller that serialised the facts already
 * (`serialiseFacts(facts).digest` in audit/event.ts) and reuses that text for the audit record.
 */
export function factsDigestOfJson(digestJson: string): string {
  return `sha256:${sha256Hex(digestJson)}`;
}

// A rule's match entry is the same every time it matches (per shadow flag): built once, frozen and its
// text remembered (shareJson), so decisions share it and the audit record does not serialise it again.
const matchEntries = new WeakMap<CompiledRule, { enforce?: RuleMatch; shadow?: RuleMatch }>();
function matchOf(rule: CompiledRule, shadow: boolean): RuleMatch {
  let byMode = matchEntries.get(rule);
  if (!byMode) matchEntries.set(rule, (byMode = {}));
  const key = shadow ? 'shadow' : 'enforce';
  return (byMode[key] ??= shareJson({
    ruleId: rule.id,
    effect: rule.effect,
    reasonCode: rule.reasonCode,
    reason: rule.reason,
    controls: [...rule.controls],
    shadow,
  }));
}

export function decide(facts: DecisionFacts, policy: CompiledPolicy, options: DecideOptions): Decision {
  const globalShadow = policy.settings.mode === 'shadow';
  const matches: RuleMatch[] = [];
  let enforcedEffect: Effect | undefined;
  let enforcedRule: RuleMatch | undefined;
  let anyEffect: Effect | undefined;
  let anyRule: RuleMatch | undefined;
  // Only rules whose agent and operation selectors match can match (the policy's rule index).
  const candidates = policy.candidates(facts);
  for (let i = 0; i < candidates.length; i++) {
    const { rule, rest } = candidates[i]!;
    if (!rest(facts)) continue;
    const m = matchOf(rule, globalShadow || rule.mode === 'shadow');
    matches.push(m);
    // Strictly stronger replaces, so the first rule (in file, then rule order) of the winning effect decides.
    if (anyEffect === undefined || PRECEDENCE[rule.effect] > PRECEDENCE[anyEffect]) {
      anyEffect = rule.effect;
      anyRule = m;
    }
    if (rule.mode !== 'shadow' && (enforcedEffect === undefined || PRECEDENCE[rule.effect] > PRECEDENCE[enforcedEffect])) {
      enforcedEffect = rule.effect;
      enforcedRule = m;
    }
  }
  const fallback = policy.settings.defaultEffect;
  // Under global shadow every rule counts towards what would have happened; per-rule shadow rules never
  // count towards the effect, only towards wouldBe. The default effect applies only when nothing counted.
  const effect: Effect = (globalShadow ? anyEffect : enforcedEffect) ?? fallback;
  const deciding = globalShadow ? anyRule : enforcedRule;
  const allEffect: Effect = anyEffect ?? fallback;

  let enforced: Effect = globalShadow ? 'allow' : effect;
  let approval: ApprovalHandling | undefined;
  if (enforced === 'approve') {
    approval = options.holdApprovals ? 'hold' : policy.settings.approvalFallback === 'alert' ? 'fallback-alert' : 'fallback-block';
    if (approval === 'fallback-block') enforced = 'block';
    else if (approval === 'fallback-alert') enforced = 'alert';
  }

  const decision: Decision = {
    id: options.decisionId,
    effect,
    enforced,
    mode: policy.settings.mode,
    reasonCode: deciding && deciding.effect === effect ? deciding.reasonCode : NO_RULE_MATCHED,
    matches,
    rulesRevision: policy.revision,
    factsDigest: options.factsDigest ?? factsDigest(facts),
  };
  if (deciding && deciding.effect === effect) decision.ruleId = deciding.ruleId;
  if (globalShadow ? effect !== 'allow' : allEffect !== effect) decision.wouldBe = globalShadow ? effect : allEffect;
  if (approval) decision.approval = approval;
  return decision;
}
