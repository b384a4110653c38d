/**
 * The raw, serialisable shape of a directory snapshot: flat arrays of records keyed by object id,
 * one block per tenant. Owned by directory/; indexes and effective permissions are built from it
 * (snapshot.ts, effective.ts), and the connector fills it. Secret values are never part of it.
 */

export const SNAPSHOT_SCHEMA_VERSION = 1;

/** Microsoft Graph's appId, the same in every tenant (its service principal holds Graph's appRoles/scopes). */
export const MICROSOFT_GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000';

/** Credential metadata only (passwordCredential / keyCredential); secretText and key bytes are never kept. */
export interface CredentialRecord {
  keyId: string;
  kind: 'password' | 'certificate';
  displayName?: string;
  startDateTime?: string;
  endDateTime?: string;
}

export interface UserRecord {
  id: string;
  displayName?: string;
  userPrincipalName?: string;
  /** 'Member' | 'Guest' (Graph user.userType). */
  userType?: string;
  accountEnabled?: boolean;
}

export interface GroupRecord {
  id: string;
  displayName?: string;
  /** Graph group.isAssignableToRole: only such groups can hold directory roles. */
  roleAssignable: boolean;
  /** groupTypes contains 'DynamicMembership'. */
  dynamic: boolean;
  securityEnabled?: boolean;
  /** Direct member object ids. */
  members: string[];
  owners: string[];
}

export interface AppRoleRecord {
  id: string;
  value: string;
  displayName?: string;
  allowedMemberTypes?: string[];
}

export interface ScopeRecord {
  id: string;
  value: string;
  type?: string;
}

export interface ApplicationRecord {
  id: string;
  appId: string;
  displayName?: string;
  signInAudience?: string;
  tags: string[];
  owners: string[];
  credentials: CredentialRecord[];
  /** Entra Agent ID: agent identity blueprint. */
  agentIdentity?: boolean;
}

export interface ServicePrincipalRecord {
  id: string;
  appId: string;
  displayName?: string;
  servicePrincipalType?: string;
  appOwnerOrganizationId?: string;
  accountEnabled?: boolean;
  tags: string[];
  owners: string[];
  appRoles: AppRoleRecord[];
  scopes: ScopeRecord[];
  credentials: CredentialRecord[];
  /** Entra Agent ID: agent identity or agent identity blueprint principal. */
  agentIdentity?: boolean;
}

/** appRoleAssignment: principal → app role → resource service principal (resourceId is the resource SP). */
export interface AppRoleAssignmentRecord {
  id: string;
  principalId: string;
  principalType?: string;
  resourceId: string;
  appRoleId: string;
}

/** oauth2PermissionGrant: clientId and resourceId are SP object ids; principalId null for AllPrincipals. */
export interface GrantRecord {
  id: string;
  clientId: string;
  consentType: 'AllPrincipals' | 'Principal';
  principalId: string | null;
  resourceId: string;
  scope: string;
}

export interface RoleDefinitionRecord {
  id: string;
  templateId?: string;
  displayName: string;
  isBuiltIn: boolean;
  isPrivileged?: boolean;
  allowedResourceActions: string[];
}

export interface RoleAssignmentRecord {
  id: string;
  principalId: string;
  /** For built-in roles the template id. */
  roleDefinitionId: string;
  directoryScopeId: string;
}

/** PIM unifiedRoleEligibilitySchedule / unifiedRoleAssignmentSchedule, flattened. */
export interface RoleScheduleRecord {
  id: string;
  principalId: string;
  roleDefinitionId: string;
  directoryScopeId: string;
  status?: string;
  memberType?: string;
  /** Assignment schedules only: 'Assigned' | 'Activated'. */
  assignmentType?: string;
  startDateTime?: string;
  /** noExpiration | afterDateTime | afterDuration. */
  expirationType?: string;
  endDateTime?: string;
  duration?: string;
}

export interface TenantData {
  tenantId: string;
  /** ISO time this tenant's data was read. */
  syncedAt: string;
  users: UserRecord[];
  groups: GroupRecord[];
  applications: ApplicationRecord[];
  servicePrincipals: ServicePrincipalRecord[];
  appRoleAssignments: AppRoleAssignmentRecord[];
  grants: GrantRecord[];
  roleDefinitions: RoleDefinitionRecord[];
  roleAssignments: RoleAssignmentRecord[];
  roleEligibilitySchedules: RoleScheduleRecord[];
  roleAssignmentSchedules: RoleScheduleRecord[];
}

export interface SnapshotData {
  tenants: TenantData[];
}

export function emptyTenant(tenantId: string, syncedAt: string): TenantData {
  return {
    tenantId,
    syncedAt,
    users: [],
    groups: [],
    applications: [],
    servicePrincipals: [],
    appRoleAssignments: [],
    grants: [],
    roleDefinitions: [],
    roleAssignments: [],
    roleEligibilitySchedules: [],
    roleAssignmentSchedules: [],
  };
}

/** Number of directory objects and links in a tenant block (for metrics and progress). */
export function countObjects(t: TenantData): number {
  return (
    t.users.length +
    t.groups.length +
    t.applications.length +
    t.servicePrincipals.length +
    t.appRoleAssignments.length +
    t.grants.length +
    t.roleDefinitions.length +
    t.roleAssignments.length +
    t.roleEligibilitySchedules.length +
    t.roleAssignmentSchedules.length
  );
}
