/**
 * The read-only face of the directory model that the request path and policy use.
 * Owned by directory/ (which implements it over an immutable snapshot); policy/ and
 * the proxy depend only on this contract. Every lookup is O(1) from precomputed indexes.
 */
import type { Principal } from '../identity/principal.js';

/** Why a principal has a power: the assignment, grant, role, group or ownership it traces back to. */
export interface Provenance {
  kind:
    | 'appRoleAssignment'
    | 'oauth2PermissionGrant'
    | 'directoryRoleAssignment'
    | 'groupMembership'
    | 'pimActiveAssignment'
    | 'pimEligibleAssignment'
    | 'ownership'
    | 'userRole';
  /** Directory object id of the assignment / grant / group / role assignment / owned object. */
  id: string;
  /** One line a human reads in a narrative, e.g. "app role assignment Mail.Read on Microsoft Graph". */
  description: string;
}

/** A Graph permission the principal holds now, with the scheme it applies under. */
export interface HeldPermission {
  permission: string;
  scheme: 'Application' | 'DelegatedWork';
  via: Provenance[];
  /**
   * Delegated only: set when the user's roles do not carry this scope tenant-wide and it works only on
   * objects the user owns (these ids). Absent means no such limit.
   */
  limitedTo?: readonly string[];
}

/** A delegated scope granted to the client that the signed-in user cannot exercise (no role backs it). */
export interface WithheldPermission {
  permission: string;
  reason: 'user-lacks-role';
  via: Provenance[];
}

/** A normalised "what on which resources" entry, e.g. "add credentials to these 3 applications". */
export interface Capability {
  /** kebab-case action, e.g. 'add-credentials', 'change-group-membership', 'read-mail', 'graph-permission'. */
  action: string;
  description: string;
  /** 'any' for tenant-wide, else the object ids (or "/administrativeUnits/{id}" scopes) it applies to. */
  resources: 'any' | readonly string[];
  tier: 'ControlPlane' | 'ManagementPlane' | 'UserAccess' | 'Unclassified';
  /** True when it comes only from a PIM-eligible (not active) role. */
  latent?: boolean;
  via: Provenance[];
}

export interface HeldRole {
  roleDefinitionId: string;
  /** Built-in role template id when known (what `wids` carries). */
  roleTemplateId?: string;
  displayName: string;
  privileged: boolean;
  /** "/" for tenant-wide, "/administrativeUnits/{id}" or "/{objectId}" for scoped assignments. */
  directoryScopeId: string;
  /** ISO time the assignment ends, absent when permanent. */
  endDateTime?: string;
  via: Provenance[];
}

export interface AgentInfo {
  tenantId: string;
  appId: string;
  servicePrincipalId?: string;
  applicationObjectId?: string;
  displayName?: string;
  tags: string[];
  owners: Array<{ id: string; type: string; displayName?: string }>;
  /** True when the app registration is multi-tenant (signInAudience other than AzureADMyOrg). */
  multiTenant?: boolean;
  /** True for Entra Agent ID objects (agent identities / blueprints). */
  agentIdentity?: boolean;
}

export interface EffectivePermissions {
  /** Graph permissions the principal holds now (app roles for app-only; granted scopes for delegated). */
  graph: ReadonlyMap<string, HeldPermission>;
  /** Directory roles active now (direct, through role-assignable groups, PIM active). */
  activeRoles: readonly HeldRole[];
  /** PIM-eligible roles not active now: latent privilege. */
  eligibleRoles: readonly HeldRole[];
  /** Object ids the principal owns (applications, service principals, groups). */
  owns: ReadonlySet<string>;
  /** The directory object the answers are about (the SP for app-only, the user for delegated). */
  subject?: { id: string; type: 'user' | 'servicePrincipal'; displayName?: string };
  /** True when the SP or user is disabled in the directory: nothing is held. */
  disabled?: boolean;
  /** Delegated: granted scopes the user's roles do not let them exercise. */
  withheld?: readonly WithheldPermission[];
  /** Normalised "what on which resources", with provenance. */
  capabilities?: readonly Capability[];
}

export interface DirectoryObjectInfo {
  id: string;
  type: 'user' | 'group' | 'application' | 'servicePrincipal' | 'roleDefinition' | 'directoryRole' | 'other';
  displayName?: string;
  /** For groups: can be assigned to directory roles (isAssignableToRole). */
  roleAssignable?: boolean;
  /** For roles: Microsoft's isPrivileged flag. */
  privileged?: boolean;
  /** For applications / service principals: holds a control-plane Graph permission or privileged role. */
  holdsControlPlane?: boolean;
  /** For applications / service principals: the appId, so "the caller's own app" can be matched. */
  appId?: string;
  owners?: readonly string[];
}

export interface DirectoryView {
  /** Content hash of the snapshot the answers come from (proof in audit records). */
  readonly snapshotId: string;
  /** ISO time the snapshot was taken. */
  readonly takenAt: string;
  /** The agent (client app) behind a principal; undefined when the directory does not know it. */
  agent(tenantId: string, appId: string): AgentInfo | undefined;
  /** What the principal can do right now; undefined when the principal is unknown to the directory. */
  effective(principal: Principal): EffectivePermissions | undefined;
  /** A directory object by id, or by alternate key (appId for applications/service principals, role template id). */
  object(tenantId: string, idOrKey: string): DirectoryObjectInfo | undefined;
  /** Ids of every group the object is a member of, directly or through nesting; undefined when unknown. */
  groupsOf?(tenantId: string, objectId: string): readonly string[] | undefined;
}
