/**
 * The compiled permission map: Microsoft's permissions.json (plus our supplement) folded into a segment
 * trie keyed by canonical lower-cased literals and `{id}` wildcards, with the permissions and tier of each
 * (template, method) precomputed. Pure: takes parsed documents, returns the index; loading is in load.ts.
 */
import { deepFreeze } from '../canonical.js';
import { callKey, parseCall } from './canonical.js';
import type { Scheme, SchemePermissions, Tier } from './operation.js';
import { maxTier } from './operation.js';
import { raiseTier } from './target.js';

export const SCHEMES: readonly Scheme[] = ['Application', 'DelegatedWork'];

/** One compiled (template, method). */
export interface OpEntry {
  template: string;
  method: string;
  permissions: Record<Scheme, SchemePermissions>;
  /** Tier of the least permissions (max over schemes), raised by what the template targets. */
  baseTier: Tier;
  /** POST to something that is not a collection (no GET at the same template): an action. */
  invoke: boolean;
}

export interface TrieNode {
  lit: Map<string, TrieNode>;
  wild: TrieNode | null;
  colon: TrieNode | null;
  ops: Map<string, OpEntry> | null;
  /** Canonical template of this node, set when the node carries operations. */
  template: string | null;
}

export interface CompiledIndex {
  root: TrieNode;
  /** Content hash of the inputs and compiler version. */
  version: string;
  stats: { templates: number; pairs: number; skipped: string[]; supplementPairs: number };
}

/** Kibali permissions document (graph-facts §1.2), only the fields we read. */
export interface PermissionsDocument {
  permissions: Record<
    string,
    {
      authorizationType?: string;
      schemes?: Partial<Record<string, { privilegeLevel?: number }>>;
      pathSets?: Array<{ schemeKeys: string[]; methods: string[]; paths: Record<string, string> }>;
    }
  >;
}

/** Our supplement (data/graph-permissions/supplement.json): operations the map lacks. */
export interface SupplementDocument {
  operations: Array<{
    method: string;
    path: string;
    rationale: string;
    source: string;
    permissions: Partial<Record<Scheme, Array<{ name: string; least?: boolean; alsoRequires?: string[] }>>>;
  }>;
}

/** Permission name → EAM tier, per scheme (Classification_MsGraphAppRoles.json / ..Scopes.json). */
export type TierTable = Record<Scheme, Map<string, Tier>>;

export type TemplateToken = { t: 'lit'; key: string; render: string } | { t: 'wild' } | { t: 'colon' };

// `{id}}` occurs in the map (a typo for `{id}`); it is still a placeholder.
const PLACEHOLDER = /^\{[^{}]*\}+$/;
const QUOTED_PLACEHOLDER = /^'?\{[^{}]*\}'?$/;

/**
 * Repairs three typo shapes found in the map (graph-facts §1.4 lists the map's flaws):
 * `itemat(index={value})range` for `itemAt(index={value})/range`, `subjectrightsrequests{id}` for
 * `subjectrightsrequests/{id}`, and `directoryroles/roletemplateid={x}` for `directoryroles(roletemplateid={x})`.
 */
export function repairTemplateSegments(segs: string[]): string[] {
  const out: string[] = [];
  for (const seg of segs) {
    const call = /^([^()]+\([^()]*\))([A-Za-z]+)$/.exec(seg);
    const glued = /^([A-Za-z]+)(\{[^{}]*\})$/.exec(seg);
    if (call) out.push(call[1]!, call[2]!);
    else if (glued) out.push(glued[1]!, glued[2]!);
    else if (/^(appid|roletemplateid|userprincipalname)=\{[^{}]*\}$/i.test(seg) && out.length && !out[out.length - 1]!.includes('(')) out[out.length - 1] += `(${seg})`;
    else out.push(seg);
  }
  return out;
}

/**
 * Tokenises a map path template the way canonicalize() tokenises a request, so both land on the same
 * trie keys: literals lower-cased (the map mixes case, §1.4), any `{name}` a wildcard, `x({id})` an
 * OData key, `x(k={value})` a named-parameter segment, `root:/{id}:` a drive item path.
 * Returns null for templates we cannot represent (the two that embed a `?$filter=`).
 */
export function tokenizeTemplate(path: string): TemplateToken[] | null {
  if (path.indexOf('?') >= 0) return null;
  let p = path;
  if (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
  const segs = repairTemplateSegments(p.split('/').slice(1));
  const out: TemplateToken[] = [];
  const pushSeg = (seg: string): boolean => {
    if (PLACEHOLDER.test(seg) || /^\([^()]*\)$/.test(seg)) {
      out.push({ t: 'wild' });
      return true;
    }
    if (seg.indexOf('(') >= 0 && seg.endsWith(')')) {
      const call = parseCall(seg.replace(/=\{[^{}]*\}/g, '=v'));
      if (!call) return false;
      if (call.key !== null) {
        if (!QUOTED_PLACEHOLDER.test(call.key) && !PLACEHOLDER.test(call.key)) return false;
        out.push({ t: 'lit', key: call.name.toLowerCase(), render: call.name.toLowerCase() }, { t: 'wild' });
      } else if (call.args.length === 0) {
        out.push({ t: 'lit', key: call.name.toLowerCase(), render: call.name.toLowerCase() });
      } else {
        const names = call.args.map((a) => a[0].toLowerCase()).sort();
        out.push({ t: 'lit', key: callKey(call.name, names), render: `${call.name.toLowerCase()}(${names.map((n) => `${n}={value}`).join(',')})` });
      }
      return true;
    }
    if (seg === '') return false;
    out.push({ t: 'lit', key: seg.toLowerCase(), render: seg.toLowerCase() });
    return true;
  };
  for (let i = 0; i < segs.length; i++) {
    const seg = segs[i]!;
    if (seg.length > 1 && seg.endsWith(':')) {
      if (!pushSeg(seg.slice(0, -1))) return null;
      // Consume the item path up to the closing colon; without one, the single next segment.
      let j = i + 1;
      while (j < segs.length && !segs[j]!.endsWith(':')) j++;
      i = j < segs.length ? j : i + 1;
      out.push({ t: 'colon' });
      continue;
    }
    if (!pushSeg(seg)) return null;
  }
  return out;
}

export function renderTemplate(tokens: TemplateToken[]): string {
  const parts: string[] = [];
  for (const tok of tokens) {
    if (tok.t === 'lit') parts.push(tok.render);
    else if (tok.t === 'wild') parts.push('{id}');
    else parts[parts.length - 1] = `${parts[parts.length - 1] ?? ''}:/{path}:`;
  }
  return '/' + parts.join('/');
}

function newNode(): TrieNode {
  return { lit: new Map(), wild: null, colon: null, ops: null, template: null };
}

interface PermAcc {
  level: number;
  least: boolean;
  also: Set<string> | null;
}
type Acc = Map<string /* method */, Record<Scheme, Map<string, PermAcc>>>;

function parseMarker(value: string): { least: Set<string>; also: string[] } {
  const least = new Set<string>();
  let also: string[] = [];
  for (const part of value.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const k = part.slice(0, eq).trim().toLowerCase();
    const v = part.slice(eq + 1).split(',').map((s) => s.trim()).filter(Boolean);
    if (k === 'least') for (const s of v) least.add(s);
    else if (k === 'alsorequires') also = v;
  }
  return { least, also };
}

/** Orders and narrows one scheme's accumulated permissions (graph-facts §1.3 caveats 1 and 2). */
function finalizeScheme(acc: Map<string, PermAcc>, read: boolean): SchemePermissions {
  const entries = [...acc.entries()];
  entries.sort((a, b) => Number(b[1].least) - Number(a[1].least) || a[1].level - b[1].level || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const marked = entries.filter((e) => e[1].least);
  // Several "least" markers: keep the lowest privilegeLevel; none at all: the lowest level overall.
  const pool = marked.length ? marked : entries;
  const minLevel = Math.min(...pool.map((e) => e[1].level));
  let least = pool.filter((e) => e[1].level === minLevel).map((e) => e[0]);
  // A pathSet's "least" covers all its methods (caveat 1), so GET /groups is "least" for a ReadWrite
  // permission too; for a read, a read-only permission at the same level is the less privileged one.
  if (read && least.some((p) => !/write/i.test(p))) least = least.filter((p) => !/write/i.test(p));
  const leastSet = new Set(least);
  const ordered = [...entries.filter((e) => leastSet.has(e[0])), ...entries.filter((e) => !leastSet.has(e[0]))];
  return {
    anyOf: ordered.map((e) => e[0]),
    least,
    alsoRequires: ordered.map((e) => (e[1].also ? [...e[1].also] : [])),
  };
}

export const COMPILER_VERSION = 'classify-map/1';

/** Builds the trie. `version` is supplied by the caller (a hash of the inputs). */
export function compileIndex(doc: PermissionsDocument, supplement: SupplementDocument, tiers: TierTable, version: string): CompiledIndex {
  const root = newNode();
  const accs = new Map<TrieNode, Acc>();
  const skipped: string[] = [];
  const levels = new Map<string, Partial<Record<Scheme, number>>>();
  for (const [name, perm] of Object.entries(doc.permissions)) {
    const l: Partial<Record<Scheme, number>> = {};
    for (const s of SCHEMES) {
      const lv = perm.schemes?.[s]?.privilegeLevel;
      if (typeof lv === 'number') l[s] = lv;
    }
    levels.set(name, l);
  }
  // The same path string recurs under many permissions: tokenise and insert it once.
  const nodeCache = new Map<string, TrieNode | null>();
  const markerCache = new Map<string, ReturnType<typeof parseMarker>>();
  const nodeFor = (path: string): TrieNode | null => {
    let cachedNode = nodeCache.get(path);
    if (cachedNode === undefined) nodeCache.set(path, (cachedNode = insert(path)));
    return cachedNode;
  };
  const insert = (path: string): TrieNode | null => {
    const toks = tokenizeTemplate(path);
    if (!toks) return null;
    let node = root;
    for (const tok of toks) {
      if (tok.t === 'lit') {
        let next = node.lit.get(tok.key);
        if (!next) node.lit.set(tok.key, (next = newNode()));
        node = next;
      } else if (tok.t === 'wild') node = node.wild ??= newNode();
      else node = node.colon ??= newNode();
    }
    node.template ??= renderTemplate(toks);
    return node;
  };
  const add = (node: TrieNode, method: string, scheme: Scheme, perm: string, least: boolean, also: string[]): void => {
    let acc = accs.get(node);
    if (!acc) accs.set(node, (acc = new Map()));
    let m = acc.get(method);
    if (!m) acc.set(method, (m = { Application: new Map(), DelegatedWork: new Map() }));
    const level = levels.get(perm)?.[scheme] ?? 5;
    const prev = m[scheme].get(perm);
    if (!prev) {
      m[scheme].set(perm, { level, least, also: also.length ? new Set(also) : null });
      return;
    }
    // The same permission listed twice (case-variant duplicates, §1.4): least if either says so;
    // an AlsoRequires anywhere is kept (conservative).
    prev.least ||= least;
    if (also.length) {
      prev.also ??= new Set();
      for (const a of also) prev.also.add(a);
    }
  };
  for (const [name, perm] of Object.entries(doc.permissions)) {
    for (const ps of perm.pathSets ?? []) {
      const schemes = ps.schemeKeys.filter((s): s is Scheme => s === 'Application' || s === 'DelegatedWork');
      if (!schemes.length) continue;
      for (const [path, marker] of Object.entries(ps.paths)) {
        const node = nodeFor(path);
        if (!node) {
          if (!skipped.includes(path)) skipped.push(path); // two paths: the list stays tiny
          continue;
        }
        let parsed = markerCache.get(marker);
        if (!parsed) markerCache.set(marker, (parsed = parseMarker(marker)));
        const { least, also } = parsed;
        for (const method of ps.methods) {
          for (const s of schemes) add(node, method.toUpperCase(), s, name, least.has(s), also);
        }
      }
    }
  }
  let supplementPairs = 0;
  for (const op of supplement.operations) {
    const node = nodeFor(op.path);
    if (!node) throw new Error(`supplement path cannot be compiled: ${op.path}`);
    supplementPairs++;
    for (const s of SCHEMES) {
      for (const p of op.permissions[s] ?? []) add(node, op.method.toUpperCase(), s, p.name, p.least === true, p.alsoRequires ?? []);
    }
  }
  let templates = 0;
  let pairs = 0;
  for (const [node, acc] of accs) {
    templates++;
    node.ops = new Map();
    for (const [method, perSchemes] of acc) {
      pairs++;
      // Shared by every Operation that matches this entry: frozen so no consumer can change the map.
      const permissions = deepFreeze({
        Application: finalizeScheme(perSchemes.Application, method === 'GET'),
        DelegatedWork: finalizeScheme(perSchemes.DelegatedWork, method === 'GET'),
      });
      let baseTier: Tier = 'unknown';
      for (const s of SCHEMES) {
        for (const p of permissions[s].least) {
          const t = tiers[s].get(p);
          if (t) baseTier = maxTier(baseTier, t);
        }
      }
      if (baseTier === 'unknown') {
        // No tier data for the least permissions: fall back to any acceptable permission, then to the method.
        for (const s of SCHEMES) for (const p of permissions[s].anyOf) {
          const t = tiers[s].get(p);
          if (t) baseTier = maxTier(baseTier, t);
        }
      }
      if (baseTier === 'unknown') baseTier = method === 'GET' ? 'user-data' : 'management-plane';
      const invoke = method === 'POST' && !acc.has('GET') && !node.template!.endsWith('/$ref');
      const action = method === 'GET' ? 'read' : method === 'POST' ? (invoke ? 'invoke' : 'create') : method === 'DELETE' ? 'delete' : 'update';
      node.ops.set(method, {
        template: node.template!,
        method,
        permissions,
        baseTier: raiseTier(baseTier, node.template!, action, []),
        invoke,
      });
    }
  }
  return { root, version, stats: { templates, pairs, skipped, supplementPairs } };
}
