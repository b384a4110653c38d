/**
 * Lower-cased text of strings that recur from call to call (appIds, tenants, methods, permission names):
 * per-call comparisons that fold case run for hundreds of rules or on every call, and `toLowerCase()`
 * made a fresh string each time. Bounded: cleared when full.
 */
const lowerMemo = new Map<string, string>();

export function lowerCased(v: string): string {
  let l = lowerMemo.get(v);
  if (l === undefined) {
    if (lowerMemo.size > 4096) lowerMemo.clear();
    l = v.toLowerCase();
    lowerMemo.set(v, l);
  }
  return l;
}
