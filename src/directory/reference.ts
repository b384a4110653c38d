/**
 * The shipped reference tables the model falls back to: Microsoft Graph app roles and scopes
 * (GUID → name), their Enterprise Access Model tiers, and built-in Entra role definitions.
 * Owns reading data/ once; does not read the tenant (the tenant's own Graph SP wins over these).
 */
import { readFileSync } from 'node:fs';

export type Tier = 'ControlPlane' | 'ManagementPlane' | 'UserAccess' | 'Unclassified';

export interface BuiltInRole {
  templateId: string;
  displayName: string;
  isPrivileged: boolean;
  actions: string[];
  /** Highest tier among the role's actions (ControlPlane > ManagementPlane > UserAccess). */
  tier: Tier;
}

export interface ReferenceData {
  /** Graph application permission GUID → name. */
  graphAppRoleById: ReadonlyMap<string, string>;
  /** Graph delegated scope GUID → name. */
  graphScopeById: ReadonlyMap<string, string>;
  /** Graph permission name → human display name (app role DisplayName / scope AdminConsentDisplayName). */
  displayName: ReadonlyMap<string, string>;
  /** Application permission name → tier. */
  appRoleTier: ReadonlyMap<string, Tier>;
  /** Delegated scope name → tier. */
  scopeTier: ReadonlyMap<string, Tier>;
  /** Built-in roles by template id. */
  roles: ReadonlyMap<string, BuiltInRole>;
}

const TIER_RANK: Record<Tier, number> = { ControlPlane: 3, ManagementPlane: 2, UserAccess: 1, Unclassified: 0 };

export function higherTier(a: Tier, b: Tier): Tier {
  return TIER_RANK[a] >= TIER_RANK[b] ? a : b;
}

function asTier(v: unknown): Tier {
  return v === 'ControlPlane' || v === 'ManagementPlane' || v === 'UserAccess' ? v : 'Unclassified';
}

function readJson(rel: string, dataDir: URL): unknown {
  return JSON.parse(readFileSync(new URL(rel, dataDir), 'utf8'));
}

type Row = Record<string, unknown>;

function rows(v: unknown): Row[] {
  return Array.isArray(v) ? (v.filter((r) => r && typeof r === 'object') as Row[]) : [];
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** Builds the tables from the parsed files (exported for tests with tiny inputs). */
export function buildReferenceData(files: {
  appRoles: unknown;
  scopes: unknown;
  appRoleTiers: unknown;
  scopeTiers: unknown;
  roles: unknown;
}): ReferenceData {
  const graphAppRoleById = new Map<string, string>();
  const graphScopeById = new Map<string, string>();
  const displayName = new Map<string, string>();
  for (const r of rows(files.appRoles)) {
    const id = str(r.Id);
    const value = str(r.Value);
    if (id && value) {
      graphAppRoleById.set(id.toLowerCase(), value);
      const dn = str(r.DisplayName);
      if (dn) displayName.set(`Application:${value}`, dn);
    }
  }
  for (const r of rows(files.scopes)) {
    const id = str(r.Id);
    const value = str(r.Value);
    if (id && value) {
      graphScopeById.set(id.toLowerCase(), value);
      const dn = str(r.AdminConsentDisplayName);
      if (dn) displayName.set(`DelegatedWork:${value}`, dn);
    }
  }
  const appRoleTier = new Map<string, Tier>();
  for (const r of rows(files.appRoleTiers)) {
    const name = str(r.AppRoleDisplayName);
    if (name) appRoleTier.set(name, asTier(r.EAMTierLevelName));
  }
  const scopeTier = new Map<string, Tier>();
  for (const r of rows(files.scopeTiers)) {
    const name = str(r.ScopeDisplayName);
    if (name) scopeTier.set(name, asTier(r.EAMTierLevelName));
  }
  const roles = new Map<string, BuiltInRole>();
  for (const r of rows(files.roles)) {
    const id = str(r.RoleId);
    if (!id) continue;
    let tier: Tier = 'Unclassified';
    const actions: string[] = [];
    for (const p of rows(r.RolePermissions)) {
      const a = str(p.AuthorizedResourceAction);
      if (a) actions.push(a);
      tier = higherTier(tier, asTier(p.EAMTierLevelName));
    }
    roles.set(id.toLowerCase(), {
      templateId: id.toLowerCase(),
      displayName: str(r.RoleName) ?? id,
      isPrivileged: r.isPrivileged === true,
      actions,
      tier,
    });
  }
  return { graphAppRoleById, graphScopeById, displayName, appRoleTier, scopeTier, roles };
}

let cached: ReferenceData | undefined;

/** Loads data/ shipped with the product (relative to this module in src/ and dist/ alike). */
export function loadReferenceData(dataDir: URL = new URL('../../data/', import.meta.url)): ReferenceData {
  if (cached && dataDir.href === new URL('../../data/', import.meta.url).href) return cached;
  const data = buildReferenceData({
    appRoles: readJson('graph-permissions/GraphAppRoles.json', dataDir),
    scopes: readJson('graph-permissions/GraphDelegateRoles.json', dataDir),
    appRoleTiers: readJson('graph-permissions/Classification_MsGraphAppRoles.json', dataDir),
    scopeTiers: readJson('graph-permissions/Classification_MsGraphScopes.json', dataDir),
    roles: readJson('entra-roles/Classification_EntraIdDirectoryRoles.json', dataDir),
  });
  if (dataDir.href === new URL('../../data/', import.meta.url).href) cached = data;
  return data;
}
