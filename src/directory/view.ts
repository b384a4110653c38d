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
}
