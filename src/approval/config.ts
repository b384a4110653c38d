/**
 * The `approvals` and `overrides` config slices: JSON Schema (for the config module's one ajv
 * schema, with defaults and descriptions) and the mapping from the validated slice, in seconds,
 * to createApprovalModule's config, in milliseconds. Does not read files or validate by itself.
 */
import type { ApproverConfig } from './admin-api.js';
import type { ApprovalModuleConfig } from './index.js';
import type { WebhookTarget } from './notify.js';

const secs = (description: string, def: number, min = 1, max = 31_536_000) => ({ type: 'integer', minimum: min, maximum: max, default: def, description });

export const approvalsConfigSchema = {
  type: 'object',
  additionalProperties: false,
  description: 'Holding calls for human approval (docs/approvals.md).',
  default: {},
  properties: {
    waitSec: secs('How long one held call waits for a decision before the agent gets 503 + Retry-After.', 60, 0, 120),
    maxWaitSec: secs('Upper bound on any hold wait.', 120, 0, 600),
    pendingTtlSec: secs('An approval request nobody decides expires after this (expired is not denied).', 3600),
    warnBeforeSec: secs('Approvers are warned this long before a request expires.', 600, 0),
    defaultValidForSec: secs('How long an approval may be used unless the approver says otherwise.', 900),
    maxValidForSec: secs('Longest validity an approver may grant.', 86_400),
    maxUses: { type: 'integer', minimum: 1, maximum: 10_000, default: 100, description: 'Largest number of uses an approver may grant.' },
    retryAfterSec: secs('Retry-After on the pending answer; the Graph JS SDK never sleeps longer than 180 s.', 30, 1, 180),
    denialHoldSec: secs('Identical calls receive the denial for this long, so SDK retries do not ask again.', 900, 0),
    adminMaxBodyBytes: { type: 'integer', minimum: 256, maximum: 1_048_576, default: 16_384, description: 'Admin API body size limit.' },
    approvers: {
      type: 'array',
      default: [],
      description: 'Named approvers. A bearer token is configured by its SHA-256 digest only.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name'],
        properties: {
          name: { type: 'string', minLength: 1, maxLength: 200 },
          ids: { type: 'array', default: [], items: { type: 'string', minLength: 1 }, description: 'Entra object ids / appIds this approver acts as (self-approval check).' },
          automation: { type: 'boolean', default: false, description: 'An identity with no accountable human owner: may deny and revoke, never approve.' },
          tokenSha256: { type: 'string', pattern: '^[0-9a-fA-F]{64}$', description: 'Hex SHA-256 of the approver bearer token.' },
        },
      },
    },
    notify: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        adminUrl: { type: 'string', format: 'uri', description: 'Admin API base URL, for links in messages.' },
        maxAttempts: { type: 'integer', minimum: 1, maximum: 10, default: 4 },
        backoffMs: { type: 'integer', minimum: 0, maximum: 60_000, default: 500 },
        timeoutMs: { type: 'integer', minimum: 100, maximum: 60_000, default: 5000 },
        targets: {
          type: 'array',
          default: [],
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['name', 'url', 'format'],
            properties: {
              name: { type: 'string', minLength: 1 },
              url: { type: 'string', format: 'uri', pattern: '^https?://' },
              format: { enum: ['json', 'teams', 'slack'] },
              headers: { type: 'object', additionalProperties: { type: 'string' } },
              events: { type: 'array', items: { enum: ['requested', 'expiring', 'approved', 'denied', 'expired'] } },
            },
          },
        },
      },
    },
  },
} as const;

export const overridesConfigSchema = {
  type: 'object',
  additionalProperties: false,
  description: 'Governed overrides (docs/approvals.md).',
  default: {},
  properties: {
    maxDurationSec: secs('Longest an ordinary override may last.', 604_800),
    maxBreakGlassDurationSec: secs('Longest a break-glass override may last.', 86_400),
  },
} as const;

/** The validated slices (defaults applied). */
export interface ApprovalsConfigSlice {
  waitSec: number;
  maxWaitSec: number;
  pendingTtlSec: number;
  warnBeforeSec: number;
  defaultValidForSec: number;
  maxValidForSec: number;
  maxUses: number;
  retryAfterSec: number;
  denialHoldSec: number;
  adminMaxBodyBytes: number;
  approvers: ApproverConfig[];
  notify: { adminUrl?: string; maxAttempts: number; backoffMs: number; timeoutMs: number; targets: WebhookTarget[] };
}

export interface OverridesConfigSlice {
  maxDurationSec: number;
  maxBreakGlassDurationSec: number;
}

/** Maps validated slices to the module config; `waitMs` is what the proxy passes to hold(). */
export function approvalModuleConfig(stateDir: string, a: ApprovalsConfigSlice, o: OverridesConfigSlice): { module: ApprovalModuleConfig; waitMs: number } {
  return {
    waitMs: a.waitSec * 1000,
    module: {
      stateDir,
      approvers: a.approvers,
      adminMaxBodyBytes: a.adminMaxBodyBytes,
      approvals: {
        pendingTtlMs: a.pendingTtlSec * 1000,
        warnBeforeMs: a.warnBeforeSec * 1000,
        defaultValidForMs: a.defaultValidForSec * 1000,
        maxValidForMs: a.maxValidForSec * 1000,
        maxUses: a.maxUses,
        retryAfterSec: a.retryAfterSec,
        denialHoldMs: a.denialHoldSec * 1000,
        maxWaitMs: a.maxWaitSec * 1000,
      },
      overrides: { maxDurationMs: o.maxDurationSec * 1000, maxBreakGlassDurationMs: o.maxBreakGlassDurationSec * 1000 },
      notify: { ...a.notify },
    },
  };
}
