/**
 * Glue for the request path: the request key of a call from its principal and buffered body,
 * and the agent-facing answer for each hold outcome (Graph error envelopes the SDK understands).
 * Pure; owns no I/O. The server module writes the answer; forward/ sends approved calls on.
 */
import { createHash } from 'node:crypto';
import { ERRORS, graphErrorBody, type ErrorCode, type GraphErrorBody } from '../errors.js';
import type { Principal } from '../identity/principal.js';
import type { HoldOutcome } from './hold.js';
import type { RequestKeyParts } from './model.js';

export function bodyDigest(body: Uint8Array): string {
  return createHash('sha256').update(body).digest('hex');
}

/** The key a retry must match: tenant, agent appId, user oid (delegated) or none, method, canonical URL, body digest. */
export function requestKeyParts(principal: Principal, method: string, canonicalUrl: string, body: Uint8Array): RequestKeyParts {
  return {
    tenantId: principal.tenantId,
    appId: principal.appId,
    userId: principal.kind === 'delegated' ? (principal.userId ?? null) : null,
    method: method.toUpperCase(),
    canonicalUrl,
    bodyDigest: bodyDigest(body),
  };
}

export type HoldAnswer =
  | { forward: true }
  | { forward: false; status: number; headers: Record<string, string>; body: GraphErrorBody }
  /** The client is gone: nothing to write. */
  | { forward: false; status: null };

/**
 * Approved → forward to Graph. Pending → 503 + Retry-After (the Graph JS SDK RetryHandler retries
 * 429/503/504 and honours Retry-After, see docs/approvals.md). Denied and expired → 403, which
 * SDKs do not retry; expired has its own code so nobody reads it as a human "no".
 */
export function holdAnswer(outcome: HoldOutcome, requestId: string, now: Date, clientRequestId?: string): HoldAnswer {
  const extra = { ...(clientRequestId ? { clientRequestId } : {}) };
  const err = (code: ErrorCode, message: string, more: Record<string, unknown>, headers: Record<string, string> = {}): HoldAnswer => ({
    forward: false,
    status: ERRORS[code].status,
    headers: { 'content-type': 'application/json', ...headers },
    body: graphErrorBody(code, message, requestId, now, { ...extra, ...more }),
  });
  switch (outcome.kind) {
    case 'approved':
      return { forward: true };
    case 'abandoned':
      return { forward: false, status: null };
    case 'pending':
      return err(
        'GW_ERR_APPROVAL_PENDING',
        `This call is held for human approval (${outcome.approvalId}). Retry the same call after ${outcome.retryAfterSec} seconds.`,
        { 'graphwarden-approval-id': outcome.approvalId },
        { 'retry-after': String(outcome.retryAfterSec) },
      );
    case 'denied':
      return err('GW_ERR_APPROVAL_DENIED', `An approver (${outcome.by}) denied this call: ${outcome.justification}`, { 'graphwarden-approval-id': outcome.approvalId });
    case 'expired':
      return err('GW_ERR_APPROVAL_EXPIRED', `Nobody decided on this call before its approval request (${outcome.approvalId}) expired; calling again asks afresh.`, {
        'graphwarden-approval-id': outcome.approvalId,
      });
  }
}
