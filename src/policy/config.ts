/**
 * The config slices of policy/ and audit/ (JSON Schema, with defaults and descriptions) for config/ to
 * assemble, and their types. Owns no loading or validation: config/ validates once and freezes.
 */

export interface PolicyConfig {
  /** Rules directory; default the rules shipped with graphwarden. */
  rulesDir?: string;
  watch: boolean;
  debounceMs: number;
}

export interface AuditConfig {
  failMode: 'closed' | 'open';
  fsync: boolean;
  headIntervalMs: number;
  commitIntervalMs: number;
  syncIntervalMs: number;
  include: { token: boolean; body: boolean };
  pseudonymiseUserPrincipalName: boolean;
}

export const POLICY_CONFIG_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  description: 'Policy rules: where they are and how changes are picked up. See docs/policy.md.',
  properties: {
    rulesDir: { type: 'string', description: 'Directory of rule files (*.yaml) and controls.yaml. Default: the rules shipped with graphwarden.' },
    watch: { type: 'boolean', default: true, description: 'Reload rules when files in rulesDir change (an invalid change keeps the last good rules).' },
    debounceMs: { type: 'integer', minimum: 0, maximum: 60000, default: 250, description: 'Quiet time after the last file change before reloading.' },
  },
  default: {},
} as const;

export const AUDIT_CONFIG_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  description: 'The hash-chained decision log in <stateDir>/audit. See docs/policy.md.',
  properties: {
    failMode: {
      type: 'string',
      enum: ['closed', 'open'],
      default: 'closed',
      description: 'closed: a sensitive call whose audit record cannot be written is refused (GW_ERR_AUDIT_UNAVAILABLE). open: it goes through and is counted.',
    },
    fsync: {
      type: 'boolean',
      default: true,
      description:
        'Make records durable (fdatasync): a sensitive call proceeds only once its record is on stable storage; other records within syncIntervalMs. Off: records are written but never synced. Turn off only for throwaway setups.',
    },
    syncIntervalMs: {
      type: 'integer',
      minimum: 0,
      maximum: 60000,
      default: 1000,
      description:
        'Longest time the record of a call that does not wait for it (a plain allowed read) may stay written but not yet synced, in ms. It is written with its batch at once, so it survives a crash of graphwarden; only a crash of the machine within this window can lose it. A sensitive call\'s record, and every record before it, is synced before that call proceeds. 0: every batch is synced.',
    },
    commitIntervalMs: {
      type: 'integer',
      minimum: 0,
      maximum: 1000,
      default: 10,
      description:
        'Group commit: shortest time between the starts of two batch writes, in ms. A quiet log writes at once; under load records gather for the rest of the interval so each write (and sync) carries more of them. Only sensitive calls wait for their record, so only they can wait up to this much longer. 0: a new batch as soon as the previous one is done.',
    },
    headIntervalMs: {
      type: 'integer',
      minimum: 0,
      maximum: 60000,
      default: 100,
      description:
        'Longest time the head anchor (audit/head.json) may lag the durable (synced) log, in ms: it is rewritten at most this often while records are synced, and on shutdown. A tail cut off within the last interval before a crash or tampering is not caught by the local anchor (see docs/policy.md). 0: after every sync.',
    },
    include: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'Opt-in sensitive fields. Both off by default: the log then holds no credentials and no request bodies.',
      properties: {
        token: { type: 'boolean', default: false, description: 'Record the raw bearer token (a live credential until it expires).' },
        body: { type: 'boolean', default: false, description: 'Record request bodies (may carry personal data).' },
      },
    },
    pseudonymiseUserPrincipalName: { type: 'boolean', default: false, description: 'Record user principal names as sha256 pseudonyms (user object ids are kept).' },
  },
  default: {},
} as const;
