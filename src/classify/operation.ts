/**
 * The `Operation`: what one Graph call (or one `$batch` item) does, as the classifier understands it.
 * Owned by classify/; policy, risk and audit read it. Plain JSON on purpose: audit records it verbatim
 * and a decision can be replayed from it. It does not say whether the call is allowed.
 */

export type GraphVersion = 'v1.0' | 'beta';
export type Action = 'read' | 'create' | 'update' | 'delete' | 'invoke';
/** Enterprise Access Model tier of the operation; `unknown` only for operations not in the map. */
export type Tier = 'control-plane' | 'management-plane' | 'user-data' | 'unknown';
export type Scheme = 'Application' | 'DelegatedWork';
export type IdKind = 'id' | 'appId' | 'userPrincipalName' | 'roleTemplateId' | 'me';

/** Acceptable permissions under one scheme, from the permission map (plus our supplement). */
export interface SchemePermissions {
  /** Every permission that grants the call, least privileged first. */
  anyOf: string[];
  /** The least-privileged choice(s): marked `least` in the map, narrowed to the lowest privilegeLevel. */
  least: string[];
  /**
   * Parallel to `anyOf`: `alsoRequires[i]` lists permissions of which one is needed *in addition* to
   * `anyOf[i]` (the map's `AlsoRequires=`); empty when `anyOf[i]` suffices alone.
   */
  alsoRequires: string[][];
}

export interface OperationTarget {
  /** 'user' | 'group' | 'application' | 'servicePrincipal' | 'roleAssignment' | 'mailbox' | ... (see docs/classifier.md). */
  type: string;
  /** The id exactly as sent (case kept), or the caller's user id for `/me`. */
  id?: string;
  idKind?: IdKind;
  /** Other objects the call touches: the member being added or removed, the role being assigned, … */
  relatedIds?: string[];
  /** The URL addressed the caller's own user through `/me` (the forwarded URL is never rewritten). */
  viaMe?: boolean;
}

export interface Operation {
  method: string;
  version: GraphVersion;
  /** Canonical path after the version (and tenant segment): decoded once, ids kept as sent. */
  path: string;
  /** Canonical map template matched (lower-case literals, `{id}` keys), or null when unknown. */
  template: string | null;
  /** False for operations not in the map: they require unknown permissions, never "nothing". */
  known: boolean;
  action: Action;
  permissions: Record<Scheme, SchemePermissions>;
  target: OperationTarget;
  tier: Tier;
  /** Related data pulled in through query options (`$expand=members`, `$select=owners`), lower-cased. */
  related: { select: string[]; expand: string[] };
  /** Whether the caller's token carries an acceptable permission for its scheme; null without a principal. */
  tokenHasPermission: boolean | null;
  /** Query options with `$` normalised (`filter` → `$filter`, names of system options lower-cased). */
  query: Record<string, string>;
  isBatch: boolean;
  /** Tenant segment that followed the version (`myorganization` or a tenant id), when present. */
  tenantSegment?: string;
}

export const TIER_RANK: Record<Tier, number> = { 'user-data': 1, 'management-plane': 2, 'control-plane': 3, unknown: 4 };

/** The more sensitive of two tiers of known operations (`unknown` only wins over nothing). */
export function maxTier(a: Tier, b: Tier): Tier {
  if (a === 'unknown') return b;
  if (b === 'unknown') return a;
  return TIER_RANK[a] >= TIER_RANK[b] ? a : b;
}

export function emptyPermissions(): Record<Scheme, SchemePermissions> {
  return {
    Application: { anyOf: [], least: [], alsoRequires: [] },
    DelegatedWork: { anyOf: [], least: [], alsoRequires: [] },
  };
}
