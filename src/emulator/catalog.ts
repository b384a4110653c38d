/**
 * Static Microsoft reference data the emulator serves: the Microsoft Graph service
 * principal's app roles and delegated scopes (real ids) and the built-in Entra role
 * definitions. Owns loading and indexing the shipped data/ files; does not decide grants.
 */
import { readFileSync } from 'node:fs';

/** The Microsoft Graph resource application id (graph-facts §1.6). */
export const GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000';
export const GRAPH_RESOURCE_URI = 'https://graph.microsoft.com';

export interface GraphPermission {
  id: string;
  value: string;
  displayName: string;
  description: string;
  isEnabled: boolean;
  /** 'Admin' | 'User' for scopes; undefined for app roles. */
  type?: string;
}

export interface RoleDefinition {
  id: string;
  templateId: string;
  displayName: string;
  description: string;
  isBuiltIn: true;
  isEnabled: true;
  isPrivileged: boolean;
  allowedResourceActions: string[];
}

export interface Catalog {
  appRoles: GraphPermission[];
  scopes: GraphPermission[];
  appRoleByValue: Map<string, GraphPermission>;
  appRoleById: Map<string, GraphPermission>;
  scopeByValue: Map<string, GraphPermission>;
  roleDefinitions: RoleDefinition[];
  roleDefinitionById: Map<string, RoleDefinition>;
}

interface RawAppRole { Id: string; Value: string; DisplayName: string; Description: string; IsEnabled: boolean }
interface RawScope { Id: string; Value: string; AdminConsentDisplayName: string; AdminConsentDescription: string; IsEnabled: boolean; Type: string }
interface RawRole { RoleId: string; RoleName: string; isPrivileged: boolean; RichDescription?: string; RolePermissions?: { AuthorizedResourceAction: string }[] }

// Resolved relative to this module so it works from src/ (tests) and dist/ (the binary).
function readData<T>(rel: string): T {
  return JSON.parse(readFileSync(new URL(`../../data/${rel}`, import.meta.url), 'utf8')) as T;
}

let cached: Catalog | undefined;

export function loadCatalog(): Catalog {
  if (cached) return cached;
  const appRoles = readData<RawAppRole[]>('graph-permissions/GraphAppRoles.json').map((r) => ({
    id: r.Id, value: r.Value, displayName: r.DisplayName, description: r.Description, isEnabled: r.IsEnabled,
  }));
  const scopes = readData<RawScope[]>('graph-permissions/GraphDelegateRoles.json').map((s) => ({
    id: s.Id, value: s.Value, displayName: s.AdminConsentDisplayName, description: s.AdminConsentDescription, isEnabled: s.IsEnabled, type: s.Type,
  }));
  const roleDefinitions: RoleDefinition[] = readData<RawRole[]>('entra-roles/Classification_EntraIdDirectoryRoles.json').map((r) => ({
    id: r.RoleId,
    templateId: r.RoleId,
    displayName: r.RoleName,
    description: (r.RichDescription ?? '').split('\n')[0] ?? '',
    isBuiltIn: true,
    isEnabled: true,
    isPrivileged: r.isPrivileged,
    allowedResourceActions: [...new Set((r.RolePermissions ?? []).map((p) => p.AuthorizedResourceAction))],
  }));
  cached = {
    appRoles,
    scopes,
    appRoleByValue: new Map(appRoles.map((r) => [r.value, r])),
    appRoleById: new Map(appRoles.map((r) => [r.id, r])),
    scopeByValue: new Map(scopes.map((s) => [s.value, s])),
    roleDefinitions,
    roleDefinitionById: new Map(roleDefinitions.map((r) => [r.id, r])),
  };
  return cached;
}

/** Well-known built-in role template ids used by the seeded cast (graph-facts §2.1). */
export const ROLE = {
  globalAdministrator: '62e90394-69f5-4237-9190-012177145e10',
  privilegedRoleAdministrator: 'e8611ab8-c189-46e8-94e1-60213ab1f814',
  applicationAdministrator: '9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3',
  userAdministrator: 'fe930be7-5e62-47db-91af-98c3a49a38b1',
  groupsAdministrator: 'fdd7a751-b60b-444a-984c-02652fe8fa1c',
  securityReader: '5d6b6bb7-de71-4623-b4af-96380a352509',
  helpdeskAdministrator: '729827e3-9c14-49f7-bb1b-9608f156bbb8',
} as const;
