/**
 * Replaying a recorded decision: the pure core run again on the recorded facts with the recorded rules
 * revision must give the same decision. Owns the comparison; loading the revision is the caller's job.
 */
import { canonicalJson } from '../canonical.js';
import type { CompiledPolicy } from '../policy/compile.js';
import type { DecisionFacts } from '../policy/inputs.js';
import { decide, factsDigest } from './decide.js';
import type { Decision } from './decide.js';

export interface ReplayResult {
  same: boolean;
  replayed: Decision;
  /** Top-level Decision fields that differ (empty when same). */
  differences: string[];
  /** The recorded facts still hash to the recorded digest (they were not edited after the decision). */
  factsIntact: boolean;
}

export function replayDecision(recorded: { facts: DecisionFacts; decision: Decision }, policy: CompiledPolicy): ReplayResult {
  const replayed = decide(recorded.facts, policy, { decisionId: recorded.decision.id, holdApprovals: recorded.decision.approval === 'hold' });
  const keys = new Set([...Object.keys(recorded.decision), ...Object.keys(replayed)]) as Set<keyof Decision>;
  const differences = [...keys].filter((k) => canonicalJson(recorded.decision[k]) !== canonicalJson(replayed[k])).sort();
  return { same: differences.length === 0, replayed, differences, factsIntact: factsDigest(recorded.facts) === recorded.decision.factsDigest };
}
