/**
 * Walks canonical path tokens down the compiled trie: a literal beats a wildcard, one step per segment,
 * no backtracking (like Graph's own OData routing, and kibali's Lookup). Owns the few documented
 * fallbacks ($ref/$value/$count stripped in the map, alternate keys, /me); does not build Operations. Pure.
 */
import type { PathToken } from './canonical.js';
import type { OpEntry, TrieNode } from './map.js';

/** How each token was matched: `lit` (a name in the map), `key` (an id under a wildcard), `colon`. */
export type MatchKind = 'lit' | 'key' | 'colon';

export interface LookupHit {
  entry: OpEntry;
  /** The tokens actually matched (after fallbacks) with how each matched. */
  tokens: PathToken[];
  kinds: MatchKind[];
}

const NS = 'microsoft.graph.';
/** Alternate keys Graph documents for directory objects (graph-facts §4.2), plus an explicit `id=`. */
const SPLITTABLE_KEYS = new Set(['appid', 'roletemplateid', 'userprincipalname', 'id']);

/** Walks one token list; alternate-key calls (`x(appid=…)`) are split into `x` + key when `splitCalls`. */
function walk(root: TrieNode, tokens: PathToken[], splitCalls: boolean): { node: TrieNode; kinds: MatchKind[]; tokens: PathToken[] } | null {
  let node = root;
  const kinds: MatchKind[] = [];
  const used: PathToken[] = [];
  for (const tok of tokens) {
    let next: TrieNode | null | undefined;
    switch (tok.kind) {
      case 'name': {
        const k = tok.key;
        next = node.lit.get(k);
        if (next) {
          kinds.push('lit');
          break;
        }
        // `/delta` is a shortcut for `/microsoft.graph.delta` (delta-query-overview.md): accept either spelling.
        next = k.startsWith(NS) ? node.lit.get(k.slice(NS.length)) : node.lit.get(NS + k);
        if (next) {
          kinds.push('lit');
          break;
        }
        // `$ref`, `$value`, … and namespace-qualified casts are never ids.
        if (k.charCodeAt(0) === 0x24 || k.startsWith(NS)) return null;
        next = node.wild;
        kinds.push('key');
        break;
      }
      case 'value':
        next = node.wild;
        kinds.push('key');
        break;
      case 'call': {
        next = splitCalls ? undefined : node.lit.get(tok.key);
        if (next) {
          kinds.push('lit');
          break;
        }
        // A known alternate key the map does not list under this name: address it like the id form.
        // Other single parameters are not guessed at (the id would be wrong): the call stays unknown.
        if (tok.args.length !== 1 || !SPLITTABLE_KEYS.has(tok.args[0]![0].toLowerCase())) return null;
        const named = node.lit.get(tok.name.toLowerCase());
        if (!named?.wild) return null;
        used.push({ kind: 'name', text: tok.name, key: tok.name.toLowerCase() }, tok);
        kinds.push('lit', 'key');
        node = named.wild;
        continue;
      }
      case 'colon':
        next = node.colon;
        kinds.push('colon');
        break;
    }
    if (!next) return null;
    used.push(tok);
    node = next;
  }
  return { node, kinds, tokens: used };
}

function find(root: TrieNode, tokens: PathToken[], method: string): LookupHit | null {
  const m = method === 'HEAD' ? 'GET' : method;
  for (const split of [false, true]) {
    if (split && !tokens.some((t) => t.kind === 'call')) break;
    const w = walk(root, tokens, split);
    const entry = w?.node.ops?.get(m);
    if (w && entry) return { entry, tokens: w.tokens, kinds: w.kinds };
  }
  return null;
}

const STRIPPABLE = new Set(['$ref', '$value', '$count']);

/**
 * Finds the operation for (method, tokens). Fallbacks, each tried only when the exact form is absent:
 * a trailing `$ref`/`$value`/`$count` the map strips (§1.4: POST /applications/{id}/owners stands for
 * owners/$ref); `/me/...` looked up as `/users/{me}/...` (the map lists /me separately, §1.4).
 */
export function lookup(root: TrieNode, tokens: PathToken[], method: string, meId: string | undefined): LookupHit | null {
  const hit = find(root, tokens, method);
  if (hit) return hit;
  const last = tokens[tokens.length - 1];
  if (last?.kind === 'name' && STRIPPABLE.has(last.key) && (last.key !== '$count' || method === 'GET' || method === 'HEAD')) {
    const stripped = find(root, tokens.slice(0, -1), method);
    if (stripped) return { ...stripped, tokens: [...stripped.tokens, last], kinds: [...stripped.kinds, 'lit'] };
  }
  const first = tokens[0];
  if (first?.kind === 'name' && first.key === 'me') {
    const asUser: PathToken[] = [{ kind: 'name', text: 'users', key: 'users' }, { kind: 'value', text: meId ?? 'me' }, ...tokens.slice(1)];
    const viaUsers = lookup(root, asUser, method, meId);
    if (viaUsers) {
      // Report the path as sent (`/me/...`), matched against the /users/{id} template.
      return { ...viaUsers, tokens: [first, ...viaUsers.tokens.slice(2)], kinds: ['lit', ...viaUsers.kinds.slice(2)] };
    }
  }
  return null;
}
