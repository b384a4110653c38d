/**
 * The one precedence table: block > approve > alert > allow. Owns only the ordering of effects;
 * which rules match is policy/, what a mode does is decide.ts.
 */
import type { Effect } from '../policy/compile.js';

export const PRECEDENCE: Readonly<Record<Effect, number>> = Object.freeze({ allow: 0, alert: 1, approve: 2, block: 3 });

/** The stronger of two effects. */
export function stronger(a: Effect, b: Effect): Effect {
  return PRECEDENCE[b] > PRECEDENCE[a] ? b : a;
}
