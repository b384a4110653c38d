/** A small hand-written tenant whose effective permissions are worked out in the tests by hand. */
import { emptyTenant, MICROSOFT_GRAPH_APP_ID, type SnapshotData, type TenantData } from '../../../src/directory/model.js';
import type { Principal } from '../../../src/identity/principal.js';

export const TENANT = '11111111-1111-1111-1111-111111111111';
export const NOW = Date.parse('2026-06-01T12:00:00Z');

export const ROLE = {
  globalAdmin: '62e90394-69f5-4237-9190-012177145e10',
  privilegedRoleAdmin: 'e8611ab8-c189-46e8-94e1-60213ab1f814',
  userAdmin: 'fe930be7-5e62-47db-91af-98c3a49a38b1',
  appAdmin: '9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3',
  groupsAdmin: 'fdd7a751-b60b-444a-984c-02652fe8fa1c',
  directoryReaders: '88d8e3e3-8f55-4a1e-953a-9b9898b8876b',
};

/** Tenant-specific GUID for Mail.Read (only the tenant's Graph SP knows it), and a shipped-table GUID. */
export const MAIL_READ_TENANT_GUID = 'aaaaaaaa-0000-4000-8000-000000000001';
export const USER_READ_ALL_GUID = 'df021288-bdef-4463-88db-98f22de89214';

const iso = (ms: number): string => new Date(ms).toISOString();
const H = 3_600_000;

export function tenant(): TenantData {
  const t = emptyTenant(TENANT, iso(NOW));
  t.users = [
    { id: 'u-member', displayName: 'Mia Member', userType: 'Member', accountEnabled: true },
    { id: 'u-admin', displayName: 'Ada Admin', userType: 'Member', accountEnabled: true },
    { id: 'u-guest', displayName: 'Gus Guest', userType: 'Guest', accountEnabled: true },
    { id: 'u-off', displayName: 'Off User', userType: 'Member', accountEnabled: false },
  ];
  t.groups = [
    { id: 'g-ra', displayName: 'Role group', roleAssignable: true, dynamic: false, members: ['sp-agent'], owners: [] },
    { id: 'g-plain', displayName: 'Plain', roleAssignable: false, dynamic: false, members: ['u-member'], owners: ['sp-agent', 'u-member'] },
    { id: 'g-a', displayName: 'A', roleAssignable: false, dynamic: true, members: ['g-b'], owners: [] },
    { id: 'g-b', displayName: 'B', roleAssignable: false, dynamic: false, members: ['g-c', 'u-admin'], owners: [] },
    { id: 'g-c', displayName: 'C', roleAssignable: false, dynamic: false, members: ['g-a', 'u-guest'], owners: [] },
  ];
  t.applications = [
    { id: 'app-obj-agent', appId: 'app-agent', displayName: 'Agent app', signInAudience: 'AzureADMultipleOrgs', tags: [], owners: ['u-admin'], credentials: [{ keyId: 'k1', kind: 'password', startDateTime: iso(NOW - 400 * 24 * H), endDateTime: iso(NOW + 10 * 24 * H) }] },
    { id: 'app-obj-x', appId: 'app-x', displayName: 'Owned app', signInAudience: 'AzureADMyOrg', tags: [], owners: ['sp-agent'], credentials: [] },
  ];
  t.servicePrincipals = [
    {
      id: 'sp-graph',
      appId: MICROSOFT_GRAPH_APP_ID,
      displayName: 'Microsoft Graph',
      tags: [],
      owners: [],
      appRoles: [
        { id: MAIL_READ_TENANT_GUID, value: 'Mail.Read' },
        { id: '1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9', value: 'Application.ReadWrite.All' },
      ],
      scopes: [],
      credentials: [],
    },
    { id: 'sp-other', appId: 'app-other', displayName: 'Other API', tags: [], owners: [], appRoles: [{ id: 'r-other', value: 'Thing.Do' }], scopes: [], credentials: [] },
    { id: 'sp-agent', appId: 'app-agent', displayName: 'Agent', accountEnabled: true, tags: ['agent'], owners: [], appRoles: [], scopes: [], credentials: [] },
    { id: 'sp-x', appId: 'app-x', displayName: 'Owned app', tags: [], owners: [], appRoles: [], scopes: [], credentials: [] },
    { id: 'sp-client', appId: 'app-client', displayName: 'Client', tags: [], owners: [], appRoles: [], scopes: [], credentials: [] },
    { id: 'sp-off', appId: 'app-off', displayName: 'Disabled', accountEnabled: false, tags: [], owners: [], appRoles: [], scopes: [], credentials: [] },
  ];
  t.appRoleAssignments = [
    { id: 'ara-mail', principalId: 'sp-agent', resourceId: 'sp-graph', appRoleId: MAIL_READ_TENANT_GUID },
    { id: 'ara-users', principalId: 'sp-agent', resourceId: 'sp-graph', appRoleId: USER_READ_ALL_GUID },
    // Same GUID as a Graph permission but on another resource: not a Graph permission.
    { id: 'ara-other', principalId: 'sp-agent', resourceId: 'sp-other', appRoleId: '1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9' },
    { id: 'ara-off', principalId: 'sp-off', resourceId: 'sp-graph', appRoleId: MAIL_READ_TENANT_GUID },
  ];
  t.grants = [
    { id: 'gr-all', clientId: 'sp-client', consentType: 'AllPrincipals', principalId: null, resourceId: 'sp-graph', scope: 'User.Read Mail.Read Group.ReadWrite.All' },
    { id: 'gr-member', clientId: 'sp-client', consentType: 'Principal', principalId: 'u-member', resourceId: 'sp-graph', scope: 'Directory.ReadWrite.All RoleManagement.ReadWrite.Directory' },
    { id: 'gr-admin', clientId: 'sp-client', consentType: 'Principal', principalId: 'u-admin', resourceId: 'sp-graph', scope: 'RoleManagement.ReadWrite.Directory User.ReadWrite.All' },
    { id: 'gr-guest', clientId: 'sp-client', consentType: 'Principal', principalId: 'u-guest', resourceId: 'sp-graph', scope: 'User.Read.All' },
    { id: 'gr-otherres', clientId: 'sp-client', consentType: 'AllPrincipals', principalId: null, resourceId: 'sp-other', scope: 'Files.Read.All' },
  ];
  t.roleDefinitions = [
    { id: ROLE.userAdmin, templateId: ROLE.userAdmin, displayName: 'User Administrator', isBuiltIn: true, allowedResourceActions: ['microsoft.directory/users/basic/update', 'microsoft.directory/users/password/update', 'microsoft.directory/groups/members/update'] },
    { id: 'custom-1', displayName: 'Custom cred role', isBuiltIn: false, allowedResourceActions: ['microsoft.directory/applications/credentials/update'] },
  ];
  t.roleAssignments = [
    { id: 'ra-group-useradmin', principalId: 'g-ra', roleDefinitionId: ROLE.userAdmin, directoryScopeId: '/' },
    { id: 'ra-admin-pra', principalId: 'u-admin', roleDefinitionId: ROLE.privilegedRoleAdmin, directoryScopeId: '/' },
    { id: 'ra-agent-custom', principalId: 'sp-agent', roleDefinitionId: 'custom-1', directoryScopeId: '/app-obj-x' },
    // Still listed but its PIM schedule ended an hour ago.
    { id: 'ra-agent-expired', principalId: 'sp-agent', roleDefinitionId: ROLE.groupsAdmin, directoryScopeId: '/' },
  ];
  t.roleAssignmentSchedules = [
    { id: 'ras-agent-appadmin', principalId: 'sp-agent', roleDefinitionId: ROLE.appAdmin, directoryScopeId: '/', status: 'Provisioned', assignmentType: 'Activated', startDateTime: iso(NOW - H / 2), expirationType: 'afterDuration', duration: 'PT1H' },
    { id: 'ras-agent-groups', principalId: 'sp-agent', roleDefinitionId: ROLE.groupsAdmin, directoryScopeId: '/', status: 'Provisioned', assignmentType: 'Activated', startDateTime: iso(NOW - 3 * H), expirationType: 'afterDateTime', endDateTime: iso(NOW - H) },
    { id: 'ras-admin-pra', principalId: 'u-admin', roleDefinitionId: ROLE.privilegedRoleAdmin, directoryScopeId: '/', status: 'Provisioned', assignmentType: 'Assigned', startDateTime: iso(NOW - 1000 * H), expirationType: 'noExpiration' },
  ];
  t.roleEligibilitySchedules = [
    { id: 'res-agent-ga', principalId: 'sp-agent', roleDefinitionId: ROLE.globalAdmin, directoryScopeId: '/', status: 'Provisioned', memberType: 'Direct', startDateTime: iso(NOW - 24 * H), expirationType: 'noExpiration' },
    { id: 'res-agent-appadmin', principalId: 'sp-agent', roleDefinitionId: ROLE.appAdmin, directoryScopeId: '/', status: 'Provisioned', memberType: 'Direct', startDateTime: iso(NOW - 24 * H), expirationType: 'noExpiration' },
    { id: 'res-agent-revoked', principalId: 'sp-agent', roleDefinitionId: ROLE.userAdmin, directoryScopeId: '/', status: 'Revoked', startDateTime: iso(NOW - 24 * H), expirationType: 'noExpiration' },
  ];
  return t;
}

export function data(): SnapshotData {
  return { tenants: [tenant()] };
}

export function appPrincipal(appId: string, spId?: string): Principal {
  return {
    kind: 'app',
    tenantId: TENANT,
    appId,
    ...(spId ? { servicePrincipalId: spId } : {}),
    roles: [],
    scopes: [],
    wids: [],
    tokenId: 't',
    clientAuth: 'secret',
    tokenVersion: '1.0',
    issuedAt: 0,
    expiresAt: 0,
  };
}

export function userPrincipal(appId: string, userId: string): Principal {
  return { ...appPrincipal(appId), kind: 'delegated', userId };
}
