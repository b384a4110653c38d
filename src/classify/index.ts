/**
 * The classifier: (method, raw URL, body, principal) → the Operation (and, for `$batch`, one per item).
 * Owns the public contract the proxy and policy use; does not decide, log or forward. Pure per call:
 * the compiled map is loaded once (load.ts) and never changes under a classifier.
 */
import type { Principal } from '../identity/principal.js';
import { parseBatch } from './batch.js';
import type { BatchPlan, ItemClassifier } from './batch.js';
import { canonicalize } from './canonical.js';
import type { PathToken } from './canonical.js';
import { findDuplicateKey } from './json-guard.js';
import { defaultIndex } from './load.js';
import { lookup } from './lookup.js';
import type { MatchKind } from './lookup.js';
import type { CompiledIndex, TrieNode } from './map.js';
import { emptyPermissions, maxTier } from './operation.js';
import type { Action, GraphVersion, Operation, Scheme, SchemePermissions, Tier } from './operation.js';
import { raiseTier, resolveTarget } from './target.js';

export type { Operation, OperationTarget, SchemePermissions, Tier, Action, Scheme, GraphVersion } from './operation.js';
export type { BatchPlan, BatchItem, BatchItemResponse, LocalItemResponse } from './batch.js';
export { planBatchForward, mergeBatchResponses, MAX_BATCH_ITEMS } from './batch.js';
export type { CompiledIndex } from './map.js';
export { loadIndex } from './load.js';

export interface ClassifyInput {
  /** As on the request line; classify by it, never by X-HTTP-Method-Override (Graph ignores it). */
  method: string;
  /** The raw request target as received (path + query, still percent-encoded). */
  url: string;
  /** Needed for `$batch`; for other calls it only adds related ids (a `$ref` or `@odata.bind` body). */
  body?: Buffer;
  principal?: Principal;
}

export type ClassifyErrorCode = 'GW_ERR_REQUEST_INVALID' | 'GW_ERR_REQUEST_URI_TOO_LONG' | 'GW_ERR_NOT_FOUND' | 'GW_ERR_REQUEST_BODY_TOO_LARGE';

export type ClassifyOutcome =
  | { ok: true; operation: Operation; batch?: BatchPlan }
  | { ok: false; code: ClassifyErrorCode; message: string };

export interface Classifier {
  classify(input: ClassifyInput): ClassifyOutcome;
  /** Hash of the compiled map (inputs + compiler version); audit records it with each decision. */
  readonly mapVersion: string;
}

export interface ClassifierOptions {
  /** Longest raw URL accepted (default 8192 characters); longer → GW_ERR_REQUEST_URI_TOO_LONG. */
  maxUrlLength?: number;
  /** Largest `$batch` body parsed (default 4 MiB); larger → GW_ERR_REQUEST_BODY_TOO_LARGE. */
  maxBatchBytes?: number;
  /** A compiled index (tests); default: the shipped map, compiled once per process. */
  index?: CompiledIndex;
}

export const DEFAULT_MAX_URL_LENGTH = 8192;
export const DEFAULT_MAX_BATCH_BYTES = 4 * 1024 * 1024;

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']);

function actionOf(method: string, invoke: boolean): Action {
  switch (method) {
    case 'GET':
    case 'HEAD':
      return 'read';
    case 'POST':
      return invoke ? 'invoke' : 'create';
    case 'DELETE':
      return 'delete';
    default:
      return 'update';
  }
}

/** Comma-separated list at the top level (ignores commas inside `members($select=id,displayName)`). */
function splitTopLevel(value: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i <= value.length; i++) {
    const c = value[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if ((c === ',' && depth === 0) || i === value.length) {
      const part = value.slice(start, i).trim();
      const name = part.split('(')[0]!.split(';')[0]!.trim().toLowerCase();
      if (name) out.push(name);
      start = i + 1;
    }
  }
  return out;
}

/** The token's permissions, lower-cased, computed once per Principal object (they are immutable). */
const heldCache = new WeakMap<Principal, Set<string>>();
function heldBy(principal: Principal): Set<string> {
  let held = heldCache.get(principal);
  if (!held) {
    held = new Set((principal.kind === 'app' ? principal.roles : principal.scopes).map((p) => p.toLowerCase()));
    heldCache.set(principal, held);
  }
  return held;
}

function hasPermission(perms: SchemePermissions, held: Set<string>): boolean {
  return perms.anyOf.some((p, i) => held.has(p.toLowerCase()) && (perms.alsoRequires[i]!.length === 0 || perms.alsoRequires[i]!.some((a) => held.has(a.toLowerCase()))));
}

/** How far the trie recognises an unknown path: names it knows are literals, the rest ids or names. */
function partialKinds(root: TrieNode, tokens: PathToken[]): MatchKind[] {
  let node: TrieNode | null = root;
  return tokens.map((t) => {
    if (t.kind === 'colon') {
      node = node?.colon ?? null;
      return 'colon';
    }
    if (t.kind === 'value') {
      node = node?.wild ?? null;
      return 'key';
    }
    const lit = node?.lit.get(t.key);
    if (lit) {
      node = lit;
      return 'lit';
    }
    if (t.kind === 'name' && node?.wild && t.key.charCodeAt(0) !== 0x24) {
      node = node.wild;
      return 'key';
    }
    node = null;
    return 'lit';
  });
}

function renderPath(tokens: PathToken[], kinds: MatchKind[]): string {
  const parts: string[] = [];
  tokens.forEach((t, i) => {
    if (t.kind === 'colon') parts[parts.length - 1] = `${parts[parts.length - 1] ?? ''}:/${t.text}:`;
    else if (t.kind === 'name') parts.push(kinds[i] === 'lit' ? t.key : t.text);
    // An alternate key addressed through the id form: keep it on its entity set, `applications(appId='x')`.
    else if (t.kind === 'call' && kinds[i] === 'key') parts[parts.length - 1] = `${parts[parts.length - 1] ?? ''}${t.text.slice(t.name.length)}`;
    else parts.push(t.text);
  });
  return '/' + parts.join('/');
}

const CACHE_PER_PRINCIPAL = 32;
const CACHE_MAX_URL = 1024;

/**
 * Freezes a remembered outcome (operation, target, query, related lists) so a caller that tried to change
 * a shared operation would fail loudly instead of altering later calls. The permission requirements are
 * the compiled map's own objects, shared by every call already.
 */
function freezeOutcome(outcome: ClassifyOutcome): ClassifyOutcome {
  if (outcome.ok) {
    const op = outcome.operation;
    Object.freeze(op.related.select);
    Object.freeze(op.related.expand);
    Object.freeze(op.related);
    Object.freeze(op.query);
    if (op.target.relatedIds) Object.freeze(op.target.relatedIds);
    Object.freeze(op.target);
    Object.freeze(op);
  }
  return Object.freeze(outcome);
}

export function createClassifier(opts: ClassifierOptions = {}): Classifier {
  const index = opts.index ?? defaultIndex();
  const maxUrlLength = opts.maxUrlLength ?? DEFAULT_MAX_URL_LENGTH;
  const maxBatchBytes = opts.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES;

  const classifyOne = (
    methodIn: string,
    url: string,
    body: unknown,
    principal: Principal | undefined,
    batchVersion: GraphVersion | undefined,
  ): { ok: true; operation: Operation; isBatchCall: boolean } | { ok: false; code: ClassifyErrorCode; message: string; batchFatal?: boolean } => {
    const method = methodIn.toUpperCase();
    if (!METHODS.has(method)) return { ok: false, code: 'GW_ERR_REQUEST_INVALID', message: `method '${methodIn}' is not supported` };
    const c = canonicalize(url, { maxUrlLength, ...(batchVersion ? { batchVersion } : {}) });
    if (!c.ok) return c;
    const { version, tenantSegment, tokens, query } = c.value;
    if (tenantSegment && principal && /^[0-9a-f-]{36}$/i.test(tenantSegment) && tenantSegment.toLowerCase() !== principal.tenantId.toLowerCase()) {
      return { ok: false, code: 'GW_ERR_REQUEST_INVALID', message: 'the tenant segment names a tenant other than the token’s' };
    }
    const first = tokens[0];
    const viaMe = first?.kind === 'name' && first.key === 'me';
    // Graph answers /me with app-only tokens with 400 (graph-facts §4.4); so do we, before any rule runs.
    if (viaMe && principal?.kind === 'app') {
      return { ok: false, code: 'GW_ERR_REQUEST_INVALID', message: '/me request is only valid with delegated authentication flow.' };
    }
    const meId = principal?.kind === 'delegated' ? principal.userId : undefined;
    const related = {
      select: query.$select !== undefined ? splitTopLevel(query.$select) : [],
      expand: query.$expand !== undefined ? splitTopLevel(query.$expand) : [],
    };
    const plainQuery: Record<string, string> = { ...query };
    if (tokens.length === 1 && first?.kind === 'name' && first.key === '$batch') {
      if (method !== 'POST') return { ok: false, code: 'GW_ERR_REQUEST_INVALID', message: '$batch accepts only POST' };
      const operation: Operation = {
        method,
        version,
        path: '/$batch',
        template: '/$batch',
        known: true,
        action: 'invoke',
        permissions: emptyPermissions(),
        target: { type: 'batch' },
        tier: 'user-data',
        related,
        tokenHasPermission: principal ? true : null,
        query: plainQuery,
        isBatch: true,
        ...(tenantSegment ? { tenantSegment } : {}),
      };
      return { ok: true, operation, isBatchCall: true };
    }
    const hit = lookup(index.root, tokens, method, meId);
    let operation: Operation;
    if (hit) {
      const action = actionOf(method, hit.entry.invoke);
      const target = resolveTarget({ tokens: hit.tokens, kinds: hit.kinds, query, body, meId });
      const scheme: Scheme | null = principal ? (principal.kind === 'app' ? 'Application' : 'DelegatedWork') : null;
      let tokenHasPermission: boolean | null = null;
      if (principal && scheme) tokenHasPermission = hasPermission(hit.entry.permissions[scheme], heldBy(principal));
      operation = {
        method,
        version,
        path: renderPath(hit.tokens, hit.kinds),
        template: hit.entry.template,
        known: true,
        action,
        permissions: hit.entry.permissions,
        target,
        tier: related.expand.length ? raiseTier(hit.entry.baseTier, '', action, related.expand) : hit.entry.baseTier,
        related,
        tokenHasPermission,
        query: plainQuery,
        isBatch: false,
        ...(tenantSegment ? { tenantSegment } : {}),
      };
    } else {
      const kinds = partialKinds(index.root, tokens);
      operation = {
        method,
        version,
        path: renderPath(tokens, kinds),
        template: null,
        known: false,
        action: actionOf(method, false),
        permissions: emptyPermissions(),
        target: resolveTarget({ tokens, kinds, query, body, meId }),
        tier: 'unknown',
        related,
        // No permission is known to grant it, so none the token carries does.
        tokenHasPermission: principal ? false : null,
        query: plainQuery,
        isBatch: false,
        ...(tenantSegment ? { tenantSegment } : {}),
      };
    }
    return { ok: true, operation, isBatchCall: false };
  };

  // Agents repeat the same few calls with the same token: remember the outcome of a bodiless, non-batch
  // call per principal (Principal objects are immutable and shared by a token's calls, so everything
  // classifyOne reads — the URL, method, tenant, /me user, the token's permissions — is in the key).
  // Calls with a body or to $batch always run in full: the body can change the operation.
  const remembered = new WeakMap<Principal, Map<string, ClassifyOutcome>>();
  const classify = (input: ClassifyInput): ClassifyOutcome => {
    const principal = input.principal;
    if (!principal || (input.body && input.body.length > 0) || input.url.length > CACHE_MAX_URL) return classifyFresh(input);
    let calls = remembered.get(principal);
    const key = `${input.method} ${input.url}`;
    const hit = calls?.get(key);
    if (hit) return hit;
    const outcome = classifyFresh(input);
    if (outcome.ok && outcome.batch) return outcome;
    if (!calls) remembered.set(principal, (calls = new Map()));
    // Bounded per principal: an agent walking many URLs evicts its own oldest entries.
    if (calls.size >= CACHE_PER_PRINCIPAL) calls.delete(calls.keys().next().value!);
    calls.set(key, freezeOutcome(outcome));
    return outcome;
  };

  const classifyFresh = (input: ClassifyInput): ClassifyOutcome => {
    let body: unknown;
    const top = classifyOne(input.method, input.url, undefined, input.principal, undefined);
    if (!top.ok) return { ok: false, code: top.code, message: top.message };
    if (!top.isBatchCall) {
      // JSON object bodies can carry references (a $ref body, `members@odata.bind`); uploads are skipped.
      const head = input.body && input.body.length > 0 && input.body.length <= maxBatchBytes ? input.body.toString('utf8', 0, 64).replace(/^\uFEFF/, '').trimStart() : '';
      if (head.startsWith('{')) {
        const text = input.body!.toString('utf8').replace(/^\uFEFF/, '');
        // Graph may keep the first of two equal keys where JSON.parse keeps the last: refuse the ambiguity.
        const dup = findDuplicateKey(text);
        if (dup !== null) return { ok: false, code: 'GW_ERR_REQUEST_INVALID', message: `property '${dup}' appears more than once in one object of the body` };
        try {
          body = JSON.parse(text) as unknown;
        } catch {
          body = undefined;
        }
        if (body !== undefined) {
          const again = classifyOne(input.method, input.url, body, input.principal, undefined);
          if (again.ok) return { ok: true, operation: again.operation };
        }
      }
      return { ok: true, operation: top.operation };
    }
    const version = top.operation.version;
    const item: ItemClassifier = (method, url, itemBody) => {
      const r = classifyOne(method, url, itemBody, input.principal, version);
      if (!r.ok) return r;
      return { ok: true, operation: r.isBatchCall ? { ...r.operation, isBatch: true } : r.operation };
    };
    const parsed = parseBatch(input.body, version, maxBatchBytes, item);
    if (!parsed.ok) return parsed;
    const plan = parsed.plan;
    const op = top.operation;
    let tier: Tier = 'user-data';
    let anyUnknown = false;
    let has: boolean | null = input.principal ? true : null;
    for (const it of plan.items) {
      if (!it.operation || !it.operation.known) anyUnknown = true;
      if (it.operation) tier = maxTier(tier, it.operation.tier);
      if (has !== null) has = has && it.operation?.tokenHasPermission === true;
    }
    // A batch is as sensitive as its most sensitive item; an item we do not know makes it unknown
    // unless something in it is already control plane.
    op.tier = anyUnknown && tier !== 'control-plane' ? 'unknown' : tier;
    op.tokenHasPermission = has;
    return { ok: true, operation: op, batch: plan };
  };

  return { classify, mapVersion: index.version };
}
