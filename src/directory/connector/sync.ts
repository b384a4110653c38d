/**
 * Discovery of one tenant through Graph: full reads of every object kind the model needs, and
 * delta refreshes (users, groups + members, applications, servicePrincipals, oauth2PermissionGrants)
 * merged into the previous tenant block. Owns Graph request shapes and parsing into model records;
 * does not decide what anything means (effective.ts) nor persist (snapshot.ts). Throws on any failure:
 * a part-way sync must never become a snapshot.
 */
import {
  emptyTenant,
  MICROSOFT_GRAPH_APP_ID,
  type ApplicationRecord,
  type AppRoleAssignmentRecord,
  type CredentialRecord,
  type GrantRecord,
  type GroupRecord,
  type RoleAssignmentRecord,
  type RoleDefinitionRecord,
  type RoleScheduleRecord,
  type ServicePrincipalRecord,
  type TenantData,
  type UserRecord,
} from '../model.js';
import { GraphRequestError, type GraphClient } from './graph-client.js';

type Obj = Record<string, unknown>;

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const bool = (v: unknown): boolean | undefined => (typeof v === 'boolean' ? v : undefined);
const arr = (v: unknown): Obj[] => (Array.isArray(v) ? (v.filter((x) => x && typeof x === 'object') as Obj[]) : []);
const strs = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

function opt<K extends string, V>(k: K, v: V | undefined): { [P in K]?: V } {
  return (v === undefined ? {} : { [k]: v }) as { [P in K]?: V };
}

function need(o: Obj, key: string, what: string): string {
  const v = str(o[key]);
  if (!v) throw new GraphRequestError(200, undefined, what, `Graph returned a ${what} without ${key}`);
  return v;
}

// $select lists: only what the model needs (Graph returns secretText only from addPassword, never on reads).
export const SELECT = {
  users: 'id,displayName,userPrincipalName,userType,accountEnabled',
  groups: 'id,displayName,groupTypes,isAssignableToRole,securityEnabled',
  applications: 'id,appId,displayName,signInAudience,tags,passwordCredentials,keyCredentials',
  servicePrincipals: 'id,appId,displayName,servicePrincipalType,appOwnerOrganizationId,accountEnabled,tags,appRoles,oauth2PermissionScopes,passwordCredentials,keyCredentials',
  grants: 'id,clientId,consentType,principalId,resourceId,scope',
  appRoleAssignments: 'id,principalId,principalType,resourceId,appRoleId',
  roleDefinitions: 'id,templateId,displayName,isBuiltIn,rolePermissions',
  roleAssignments: 'id,principalId,roleDefinitionId,directoryScopeId',
  eligibility: 'id,principalId,roleDefinitionId,directoryScopeId,memberType,status,scheduleInfo',
  assignmentSchedules: 'id,principalId,roleDefinitionId,directoryScopeId,memberType,status,scheduleInfo,assignmentType',
} as const;

function credentials(o: Obj): CredentialRecord[] {
  const out: CredentialRecord[] = [];
  for (const [field, kind] of [
    ['passwordCredentials', 'password'],
    ['keyCredentials', 'certificate'],
  ] as const) {
    for (const c of arr(o[field])) {
      const keyId = str(c.keyId);
      if (!keyId) continue;
      // Metadata only: secretText / key are deliberately not copied.
      out.push({ keyId, kind, ...opt('displayName', str(c.displayName)), ...opt('startDateTime', str(c.startDateTime)), ...opt('endDateTime', str(c.endDateTime)) });
    }
  }
  return out;
}

export function parseUser(o: Obj): UserRecord {
  return {
    id: need(o, 'id', 'user'),
    ...opt('displayName', str(o.displayName)),
    ...opt('userPrincipalName', str(o.userPrincipalName)),
    ...opt('userType', str(o.userType)),
    ...opt('accountEnabled', bool(o.accountEnabled)),
  };
}

export function parseGroup(o: Obj, members: string[] = [], owners: string[] = []): GroupRecord {
  return {
    id: need(o, 'id', 'group'),
    ...opt('displayName', str(o.displayName)),
    roleAssignable: o.isAssignableToRole === true,
    dynamic: strs(o.groupTypes).includes('DynamicMembership'),
    ...opt('securityEnabled', bool(o.securityEnabled)),
    members,
    owners,
  };
}

export function parseApplication(o: Obj, owners: string[] = []): ApplicationRecord {
  return {
    id: need(o, 'id', 'application'),
    appId: need(o, 'appId', 'application'),
    ...opt('displayName', str(o.displayName)),
    ...opt('signInAudience', str(o.signInAudience)),
    tags: strs(o.tags),
    owners,
    credentials: credentials(o),
  };
}

export function parseServicePrincipal(o: Obj, owners: string[] = []): ServicePrincipalRecord {
  const odataType = str(o['@odata.type']) ?? '';
  return {
    id: need(o, 'id', 'servicePrincipal'),
    appId: need(o, 'appId', 'servicePrincipal'),
    ...opt('displayName', str(o.displayName)),
    ...opt('servicePrincipalType', str(o.servicePrincipalType)),
    ...opt('appOwnerOrganizationId', str(o.appOwnerOrganizationId)),
    ...opt('accountEnabled', bool(o.accountEnabled)),
    tags: strs(o.tags),
    owners,
    appRoles: arr(o.appRoles).flatMap((r) => {
      const id = str(r.id);
      const value = str(r.value);
      if (!id || !value || r.isEnabled === false) return [];
      return [{ id, value, ...opt('displayName', str(r.displayName)), allowedMemberTypes: strs(r.allowedMemberTypes) }];
    }),
    scopes: arr(o.oauth2PermissionScopes).flatMap((r) => {
      const id = str(r.id);
      const value = str(r.value);
      if (!id || !value || r.isEnabled === false) return [];
      return [{ id, value, ...opt('type', str(r.type)) }];
    }),
    credentials: credentials(o),
    ...(/agentIdentity/i.test(odataType) ? { agentIdentity: true } : {}),
  };
}

export function parseGrant(o: Obj): GrantRecord {
  const consent = str(o.consentType);
  return {
    id: need(o, 'id', 'oauth2PermissionGrant'),
    clientId: need(o, 'clientId', 'oauth2PermissionGrant'),
    consentType: consent === 'AllPrincipals' ? 'AllPrincipals' : 'Principal',
    principalId: consent === 'AllPrincipals' ? null : (str(o.principalId) ?? null),
    resourceId: need(o, 'resourceId', 'oauth2PermissionGrant'),
    scope: typeof o.scope === 'string' ? o.scope.trim() : '',
  };
}

export function parseAppRoleAssignment(o: Obj): AppRoleAssignmentRecord {
  return {
    id: need(o, 'id', 'appRoleAssignment'),
    principalId: need(o, 'principalId', 'appRoleAssignment'),
    ...opt('principalType', str(o.principalType)),
    resourceId: need(o, 'resourceId', 'appRoleAssignment'),
    appRoleId: need(o, 'appRoleId', 'appRoleAssignment'),
  };
}

export function parseRoleDefinition(o: Obj): RoleDefinitionRecord {
  return {
    id: need(o, 'id', 'roleDefinition'),
    ...opt('templateId', str(o.templateId)),
    displayName: str(o.displayName) ?? need(o, 'id', 'roleDefinition'),
    isBuiltIn: o.isBuiltIn === true,
    ...opt('isPrivileged', bool(o.isPrivileged)),
    allowedResourceActions: arr(o.rolePermissions).flatMap((p) => strs(p.allowedResourceActions)),
  };
}

export function parseRoleAssignment(o: Obj): RoleAssignmentRecord {
  return {
    id: need(o, 'id', 'roleAssignment'),
    principalId: need(o, 'principalId', 'roleAssignment'),
    roleDefinitionId: need(o, 'roleDefinitionId', 'roleAssignment'),
    directoryScopeId: str(o.directoryScopeId) ?? '/',
  };
}

export function parseSchedule(o: Obj): RoleScheduleRecord {
  const info = (o.scheduleInfo && typeof o.scheduleInfo === 'object' ? o.scheduleInfo : {}) as Obj;
  const exp = (info.expiration && typeof info.expiration === 'object' ? info.expiration : {}) as Obj;
  return {
    id: need(o, 'id', 'role schedule'),
    principalId: need(o, 'principalId', 'role schedule'),
    roleDefinitionId: need(o, 'roleDefinitionId', 'role schedule'),
    directoryScopeId: str(o.directoryScopeId) ?? '/',
    ...opt('status', str(o.status)),
    ...opt('memberType', str(o.memberType)),
    ...opt('assignmentType', str(o.assignmentType)),
    ...opt('startDateTime', str(info.startDateTime)),
    ...opt('expirationType', str(exp.type)),
    ...opt('endDateTime', str(exp.endDateTime)),
    ...opt('duration', str(exp.duration)),
  };
}

export interface SyncProgress {
  tenantId: string;
  stage: string;
  count: number;
}

export interface DeltaLinks {
  users?: string;
  groups?: string;
  applications?: string;
  servicePrincipals?: string;
  grants?: string;
}

export interface SyncTenantOptions {
  client: GraphClient;
  tenantId: string;
  /** ISO time stamped on the tenant block. */
  syncedAt: string;
  /** 'optional' (default): a tenant without PIM (licence) yields empty schedules and a warning. */
  pim?: 'required' | 'optional';
  /** Read Entra Agent ID objects from beta when the tenant has them (default true). */
  agentIdentities?: boolean;
  /** Use delta queries (record deltaLinks on full sync, apply them on refresh). Default true. */
  delta?: boolean;
  onProgress?: (p: SyncProgress) => void;
}

export interface TenantSyncResult {
  data: TenantData;
  deltaLinks: DeltaLinks;
  warnings: string[];
  mode: 'full' | 'delta';
}

async function mapLimited<T, R>(items: readonly T[], fn: (t: T) => Promise<R>, width = 16): Promise<R[]> {
  // The Graph client enforces the real HTTP concurrency; this only avoids creating millions of promises at once.
  const out = new Array<R>(items.length);
  let i = 0;
  const worker = async (): Promise<void> => {
    while (i < items.length) {
      const k = i++;
      out[k] = await fn(items[k] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
  return out;
}

const ids = (items: Obj[]): string[] => items.map((x) => str(x.id)).filter((x): x is string => x !== undefined);

async function listOwners(client: GraphClient, kind: string, id: string): Promise<string[]> {
  return ids((await client.list(`/v1.0/${kind}/${encodeURIComponent(id)}/owners?$select=id`)).items);
}

async function listMembers(client: GraphClient, id: string): Promise<string[]> {
  return ids((await client.list(`/v1.0/groups/${encodeURIComponent(id)}/members?$select=id&$top=999`)).items);
}

function isAbsent(err: unknown): boolean {
  return err instanceof GraphRequestError && (err.status === 400 || err.status === 403 || err.status === 404);
}

/** Optional features (delta tokens, beta Agent ID lists): a client error or 501 means "not here", not a failed sync. */
function isUnsupported(err: unknown): boolean {
  return err instanceof GraphRequestError && ((err.status >= 400 && err.status < 500 && err.status !== 401 && err.status !== 429) || err.status === 501);
}

/** Latest delta token for a collection (`$deltatoken=latest`), or undefined when Graph refuses delta there. */
async function latestDelta(client: GraphClient, path: string): Promise<string | undefined> {
  try {
    const res = await client.list(`${path}${path.includes('?') ? '&' : '?'}$deltatoken=latest`);
    return res.deltaLink;
  } catch (err) {
    if (isUnsupported(err)) return undefined;
    throw err;
  }
}

const DELTA_PATHS = {
  users: `/v1.0/users/delta?$select=${SELECT.users}`,
  groups: `/v1.0/groups/delta?$select=${SELECT.groups},members`,
  applications: `/v1.0/applications/delta?$select=${SELECT.applications}`,
  servicePrincipals: `/v1.0/servicePrincipals/delta?$select=${SELECT.servicePrincipals}`,
  grants: `/v1.0/oauth2PermissionGrants/delta?$select=${SELECT.grants}`,
} as const;

async function readRolesAndPim(o: SyncTenantOptions, t: TenantData, warnings: string[]): Promise<void> {
  const { client } = o;
  const progress = (stage: string, count: number): void => o.onProgress?.({ tenantId: o.tenantId, stage, count });
  t.roleDefinitions = (await client.list(`/v1.0/roleManagement/directory/roleDefinitions?$select=${SELECT.roleDefinitions}`)).items.map(parseRoleDefinition);
  progress('roleDefinitions', t.roleDefinitions.length);
  t.roleAssignments = (await client.list(`/v1.0/roleManagement/directory/roleAssignments?$select=${SELECT.roleAssignments}`)).items.map(parseRoleAssignment);
  progress('roleAssignments', t.roleAssignments.length);
  for (const [field, path, sel] of [
    ['roleEligibilitySchedules', 'roleEligibilitySchedules', SELECT.eligibility],
    ['roleAssignmentSchedules', 'roleAssignmentSchedules', SELECT.assignmentSchedules],
  ] as const) {
    try {
      t[field] = (await client.list(`/v1.0/roleManagement/directory/${path}?$select=${sel}`)).items.map(parseSchedule);
      progress(field, t[field].length);
    } catch (err) {
      if (o.pim === 'required' || !isAbsent(err)) throw err;
      warnings.push(`PIM ${path} not readable (${(err as GraphRequestError).status}): eligible and time-bound roles are not known`);
      t[field] = [];
    }
  }
}

async function readAppRoleAssignments(o: SyncTenantOptions, t: TenantData): Promise<void> {
  // appRoleAssignedTo on each resource SP that defines app roles: assignments of the default
  // (no-role) id on role-less apps grant no permission, so those SPs are skipped.
  // Microsoft Graph's SP is always read, even if its appRoles came back empty: its assignments are the
  // Graph application permissions (names then come from the shipped table).
  const resources = t.servicePrincipals.filter((s) => s.appRoles.length > 0 || s.appId.toLowerCase() === MICROSOFT_GRAPH_APP_ID);
  let n = 0;
  const lists = await mapLimited(resources, async (sp) => {
    const items = (await o.client.list(`/v1.0/servicePrincipals/${encodeURIComponent(sp.id)}/appRoleAssignedTo?$select=${SELECT.appRoleAssignments}&$top=999`)).items;
    n += items.length;
    o.onProgress?.({ tenantId: o.tenantId, stage: 'appRoleAssignments', count: n });
    return items.map(parseAppRoleAssignment);
  });
  t.appRoleAssignments = lists.flat();
}

async function readAgentIdentities(o: SyncTenantOptions, t: TenantData, warnings: string[]): Promise<void> {
  if (o.agentIdentities === false) return;
  const spIds = new Map(t.servicePrincipals.map((s) => [s.id, s]));
  const appIds = new Map(t.applications.map((a) => [a.id, a]));
  for (const path of ['servicePrincipals/microsoft.graph.agentIdentity', 'servicePrincipals/microsoft.graph.agentIdentityBlueprintPrincipal', 'applications/microsoft.graph.agentIdentityBlueprint']) {
    let items: Obj[];
    try {
      items = (await o.client.list(`/beta/${path}?$select=id,appId,displayName,tags,accountEnabled`)).items;
    } catch (err) {
      // Agent ID is a beta feature: a tenant or cloud without it answers 400/403/404 (or 501).
      if (isUnsupported(err)) continue;
      throw err;
    }
    for (const item of items) {
      const id = str(item.id);
      if (!id) continue;
      if (path.startsWith('applications/')) {
        const app = appIds.get(id);
        if (app) app.agentIdentity = true;
        else if (str(item.appId)) t.applications.push({ ...parseApplication(item, await listOwners(o.client, 'applications', id)), agentIdentity: true });
      } else {
        const sp = spIds.get(id);
        if (sp) sp.agentIdentity = true;
        else if (str(item.appId)) t.servicePrincipals.push({ ...parseServicePrincipal(item, await listOwners(o.client, 'servicePrincipals', id)), agentIdentity: true });
        else warnings.push(`agent identity ${id} has no appId; skipped`);
      }
    }
    o.onProgress?.({ tenantId: o.tenantId, stage: 'agentIdentities', count: items.length });
  }
}

/** Reads a whole tenant. Any error propagates: the caller keeps its previous snapshot. */
export async function fullSyncTenant(o: SyncTenantOptions): Promise<TenantSyncResult> {
  const { client } = o;
  const t = emptyTenant(o.tenantId, o.syncedAt);
  const warnings: string[] = [];
  const progress = (stage: string, count: number): void => o.onProgress?.({ tenantId: o.tenantId, stage, count });
  const deltaLinks: DeltaLinks = {};
  if (o.delta !== false) {
    // Tokens first: changes made while the lists are read show up again in the next delta (idempotent).
    for (const k of Object.keys(DELTA_PATHS) as Array<keyof typeof DELTA_PATHS>) {
      const link = await latestDelta(client, DELTA_PATHS[k]);
      if (link) deltaLinks[k] = link;
    }
  }
  const users = await client.list(`/v1.0/users?$select=${SELECT.users}&$top=999`, (n) => progress('users', n));
  t.users = users.items.map(parseUser);
  const groups = (await client.list(`/v1.0/groups?$select=${SELECT.groups}&$top=999`, (n) => progress('groups', n))).items;
  let done = 0;
  t.groups = await mapLimited(groups, async (g) => {
    const id = need(g, 'id', 'group');
    const [members, owners] = await Promise.all([listMembers(client, id), listOwners(client, 'groups', id)]);
    progress('groupMembers', ++done);
    return parseGroup(g, members, owners);
  });
  const apps = (await client.list(`/v1.0/applications?$select=${SELECT.applications}&$top=999`, (n) => progress('applications', n))).items;
  done = 0;
  t.applications = await mapLimited(apps, async (a) => {
    const r = parseApplication(a, await listOwners(client, 'applications', need(a, 'id', 'application')));
    progress('applicationOwners', ++done);
    return r;
  });
  const sps = (await client.list(`/v1.0/servicePrincipals?$select=${SELECT.servicePrincipals}&$top=999`, (n) => progress('servicePrincipals', n))).items;
  done = 0;
  t.servicePrincipals = await mapLimited(sps, async (s) => {
    const r = parseServicePrincipal(s, await listOwners(client, 'servicePrincipals', need(s, 'id', 'servicePrincipal')));
    progress('servicePrincipalOwners', ++done);
    return r;
  });
  t.grants = (await client.list(`/v1.0/oauth2PermissionGrants?$select=${SELECT.grants}`)).items.map(parseGrant);
  progress('oauth2PermissionGrants', t.grants.length);
  await readAgentIdentities(o, t, warnings);
  await readAppRoleAssignments(o, t);
  await readRolesAndPim(o, t, warnings);
  return { data: t, deltaLinks, warnings, mode: 'full' };
}

/** Graph's answer when a delta token is no longer usable: start again with a full sync. */
export function isDeltaExpired(err: unknown): boolean {
  return (
    err instanceof GraphRequestError &&
    (err.status === 410 || err.graphCode === 'syncStateNotFound' || err.graphCode === 'resyncRequired' || (err.status === 400 && /delta|sync/i.test(err.graphCode ?? '')))
  );
}

export class DeltaExpiredError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeltaExpiredError';
  }
}

function isRemoved(o: Obj): boolean {
  return o['@removed'] !== undefined && o['@removed'] !== null;
}

/**
 * Applies delta changes to the previous tenant block. Objects not covered by Graph delta (owners of
 * changed objects, app role assignments, roles and PIM schedules) are re-read. Throws DeltaExpiredError
 * when a token has expired (410 syncStateNotFound / resyncRequired) so the caller runs a full sync.
 */
export async function deltaSyncTenant(o: SyncTenantOptions, prev: TenantData, links: DeltaLinks): Promise<TenantSyncResult> {
  const { client } = o;
  const keys = Object.keys(DELTA_PATHS) as Array<keyof typeof DELTA_PATHS>;
  if (keys.some((k) => !links[k])) throw new DeltaExpiredError('no delta token for every collection');
  const warnings: string[] = [];
  const fetched = {} as Record<keyof typeof DELTA_PATHS, { items: Obj[]; deltaLink?: string }>;
  try {
    for (const k of keys) fetched[k] = await client.list(links[k] as string, (n) => o.onProgress?.({ tenantId: o.tenantId, stage: `${k}Delta`, count: n }));
  } catch (err) {
    if (isDeltaExpired(err)) throw new DeltaExpiredError(`delta token expired: ${(err as Error).message}`);
    throw err;
  }
  const next: DeltaLinks = {};
  for (const k of keys) {
    const dl = fetched[k].deltaLink;
    if (!dl) throw new DeltaExpiredError(`delta for ${k} ended without a deltaLink`);
    next[k] = dl;
  }
  const t: TenantData = { ...prev, syncedAt: o.syncedAt };

  const users = new Map(prev.users.map((u) => [u.id, u]));
  for (const c of fetched.users.items) {
    const id = str(c.id);
    if (!id) continue;
    if (isRemoved(c)) users.delete(id);
    else users.set(id, { ...users.get(id), ...parseUser({ ...(users.get(id) as Obj | undefined), ...c }) });
  }
  t.users = [...users.values()];

  const changedOwners: Array<['groups' | 'applications' | 'servicePrincipals', string]> = [];
  const groups = new Map(prev.groups.map((g) => [g.id, { ...g, members: [...g.members] }]));
  for (const c of fetched.groups.items) {
    const id = str(c.id);
    if (!id) continue;
    if (isRemoved(c)) {
      groups.delete(id);
      continue;
    }
    const old = groups.get(id);
    const base: Obj = old ? { id, displayName: old.displayName, isAssignableToRole: old.roleAssignable, groupTypes: old.dynamic ? ['DynamicMembership'] : [], securityEnabled: old.securityEnabled } : {};
    const merged = parseGroup({ ...base, ...c }, old?.members ?? [], old?.owners ?? []);
    const members = new Set(merged.members);
    // members@delta: additions, and removals flagged with @removed.
    for (const m of arr(c['members@delta'])) {
      const mid = str(m.id);
      if (!mid) continue;
      if (isRemoved(m)) members.delete(mid);
      else members.add(mid);
    }
    merged.members = [...members];
    groups.set(id, merged);
    changedOwners.push(['groups', id]);
  }
  t.groups = [...groups.values()];

  const apps = new Map(prev.applications.map((a) => [a.id, a]));
  for (const c of fetched.applications.items) {
    const id = str(c.id);
    if (!id) continue;
    if (isRemoved(c)) {
      apps.delete(id);
      continue;
    }
    const old = apps.get(id);
    const base: Obj = old ? { id, appId: old.appId, displayName: old.displayName, signInAudience: old.signInAudience, tags: old.tags, passwordCredentials: old.credentials.filter((x) => x.kind === 'password'), keyCredentials: old.credentials.filter((x) => x.kind === 'certificate') } : {};
    apps.set(id, { ...parseApplication({ ...base, ...c }, old?.owners ?? []), ...(old?.agentIdentity ? { agentIdentity: true } : {}) });
    changedOwners.push(['applications', id]);
  }
  t.applications = [...apps.values()];

  const sps = new Map(prev.servicePrincipals.map((s) => [s.id, s]));
  for (const c of fetched.servicePrincipals.items) {
    const id = str(c.id);
    if (!id) continue;
    if (isRemoved(c)) {
      sps.delete(id);
      continue;
    }
    const old = sps.get(id);
    const base: Obj = old
      ? {
          id,
          appId: old.appId,
          displayName: old.displayName,
          servicePrincipalType: old.servicePrincipalType,
          appOwnerOrganizationId: old.appOwnerOrganizationId,
          accountEnabled: old.accountEnabled,
          tags: old.tags,
          appRoles: old.appRoles.map((r) => ({ ...r, isEnabled: true })),
          oauth2PermissionScopes: old.scopes.map((r) => ({ ...r, isEnabled: true })),
          passwordCredentials: old.credentials.filter((x) => x.kind === 'password'),
          keyCredentials: old.credentials.filter((x) => x.kind === 'certificate'),
        }
      : {};
    sps.set(id, { ...parseServicePrincipal({ ...base, ...c }, old?.owners ?? []), ...(old?.agentIdentity ? { agentIdentity: true } : {}) });
    changedOwners.push(['servicePrincipals', id]);
  }
  t.servicePrincipals = [...sps.values()];

  const grants = new Map(prev.grants.map((g) => [g.id, g]));
  for (const c of fetched.grants.items) {
    const id = str(c.id);
    if (!id) continue;
    if (isRemoved(c)) grants.delete(id);
    else {
      const old = grants.get(id);
      grants.set(id, parseGrant({ ...(old as Obj | undefined), ...c }));
    }
  }
  t.grants = [...grants.values()];

  // Owners are not part of delta: re-read them for every object delta reported as changed.
  const ownersOf = new Map<string, string[]>();
  await mapLimited(changedOwners, async ([kind, id]) => {
    ownersOf.set(id, await listOwners(client, kind, id));
  });
  t.groups = t.groups.map((g) => (ownersOf.has(g.id) ? { ...g, owners: ownersOf.get(g.id) as string[] } : g));
  t.applications = t.applications.map((a) => (ownersOf.has(a.id) ? { ...a, owners: ownersOf.get(a.id) as string[] } : a));
  t.servicePrincipals = t.servicePrincipals.map((s) => (ownersOf.has(s.id) ? { ...s, owners: ownersOf.get(s.id) as string[] } : s));

  await readAppRoleAssignments(o, t);
  await readRolesAndPim(o, t, warnings);
  return { data: t, deltaLinks: next, warnings, mode: 'delta' };
}
