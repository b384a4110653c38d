/**
 * JSON `$batch` (graph-facts §4.1): parsing with structural checks, the per-item plan, and the helpers
 * that let the proxy forward only allowed items and answer the rest itself in Graph's batch shape.
 * Items are classified by the caller's function (the same code as top-level calls). Pure.
 */
import { ERRORS } from '../errors.js';
import type { ErrorCode } from '../errors.js';
import { findDuplicateKey } from './json-guard.js';
import type { GraphVersion, Operation } from './operation.js';

export const MAX_BATCH_ITEMS = 20;
export const BATCH_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']);

export interface BatchItem {
  id: string;
  /** Upper-cased method the item is classified by. */
  method: string;
  url: string;
  dependsOn: string[];
  operation?: Operation;
  /** Why this item cannot be understood (it is never forwarded; see planBatchForward). */
  error?: { code: ErrorCode; message: string };
}

export interface BatchPlan {
  version: GraphVersion;
  items: BatchItem[];
  /** The request body as received (forwarded unchanged when every item is allowed). */
  raw: Buffer;
  /** Parsed item objects, index-aligned with `items`, re-serialised for partial forwarding. */
  requests: Array<Record<string, unknown>>;
}

/** One item of Graph's batch response: `{id, status, headers, body}`. */
export interface BatchItemResponse {
  id: string;
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

/** A response the caller supplies for an item it does not forward (e.g. its own 403). */
export type LocalItemResponse = Omit<BatchItemResponse, 'id'>;

export type ItemClassifier = (method: string, url: string, body: unknown) =>
  | { ok: true; operation: Operation }
  | { ok: false; code: ErrorCode; message: string; batchFatal?: boolean };

export type BatchParseResult = { ok: true; plan: BatchPlan } | { ok: false; code: 'GW_ERR_REQUEST_INVALID' | 'GW_ERR_REQUEST_BODY_TOO_LARGE'; message: string };

function fail(message: string): BatchParseResult {
  return { ok: false, code: 'GW_ERR_REQUEST_INVALID', message: `invalid $batch: ${message}` };
}

const TOP_FIELDS = new Map([['requests', 'requests']]);
const ITEM_FIELDS = new Map([['id', 'id'], ['method', 'method'], ['url', 'url'], ['body', 'body'], ['headers', 'headers'], ['dependson', 'dependsOn']]);

/** A key that matches a documented field only case-insensitively (`URL`, `Body`, `dependson`). */
function miscased(o: Record<string, unknown>, fields: Map<string, string>): string | null {
  for (const k of Object.keys(o)) {
    const want = fields.get(k.toLowerCase());
    if (want !== undefined && want !== k) return k;
  }
  return null;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** An inner body as JSON when it is JSON, or base64-encoded JSON (json-batching.md allows both). */
function innerBody(body: unknown): unknown {
  if (typeof body !== 'string') return body;
  try {
    return JSON.parse(Buffer.from(body, 'base64').toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

/** Parses and checks a `$batch` body, classifying every item with `classifyItem`. */
export function parseBatch(body: Buffer | undefined, version: GraphVersion, maxBytes: number, classifyItem: ItemClassifier): BatchParseResult {
  if (!body || body.length === 0) return fail('the body is empty');
  if (body.length > maxBytes) return { ok: false, code: 'GW_ERR_REQUEST_BODY_TOO_LARGE', message: `$batch body larger than ${maxBytes} bytes` };
  const text = body.toString('utf8');
  const dup = findDuplicateKey(text);
  if (dup !== null) return fail(`property '${dup}' appears more than once in one object`);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return fail('the body is not valid JSON');
  }
  if (!isObject(doc) || !Array.isArray(doc.requests)) return fail("the body must be an object with a 'requests' array");
  const oddTop = miscased(doc, TOP_FIELDS);
  if (oddTop) return fail(`property '${oddTop}' must be spelled 'requests'`);
  const reqs = doc.requests as unknown[];
  if (reqs.length === 0) return fail('no requests');
  if (reqs.length > MAX_BATCH_ITEMS) return fail(`${reqs.length} requests; Graph allows at most ${MAX_BATCH_ITEMS}`);
  const items: BatchItem[] = [];
  const requests: Array<Record<string, unknown>> = [];
  const seen = new Map<string, string>();
  for (const [i, r] of reqs.entries()) {
    if (!isObject(r)) return fail(`request #${i + 1} is not an object`);
    // `Body` or `URL` could be read by Graph and not by us: only the documented spelling is accepted.
    const odd = miscased(r, ITEM_FIELDS);
    if (odd) return fail(`request #${i + 1} has property '${odd}'; use '${ITEM_FIELDS.get(odd.toLowerCase())}'`);
    const rawId = r.id;
    const id = typeof rawId === 'string' ? rawId : typeof rawId === 'number' && Number.isInteger(rawId) ? String(rawId) : null;
    if (!id) return fail(`request #${i + 1} has no id`);
    // Ids are not case-sensitive and must be unique (json-batching.md).
    if (seen.has(id.toLowerCase())) return fail(`duplicate request id '${id}'`);
    seen.set(id.toLowerCase(), id);
    if (typeof r.method !== 'string' || !r.method) return fail(`request '${id}' has no method`);
    const method = r.method.toUpperCase();
    if (!BATCH_METHODS.has(method)) return fail(`request '${id}' has unsupported method '${r.method}'`);
    if (typeof r.url !== 'string' || !r.url) return fail(`request '${id}' has no url`);
    if (r.headers !== undefined && (!isObject(r.headers) || Object.values(r.headers).some((v) => typeof v !== 'string'))) {
      return fail(`request '${id}' headers must be an object of strings`);
    }
    let dependsOn: string[] = [];
    if (r.dependsOn !== undefined) {
      if (!Array.isArray(r.dependsOn) || r.dependsOn.some((d) => typeof d !== 'string' && typeof d !== 'number')) {
        return fail(`request '${id}' dependsOn must be an array of ids`);
      }
      dependsOn = (r.dependsOn as Array<string | number>).map(String);
    }
    const c = classifyItem(method, r.url, innerBody(r.body));
    const item: BatchItem = { id, method, url: r.url, dependsOn };
    if (c.ok) {
      if (c.operation.isBatch) return fail(`request '${id}' is a nested $batch`);
      item.operation = c.operation;
    } else if (c.batchFatal) {
      return fail(`request '${id}': ${c.message}`);
    } else {
      item.error = { code: c.code, message: c.message };
    }
    items.push(item);
    requests.push(r);
  }
  // dependsOn must name other items of this batch, without cycles.
  for (const item of items) {
    for (const d of item.dependsOn) {
      if (!seen.has(d.toLowerCase())) return fail(`request '${item.id}' depends on unknown id '${d}'`);
      if (d.toLowerCase() === item.id.toLowerCase()) return fail(`request '${item.id}' depends on itself`);
    }
  }
  const byId = new Map(items.map((it) => [it.id.toLowerCase(), it]));
  const state = new Map<string, 1 | 2>();
  const visit = (it: BatchItem): boolean => {
    const k = it.id.toLowerCase();
    if (state.get(k) === 2) return true;
    if (state.get(k) === 1) return false;
    state.set(k, 1);
    for (const d of it.dependsOn) if (!visit(byId.get(d.toLowerCase())!)) return false;
    state.set(k, 2);
    return true;
  };
  for (const it of items) if (!visit(it)) return fail(`dependsOn forms a cycle through request '${it.id}'`);
  return { ok: true, plan: { version, items, raw: body, requests } };
}

function errorItem(id: string, status: number, code: string, message: string): BatchItemResponse {
  return { id, status, headers: { 'content-type': 'application/json' }, body: { error: { code, message } } };
}

/**
 * Splits a batch for partial forwarding. `forward` holds the ids the caller allows (case-insensitive).
 * An item is sent upstream only if allowed, understood, and every item it depends on is sent too.
 * The others get, in order of preference: the caller's `local` response; 424 Failed Dependency when an
 * item it depends on is not sent (json-batching.md); 400 for items that could not be understood; else 403.
 * `body` is the original bytes when everything is sent, null when nothing is.
 */
export function planBatchForward(
  plan: BatchPlan,
  forward: ReadonlySet<string>,
  local: ReadonlyMap<string, LocalItemResponse> = new Map(),
): { body: Buffer | null; local: BatchItemResponse[] } {
  const allowed = new Set([...forward].map((f) => f.toLowerCase()));
  const localLower = new Map([...local].map(([k, v]) => [k.toLowerCase(), v]));
  const byId = new Map(plan.items.map((it) => [it.id.toLowerCase(), it]));
  const memo = new Map<string, boolean>();
  const sendable = (it: BatchItem): boolean => {
    const k = it.id.toLowerCase();
    const m = memo.get(k);
    if (m !== undefined) return m;
    const ok = allowed.has(k) && !it.error && it.operation !== undefined && it.dependsOn.every((d) => sendable(byId.get(d.toLowerCase())!));
    memo.set(k, ok);
    return ok;
  };
  const send: Array<Record<string, unknown>> = [];
  const answers: BatchItemResponse[] = [];
  plan.items.forEach((it, i) => {
    if (sendable(it)) {
      send.push(plan.requests[i]!);
      return;
    }
    const own = localLower.get(it.id.toLowerCase());
    if (own) answers.push({ id: it.id, ...own });
    else if (it.dependsOn.some((d) => !sendable(byId.get(d.toLowerCase())!))) {
      answers.push(errorItem(it.id, 424, 'FailedDependency', 'A request this one depends on was not forwarded by graphwarden.'));
    } else if (it.error) {
      answers.push(errorItem(it.id, ERRORS[it.error.code].status, ERRORS[it.error.code].graphCode, it.error.message));
    } else {
      answers.push(errorItem(it.id, ERRORS.GW_ERR_POLICY_BLOCKED.status, ERRORS.GW_ERR_POLICY_BLOCKED.graphCode, 'graphwarden did not forward this request.'));
    }
  });
  if (send.length === 0) return { body: null, local: answers };
  if (send.length === plan.items.length) return { body: plan.raw, local: answers };
  return { body: Buffer.from(JSON.stringify({ requests: send })), local: answers };
}

/**
 * Merges Graph's batch response (parsed JSON, a Buffer/string of it, or null when nothing was sent) with
 * the locally answered items. A local answer wins over an upstream response with the same id.
 */
export function mergeBatchResponses(upstreamBody: unknown, local: BatchItemResponse[]): { responses: BatchItemResponse[] } {
  let up = upstreamBody;
  if (Buffer.isBuffer(up) || typeof up === 'string') {
    try {
      up = JSON.parse(up.toString()) as unknown;
    } catch {
      up = null;
    }
  }
  const localIds = new Set(local.map((l) => l.id.toLowerCase()));
  const responses: BatchItemResponse[] = [];
  if (isObject(up) && Array.isArray(up.responses)) {
    for (const r of up.responses as unknown[]) {
      if (!isObject(r) || (typeof r.id !== 'string' && typeof r.id !== 'number')) continue;
      const id = String(r.id);
      if (localIds.has(id.toLowerCase())) continue;
      responses.push({ ...(r as Record<string, unknown>), id, status: typeof r.status === 'number' ? r.status : 502 } as BatchItemResponse);
    }
  }
  return { responses: [...responses, ...local] };
}
