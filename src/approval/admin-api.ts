/**
 * The approvals and overrides admin API (`/api/v1/approvals`, `/api/v1/overrides`) as one
 * request handler the admin listener mounts. Owns authentication of approvers (bearer token
 * digests or an injected mTLS check), request validation and the JSON error shape; the decisions
 * themselves are made by hold.ts and overrides.ts.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { sha256Hex } from '../canonical.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApprovalService, DecideResult } from './hold.js';
import type { Approval, ApprovalState, Approver } from './model.js';
import type { Override, OverrideResult, OverridesService, OverrideState } from './overrides.js';
import { iso, type Clock } from './ports.js';

/** An approver as configured: a name, the Entra ids they act as, and optionally a bearer token digest. */
export interface ApproverConfig extends Approver {
  /** Hex SHA-256 of the approver's bearer token (the token itself is never in config). */
  tokenSha256?: string;
}

export interface AdminApiOptions {
  approvals: ApprovalService;
  overrides: OverridesService;
  approvers: ApproverConfig[];
  /** mTLS or other out-of-band authentication, tried before bearer tokens; null = not authenticated this way. */
  authenticate?: (req: IncomingMessage) => Approver | null;
  maxBodyBytes?: number;
  clock: Clock;
}

export type AdminHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;

export function tokenDigest(token: string): string {
  return sha256Hex(token);
}

const STATES: readonly ApprovalState[] = ['pending', 'approved', 'denied', 'expired', 'used'];
const OVERRIDE_STATES: readonly OverrideState[] = ['awaiting-second-approver', 'active', 'revoked', 'expired'];
const ID = /^(apr|ovr)_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const STATUS: Record<string, number> = {
  'not-found': 404,
  'not-pending': 409,
  'request-expired': 409,
  'not-awaiting-approval': 409,
  'not-revocable': 409,
  'self-approval': 403,
  'self-override': 403,
  'automation-approver': 403,
  'same-approver': 403,
};

const MESSAGES: Record<string, string> = {
  'not-found': 'No such approval or override.',
  'not-pending': 'The approval request is no longer pending.',
  'request-expired': 'The approval request expired before a decision; the agent must call again.',
  'justification-required': 'A non-empty justification is required.',
  'self-approval': "An agent's own identity cannot decide its own call.",
  'automation-approver': 'An automation identity cannot approve.',
  'invalid-uses': 'uses must be a positive integer within the configured maximum.',
  'invalid-validity': 'validForSec must be positive and within the configured maximum.',
  'invalid-agent': 'agent must be an application (client) id GUID.',
  'invalid-operations': 'operations must be a non-empty list of {"ruleId"} or {"template"} entries.',
  'invalid-until': 'until must be in the future.',
  'too-long': 'The override lasts longer than the configured maximum.',
  'same-approver': 'Break-glass needs a second, different approver.',
  'self-override': "An agent's own identity cannot grant it an override.",
  'not-awaiting-approval': 'The override is not waiting for a second approver.',
  'not-revocable': 'The override is already revoked or expired.',
  'body-too-large': 'The request body is larger than the admin API accepts.',
  'unsupported-media-type': 'Send the body as application/json.',
  'invalid-json': 'The body must be a JSON object.',
  'method-not-allowed': 'This method is not allowed on this resource.',
};

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function fail(code: string, status = STATUS[code] ?? 400): never {
  throw new HttpError(status, code, MESSAGES[code] ?? code);
}

export function approvalView(a: Approval, waiting: number): Record<string, unknown> {
  return {
    id: a.id,
    state: a.state,
    agent: a.summary.agent,
    principal: a.summary.principal,
    operation: a.summary.operation,
    request: { ...a.keyParts },
    narrative: a.summary.narrative,
    firstDecisionId: a.firstDecisionId,
    createdAt: iso(a.createdAt),
    expiresAt: iso(a.expiresAt),
    warnedAt: a.warnedAt === null ? null : iso(a.warnedAt),
    decidedAt: a.decidedAt === null ? null : iso(a.decidedAt),
    decidedBy: a.decidedBy,
    justification: a.justification,
    uses: a.state === 'approved' || a.state === 'used' ? (a.usesAllowed ?? 'reusable') : null,
    usesCount: a.usesCount,
    validUntil: a.validUntil === null ? null : iso(a.validUntil),
    waiting,
  };
}

export function overrideView(o: Override): Record<string, unknown> {
  return {
    ...o,
    until: iso(o.until),
    createdAt: iso(o.createdAt),
    revokedAt: o.revokedAt === null ? null : iso(o.revokedAt),
  };
}

async function readJson(req: IncomingMessage, limit: number): Promise<Record<string, unknown>> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > limit) fail('body-too-large', 413);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) fail('body-too-large', 413);
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  if (type !== 'application/json') fail('unsupported-media-type', 415);
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    fail('invalid-json', 400);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) fail('invalid-json', 400);
  return parsed as Record<string, unknown>;
}

function only(body: Record<string, unknown>, allowed: string[]): void {
  const extra = Object.keys(body).filter((k) => !allowed.includes(k));
  if (extra.length) throw new HttpError(400, 'unknown-field', `Unknown field(s): ${extra.join(', ')}.`);
}

function str(body: Record<string, unknown>, k: string, max = 2000): string {
  const v = body[k];
  if (v === undefined) return '';
  if (typeof v !== 'string' || v.length > max) throw new HttpError(400, 'invalid-field', `${k} must be a string of at most ${max} characters.`);
  return v;
}

export function createApprovalAdminApi(options: AdminApiOptions): AdminHandler {
  const limit = options.maxBodyBytes ?? 16 * 1024;
  const digests = options.approvers
    .filter((a) => typeof a.tokenSha256 === 'string' && /^[0-9a-f]{64}$/i.test(a.tokenSha256))
    .map((a) => ({ approver: { name: a.name, ids: [...a.ids], ...(a.automation ? { automation: true } : {}) } as Approver, digest: Buffer.from(a.tokenSha256!, 'hex') }));

  const authenticate = (req: IncomingMessage): Approver | null => {
    const viaCert = options.authenticate?.(req);
    if (viaCert) return viaCert;
    const h = req.headers.authorization;
    const m = typeof h === 'string' ? /^Bearer ([\x21-\x7e]{16,4096})$/.exec(h) : null;
    if (!m) return null;
    const presented = createHash('sha256').update(m[1]!, 'utf8').digest();
    let found: Approver | null = null;
    // Compare against every digest, constant time each, so timing tells nothing about which matched.
    for (const d of digests) if (timingSafeEqual(presented, d.digest) && !found) found = d.approver;
    return found;
  };

  const decided = (r: DecideResult): Record<string, unknown> => {
    if (!r.ok) fail(r.reason);
    return { ...approvalView(r.approval, 0), released: r.released };
  };
  const overrideResult = (r: OverrideResult): Record<string, unknown> => {
    if (!r.ok) fail(r.reason);
    return overrideView(r.override);
  };

  const route = async (req: IncomingMessage, url: URL, who: Approver): Promise<[number, unknown]> => {
    const parts = url.pathname.split('/').filter(Boolean).slice(2); // drop api, v1
    const method = req.method ?? 'GET';
    const [collection, id, verb, ...rest] = parts;
    if (rest.length) fail('not-found', 404);
    if (id !== undefined && !ID.test(id)) fail('not-found', 404);

    if (collection === 'approvals') {
      if (!id) {
        if (method !== 'GET') fail('method-not-allowed', 405);
        const state = url.searchParams.get('state') ?? undefined;
        if (state !== undefined && !STATES.includes(state as ApprovalState)) throw new HttpError(400, 'invalid-state', `state must be one of ${STATES.join(', ')}.`);
        const list = options.approvals.list(state ? { state: state as ApprovalState } : {});
        return [200, { approvals: list.map((a) => approvalView(a, options.approvals.waiting(a.id))) }];
      }
      if (!verb) {
        if (method !== 'GET') fail('method-not-allowed', 405);
        const a = options.approvals.get(id);
        if (!a || !id.startsWith('apr_')) fail('not-found');
        return [200, approvalView(a, options.approvals.waiting(a.id))];
      }
      if (verb !== 'approve' && verb !== 'deny') fail('not-found', 404);
      if (method !== 'POST') fail('method-not-allowed', 405);
      const body = await readJson(req, limit);
      if (verb === 'deny') {
        only(body, ['justification']);
        return [200, decided(options.approvals.deny(id, who, { justification: str(body, 'justification') }))];
      }
      only(body, ['justification', 'uses', 'reusable', 'validForSec']);
      const { uses, reusable, validForSec } = body;
      if (uses !== undefined && typeof uses !== 'number') fail('invalid-uses');
      if (reusable !== undefined && typeof reusable !== 'boolean') throw new HttpError(400, 'invalid-field', 'reusable must be a boolean.');
      if (validForSec !== undefined && typeof validForSec !== 'number') fail('invalid-validity');
      return [
        200,
        decided(
          options.approvals.approve(id, who, {
            justification: str(body, 'justification'),
            ...(uses !== undefined ? { uses } : {}),
            ...(reusable ? { reusable } : {}),
            ...(validForSec !== undefined ? { validForSec } : {}),
          }),
        ),
      ];
    }

    if (collection === 'overrides') {
      if (!id) {
        if (method === 'GET') {
          const state = url.searchParams.get('state') ?? undefined;
          if (state !== undefined && !OVERRIDE_STATES.includes(state as OverrideState)) throw new HttpError(400, 'invalid-state', `state must be one of ${OVERRIDE_STATES.join(', ')}.`);
          return [200, { overrides: options.overrides.list(state ? { state: state as OverrideState } : {}).map(overrideView) }];
        }
        if (method !== 'POST') fail('method-not-allowed', 405);
        const body = await readJson(req, limit);
        only(body, ['agent', 'operations', 'until', 'forSec', 'justification', 'breakGlass']);
        let until: number;
        if (typeof body.until === 'string' && body.forSec === undefined) until = Date.parse(body.until);
        else if (typeof body.forSec === 'number' && body.until === undefined) until = options.clock() + body.forSec * 1000;
        else throw new HttpError(400, 'invalid-until', 'Give exactly one of until (ISO 8601) or forSec (seconds).');
        if (Number.isNaN(until)) fail('invalid-until');
        if (body.breakGlass !== undefined && typeof body.breakGlass !== 'boolean') throw new HttpError(400, 'invalid-field', 'breakGlass must be a boolean.');
        const r = options.overrides.create(
          {
            agent: typeof body.agent === 'string' ? body.agent : '',
            operations: body.operations as never,
            until,
            justification: str(body, 'justification'),
            breakGlass: body.breakGlass === true,
          },
          who,
        );
        return [201, overrideResult(r)];
      }
      if (!id.startsWith('ovr_')) fail('not-found');
      if (!verb) {
        if (method === 'GET') {
          const o = options.overrides.get(id);
          if (!o) fail('not-found');
          return [200, overrideView(o)];
        }
        if (method !== 'DELETE') fail('method-not-allowed', 405);
        const body = await readJson(req, limit);
        only(body, ['justification']);
        const justification = str(body, 'justification') || (url.searchParams.get('justification') ?? '');
        return [200, overrideResult(options.overrides.revoke(id, who, justification))];
      }
      if (verb !== 'approve') fail('not-found', 404);
      if (method !== 'POST') fail('method-not-allowed', 405);
      await readJson(req, limit);
      return [200, overrideResult(options.overrides.approve(id, who))];
    }
    return fail('not-found', 404);
  };

  return async (req, res, url) => {
    if (!/^\/api\/v1\/(approvals|overrides)(\/|$)/.test(url.pathname)) return false;
    try {
      const who = authenticate(req);
      if (!who) {
        // An unauthenticated body is discarded unparsed.
        send(res, 401, { error: { code: 'unauthenticated', message: 'A valid approver bearer token or client certificate is required.' } }, { 'www-authenticate': 'Bearer' });
        req.resume();
        return true;
      }
      const [status, body] = await route(req, url, who);
      send(res, status, body);
    } catch (err) {
      if (err instanceof HttpError) {
        send(res, err.status, { error: { code: err.code, message: err.message } }, err.status === 413 ? { connection: 'close' } : {});
        if (err.status === 413) req.resume();
      } else {
        send(res, 500, { error: { code: 'internal', message: 'Internal error.' } });
      }
    }
    return true;
  };
}
