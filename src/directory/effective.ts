/**
 * Effective permissions: what a principal can do right now, on which resources, and because of which
 * assignment, grant, role, group or ownership. Pure: data and `now` in, answers out. Implements the
 * DirectoryView contract over a Snapshot; does not fetch or persist anything.
 */
import type { Principal } from '../identity/principal.js';
import { MICROSOFT_GRAPH_APP_ID, type RoleScheduleRecord, type ServicePrincipalRecord } from './model.js';
import { higherTier, type ReferenceData, type Tier } from './reference.js';
import type { Snapshot, TenantIndex } from './snapshot.js';
import type {
  AgentInfo,
  Capability,
  DirectoryObjectInfo,
  DirectoryView,
  EffectivePermissions,
  HeldPermission,
  HeldRole,
  Provenance,
  WithheldPermission,
} from './view.js';

const DEFAULT_APP_ROLE_ID = '00000000-0000-0000-0000-000000000000';

/** ISO 8601 duration (PnYnMnWnDTnHnMnS) → ms; Y and M are taken as 365 and 30 days. undefined if unparsable. */
export function parseIsoDuration(d: string): number | undefined {
  const m = /^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(d);
  if (!m || d === 'P' || d.endsWith('T')) return undefined;
  const n = (i: number): number => (m[i] ? Number(m[i]) : 0);
  const day = 86_400_000;
  return n(1) * 365 * day + n(2) * 30 * day + n(3) * 7 * day + n(4) * day + n(5) * 3_600_000 + n(6) * 60_000 + n(7) * 1000;
}

export interface Window {
  start?: number;
  end?: number;
}

/** The time window of a PIM schedule (scheduleInfo.expiration: noExpiration / afterDateTime / afterDuration). */
export function scheduleWindow(s: RoleScheduleRecord): Window {
  const w: Window = {};
  if (s.startDateTime) {
    const t = Date.parse(s.startDateTime);
    if (!Number.isNaN(t)) w.start = t;
  }
  const type = s.expirationType?.toLowerCase();
  if (type === 'noexpiration') return w;
  if (type === 'afterduration' && s.duration) {
    const ms = parseIsoDuration(s.duration);
    // An unreadable duration or a missing start must not turn a bounded schedule into a permanent one.
    w.end = ms !== undefined && w.start !== undefined ? w.start + ms : (w.start ?? 0);
    return w;
  }
  if (s.endDateTime) {
    const t = Date.parse(s.endDateTime);
    w.end = Number.isNaN(t) ? 0 : t;
  } else if (type === 'afterdatetime') {
    w.end = 0;
  }
  return w;
}

/** A schedule counts only when Provisioned (PIM's status for an in-force schedule) and inside its window. */
export function scheduleInForce(s: RoleScheduleRecord, now: number): boolean {
  if (s.status !== undefined && s.status.toLowerCase() !== 'provisioned') return false;
  const w = scheduleWindow(s);
  return (w.start === undefined || w.start <= now) && (w.end === undefined || now < w.end);
}

interface ResolvedRole {
  key: string;
  roleDefinitionId: string;
  templateId?: string;
  displayName: string;
  privileged: boolean;
  actions: readonly string[];
  tier: Tier;
}

function resolveRole(t: TenantIndex, refs: ReferenceData, roleDefinitionId: string): ResolvedRole {
  const id = roleDefinitionId.toLowerCase();
  const def = t.roleDefinitions.get(id);
  const builtIn = refs.roles.get(def?.templateId?.toLowerCase() ?? id) ?? refs.roles.get(id);
  const actions = def && def.allowedResourceActions.length > 0 ? def.allowedResourceActions : (builtIn?.actions ?? []);
  let tier: Tier = builtIn?.tier ?? 'Unclassified';
  if (!builtIn && actions.some(isControlPlaneAction)) tier = 'ControlPlane';
  const templateId = def?.templateId?.toLowerCase() ?? (builtIn ? builtIn.templateId : undefined);
  return {
    key: templateId ?? def?.id.toLowerCase() ?? id,
    roleDefinitionId,
    ...(templateId ? { templateId } : {}),
    displayName: def?.displayName ?? builtIn?.displayName ?? roleDefinitionId,
    privileged: def?.isPrivileged ?? builtIn?.isPrivileged ?? false,
    actions,
    tier,
  };
}

const CONTROL_PLANE_ACTION =
  /^microsoft\.directory\/(roleAssignments|roleDefinitions|privilegedIdentityManagement|applications\/credentials|servicePrincipals\/credentials|servicePrincipals\/appRoleAssignedTo|oAuth2PermissionGrants|conditionalAccessPolicies|users\/authenticationMethods|users\/password)/;

function isControlPlaneAction(a: string): boolean {
  return CONTROL_PLANE_ACTION.test(a) && !a.endsWith('/read');
}

// ---------------------------------------------------------------------------------------------
// Delegated: a granted scope is only as strong as the signed-in user. Directory writes need the
// user to hold a role whose resource actions cover them (Graph delegated permissions doc: "the
// app can never have more privileges than the signed-in user"); some also work on owned objects.

interface Gate {
  scope: RegExp;
  actions: RegExp;
  write: boolean;
  owned?: ReadonlyArray<'application' | 'servicePrincipal' | 'group'>;
  /** Without a role the scope still works on the signed-in user's own object (e.g. their profile). */
  self?: boolean;
  /** Gate only guests (members read the directory by default). */
  guestsOnly?: boolean;
}

const GATES: readonly Gate[] = [
  { scope: /^RoleManagement\.ReadWrite\.|^RoleAssignmentSchedule\.ReadWrite\.|^RoleEligibilitySchedule\.ReadWrite\./, actions: /^microsoft\.directory\/(roleAssignments|roleDefinitions|privilegedIdentityManagement)\//, write: true },
  { scope: /^PrivilegedAccess\.ReadWrite\./, actions: /^microsoft\.directory\/privilegedIdentityManagement\//, write: true },
  { scope: /^AppRoleAssignment\.ReadWrite\.All$/, actions: /^microsoft\.directory\/servicePrincipals\/(appRoleAssignedTo|allProperties)\//, write: true, owned: ['servicePrincipal'] },
  { scope: /^DelegatedPermissionGrant\.ReadWrite\.All$/, actions: /^microsoft\.directory\/(oAuth2PermissionGrants\/|servicePrincipals\/managePermissionGrants)/, write: true },
  { scope: /^Application\.ReadWrite\.All$/, actions: /^microsoft\.directory\/(applications|servicePrincipals)\//, write: true, owned: ['application', 'servicePrincipal'] },
  { scope: /^User\.ReadWrite\.All$/, actions: /^microsoft\.directory\/users\//, write: true, self: true },
  { scope: /^User\.EnableDisableAccount\.All$/, actions: /^microsoft\.directory\/users\//, write: true },
  { scope: /^UserAuthenticationMethod\.ReadWrite\.All$|^User\.ManageIdentities\.All$/, actions: /^microsoft\.directory\/users\/(authenticationMethods|password|identities)/, write: true },
  { scope: /^Group\.ReadWrite\.All$|^GroupMember\.ReadWrite\.All$/, actions: /^microsoft\.directory\/groups(\.[a-z]+)?\//i, write: true, owned: ['group'] },
  { scope: /^Directory\.ReadWrite\.All$/, actions: /^microsoft\.directory\//, write: true, owned: ['application', 'servicePrincipal', 'group'], self: true },
  { scope: /^Policy\.ReadWrite\./, actions: /^microsoft\.directory\/[A-Za-z]*[Pp]olic/, write: true },
  { scope: /^Domain\.ReadWrite\.All$/, actions: /^microsoft\.directory\/domains\//, write: true },
  { scope: /^Organization\.ReadWrite\.All$/, actions: /^microsoft\.directory\/organization\//, write: true },
  { scope: /^AdministrativeUnit\.ReadWrite\.All$/, actions: /^microsoft\.directory\/administrativeUnits\//, write: true },
  { scope: /^(User|Group|GroupMember|Directory|Application)\.Read(Basic)?\.All$/, actions: /^microsoft\.directory\//, write: false, guestsOnly: true },
];

function roleCovers(actions: readonly string[], gate: Gate): boolean {
  return actions.some((a) => gate.actions.test(a) && (!gate.write || !a.endsWith('/read')));
}

// ---------------------------------------------------------------------------------------------
// Normalised capabilities.

interface CapDef {
  action: string;
  noun: string;
  nouns: string;
  verb: string;
  tier: Tier;
}

const CAPS: Record<string, CapDef> = {
  'add-credentials': { action: 'add-credentials', verb: 'add credentials to', noun: 'application or service principal', nouns: 'applications / service principals', tier: 'ControlPlane' },
  'assign-directory-roles': { action: 'assign-directory-roles', verb: 'assign directory roles on', noun: 'scope', nouns: 'scopes', tier: 'ControlPlane' },
  'grant-app-permissions': { action: 'grant-app-permissions', verb: 'grant application permissions (app role assignments) on', noun: 'resource', nouns: 'resources', tier: 'ControlPlane' },
  'grant-delegated-permissions': { action: 'grant-delegated-permissions', verb: 'grant delegated permissions (consent) on', noun: 'resource', nouns: 'resources', tier: 'ControlPlane' },
  'change-group-membership': { action: 'change-group-membership', verb: 'change membership of', noun: 'group', nouns: 'groups', tier: 'ControlPlane' },
  'manage-users': { action: 'manage-users', verb: 'update or delete', noun: 'user', nouns: 'users', tier: 'ControlPlane' },
  'reset-authentication': { action: 'reset-authentication', verb: 'reset passwords or authentication methods of', noun: 'user', nouns: 'users', tier: 'ControlPlane' },
  'change-conditional-access': { action: 'change-conditional-access', verb: 'change', noun: 'conditional access policy', nouns: 'conditional access policies', tier: 'ControlPlane' },
  'read-mail': { action: 'read-mail', verb: 'read', noun: 'mailbox', nouns: 'mailboxes', tier: 'ManagementPlane' },
  'send-mail': { action: 'send-mail', verb: 'send mail as', noun: 'user', nouns: 'users', tier: 'ManagementPlane' },
  'read-files': { action: 'read-files', verb: 'read files in', noun: 'site or drive', nouns: 'sites and drives', tier: 'ManagementPlane' },
  'write-files': { action: 'write-files', verb: 'change files in', noun: 'site or drive', nouns: 'sites and drives', tier: 'ManagementPlane' },
  'read-directory': { action: 'read-directory', verb: 'read', noun: 'directory object', nouns: 'directory objects', tier: 'UserAccess' },
};

const PERMISSION_CAPS: ReadonlyArray<[RegExp, string[]]> = [
  [/^Application\.ReadWrite\.All$/, ['add-credentials']],
  [/^AppRoleAssignment\.ReadWrite\.All$/, ['grant-app-permissions']],
  [/^DelegatedPermissionGrant\.ReadWrite\.All$/, ['grant-delegated-permissions']],
  [/^RoleManagement\.ReadWrite\.Directory$|^RoleAssignmentSchedule\.ReadWrite\.Directory$/, ['assign-directory-roles']],
  [/^Group\.ReadWrite\.All$|^GroupMember\.ReadWrite\.All$/, ['change-group-membership']],
  [/^Directory\.ReadWrite\.All$/, ['change-group-membership', 'manage-users', 'add-credentials']],
  [/^User\.ReadWrite\.All$/, ['manage-users']],
  [/^UserAuthenticationMethod\.ReadWrite\.All$/, ['reset-authentication']],
  [/^Policy\.ReadWrite\.ConditionalAccess$/, ['change-conditional-access']],
  [/^Mail\.(Read|ReadBasic|ReadWrite)(\.All)?$/, ['read-mail']],
  [/^Mail\.Send$/, ['send-mail']],
  [/^(Files|Sites)\.Read\.All$/, ['read-files']],
  [/^(Files|Sites)\.(ReadWrite|FullControl|Manage)\.All$/, ['read-files', 'write-files']],
  [/^Directory\.Read\.All$/, ['read-directory']],
];

const ROLE_ACTION_CAPS: ReadonlyArray<[RegExp, string]> = [
  [/^microsoft\.directory\/(applications|servicePrincipals)\/(credentials\/update|allProperties\/(update|allTasks))$/, 'add-credentials'],
  [/^microsoft\.directory\/roleAssignments\/(create|allProperties\/(update|allTasks))$/, 'assign-directory-roles'],
  [/^microsoft\.directory\/servicePrincipals\/appRoleAssignedTo\/update$/, 'grant-app-permissions'],
  [/^microsoft\.directory\/(oAuth2PermissionGrants\/(create|allProperties\/(update|allTasks))|servicePrincipals\/managePermissionGrantsForAll\.)/, 'grant-delegated-permissions'],
  [/^microsoft\.directory\/groups(\.[a-z]+)?\/(members\/update|allProperties\/(update|allTasks))$/i, 'change-group-membership'],
  [/^microsoft\.directory\/users\/(basic\/update|delete|allProperties\/(update|allTasks))$/, 'manage-users'],
  [/^microsoft\.directory\/users\/(password\/update|authenticationMethods\/[a-zA-Z]+\/update|authenticationMethods\/(create|delete|basic\/update))$/, 'reset-authentication'],
  [/^microsoft\.directory\/conditionalAccessPolicies\/(create|delete|basic\/update|allProperties\/(update|allTasks))/, 'change-conditional-access'],
];

function describeCap(def: CapDef, resources: 'any' | readonly string[]): string {
  if (resources === 'any') return `${def.verb} any ${def.noun}`;
  const n = resources.length;
  return n === 1 ? `${def.verb} 1 ${def.noun}` : `${def.verb} these ${n} ${def.nouns}`;
}

class CapabilityBuilder {
  #caps = new Map<string, { def: CapDef; any: boolean; ids: Set<string>; via: Provenance[]; tier: Tier; latent: boolean }>();
  #graph: Capability[] = [];

  add(action: string, resources: 'any' | readonly string[], via: Provenance[], latent = false, tier?: Tier): void {
    const def = CAPS[action];
    if (!def) return;
    const key = `${action}|${latent ? 'latent' : 'now'}`;
    let c = this.#caps.get(key);
    if (!c) {
      c = { def, any: false, ids: new Set(), via: [], tier: def.tier, latent };
      this.#caps.set(key, c);
    }
    if (resources === 'any') c.any = true;
    else for (const r of resources) c.ids.add(r);
    if (tier) c.tier = higherTier(c.tier, tier);
    for (const v of via) if (!c.via.some((x) => x.kind === v.kind && x.id === v.id)) c.via.push(v);
  }

  addGraph(cap: Capability): void {
    this.#graph.push(cap);
  }

  build(): Capability[] {
    const out: Capability[] = [];
    for (const c of this.#caps.values()) {
      const resources: 'any' | string[] = c.any ? 'any' : [...c.ids].sort();
      out.push({
        action: c.def.action,
        description: describeCap(c.def, resources),
        resources,
        tier: c.tier,
        ...(c.latent ? { latent: true } : {}),
        via: c.via,
      });
    }
    out.sort((a, b) => a.action.localeCompare(b.action) || Number(a.latent ?? false) - Number(b.latent ?? false));
    return [...out, ...this.#graph];
  }
}

function scopeResources(directoryScopeId: string): 'any' | string[] {
  if (directoryScopeId === '/' || directoryScopeId === '') return 'any';
  if (directoryScopeId.startsWith('/administrativeUnits/')) return [directoryScopeId];
  return [directoryScopeId.replace(/^\//, '')];
}

function addRoleCaps(b: CapabilityBuilder, role: HeldRole, resolved: ResolvedRole, latent: boolean): void {
  const done = new Set<string>();
  for (const a of resolved.actions) {
    for (const [re, action] of ROLE_ACTION_CAPS) {
      if (!done.has(action) && re.test(a)) {
        done.add(action);
        b.add(action, scopeResources(role.directoryScopeId), role.via, latent);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------

export interface EffectiveOptions {
  refs: ReferenceData;
}


/** Group ids reachable upward from `id` (transitive memberOf), each with the chain that reaches it; cycle-safe. */
export function transitiveGroups(t: TenantIndex, id: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const queue: Array<[string, string[]]> = [[id, []]];
  while (queue.length > 0) {
    const [cur, path] = queue.shift() as [string, string[]];
    for (const g of t.memberOf.get(cur) ?? []) {
      if (out.has(g) || g === id) continue;
      const p = [...path, g];
      out.set(g, p);
      queue.push([g, p]);
    }
  }
  return out;
}

function groupName(t: TenantIndex, id: string): string {
  return t.groups.get(id)?.displayName ?? id;
}

function scopeLabel(directoryScopeId: string): string {
  return directoryScopeId === '/' ? 'tenant-wide' : `scope ${directoryScopeId}`;
}

/** Active and eligible directory roles of an object at `now`: direct, through role-assignable groups, PIM. */
export function rolesOf(
  t: TenantIndex,
  refs: ReferenceData,
  principalId: string,
  now: number,
): { active: HeldRole[]; eligible: HeldRole[]; resolved: Map<string, ResolvedRole> } {
  const subjects: Array<{ id: string; prefix: Provenance[] }> = [{ id: principalId, prefix: [] }];
  for (const [gid, path] of transitiveGroups(t, principalId)) {
    // Only role-assignable groups (isAssignableToRole) can hold directory roles, so any group that has a
    // role assignment or schedule is one; groups without any simply contribute nothing.
    if (!t.roleAssignmentsByPrincipal.has(gid) && !t.assignmentSchedulesByPrincipal.has(gid) && !t.eligibilityByPrincipal.has(gid)) continue;
    subjects.push({
      id: gid,
      prefix: path.map((p) => ({ kind: 'groupMembership' as const, id: p, description: `member of group "${groupName(t, p)}"` })),
    });
  }
  const active = new Map<string, HeldRole>();
  const eligible = new Map<string, HeldRole>();
  const resolved = new Map<string, ResolvedRole>();
  const merge = (into: Map<string, HeldRole>, r: ResolvedRole, scope: string, end: number | undefined, via: Provenance[]): void => {
    resolved.set(r.key, r);
    const key = `${r.key}|${scope}`;
    const prev = into.get(key);
    const endIso = end === undefined ? undefined : new Date(end).toISOString();
    if (!prev) {
      into.set(key, {
        roleDefinitionId: r.roleDefinitionId,
        ...(r.templateId ? { roleTemplateId: r.templateId } : {}),
        displayName: r.displayName,
        privileged: r.privileged,
        directoryScopeId: scope,
        ...(endIso ? { endDateTime: endIso } : {}),
        via: [...via],
      });
      return;
    }
    prev.via.push(...via);
    // Permanent wins; otherwise the latest end.
    if (prev.endDateTime !== undefined && (endIso === undefined || endIso > prev.endDateTime)) {
      if (endIso === undefined) delete prev.endDateTime;
      else prev.endDateTime = endIso;
    }
  };
  for (const s of subjects) {
    const schedules = t.assignmentSchedulesByPrincipal.get(s.id) ?? [];
    const matched = new Set<RoleScheduleRecord>();
    for (const ra of t.roleAssignmentsByPrincipal.get(s.id) ?? []) {
      const r = resolveRole(t, refs, ra.roleDefinitionId);
      const sched = schedules.find(
        (x) => resolveRole(t, refs, x.roleDefinitionId).key === r.key && x.directoryScopeId === ra.directoryScopeId,
      );
      if (sched) matched.add(sched);
      // A roleAssignment whose PIM schedule has ended is no longer in force even if the list still shows it.
      if (sched && !scheduleInForce(sched, now)) continue;
      const timeBound = sched !== undefined && (sched.assignmentType === 'Activated' || scheduleWindow(sched).end !== undefined);
      const via: Provenance[] = [
        ...s.prefix,
        {
          kind: timeBound ? 'pimActiveAssignment' : 'directoryRoleAssignment',
          id: timeBound && sched ? sched.id : ra.id,
          description: `${timeBound ? 'PIM-active' : 'assigned'} role ${r.displayName} (${scopeLabel(ra.directoryScopeId)})${s.prefix.length ? ` via group "${groupName(t, s.id)}"` : ''}`,
        },
      ];
      merge(active, r, ra.directoryScopeId, sched ? scheduleWindow(sched).end : undefined, via);
    }
    for (const sched of schedules) {
      if (matched.has(sched) || !scheduleInForce(sched, now)) continue;
      const r = resolveRole(t, refs, sched.roleDefinitionId);
      const end = scheduleWindow(sched).end;
      const pim = sched.assignmentType === 'Activated' || end !== undefined;
      merge(active, r, sched.directoryScopeId, end, [
        ...s.prefix,
        {
          kind: pim ? 'pimActiveAssignment' : 'directoryRoleAssignment',
          id: sched.id,
          description: `${pim ? 'PIM-active' : 'assigned'} role ${r.displayName} (${scopeLabel(sched.directoryScopeId)})${s.prefix.length ? ` via group "${groupName(t, s.id)}"` : ''}`,
        },
      ]);
    }
  }
  for (const s of subjects) {
    for (const sched of t.eligibilityByPrincipal.get(s.id) ?? []) {
      if (!scheduleInForce(sched, now)) continue;
      const r = resolveRole(t, refs, sched.roleDefinitionId);
      if (active.has(`${r.key}|${sched.directoryScopeId}`)) continue;
      merge(eligible, r, sched.directoryScopeId, scheduleWindow(sched).end, [
        ...s.prefix,
        {
          kind: 'pimEligibleAssignment',
          id: sched.id,
          description: `eligible (PIM) for role ${r.displayName} (${scopeLabel(sched.directoryScopeId)})${s.prefix.length ? ` via group "${groupName(t, s.id)}"` : ''}`,
        },
      ]);
    }
  }
  return { active: [...active.values()], eligible: [...eligible.values()], resolved };
}

function graphSpOf(t: TenantIndex): ServicePrincipalRecord | undefined {
  return t.graphSp;
}

function appRoleName(t: TenantIndex, refs: ReferenceData, appRoleId: string): string | undefined {
  const own = graphSpOf(t)?.appRoles.find((r) => r.id.toLowerCase() === appRoleId.toLowerCase());
  return own?.value ?? refs.graphAppRoleById.get(appRoleId.toLowerCase());
}

function ownedKinds(t: TenantIndex, id: string): { all: string[]; application: string[]; servicePrincipal: string[]; group: string[] } {
  const all = [...(t.ownedBy.get(id) ?? [])];
  return {
    all,
    application: all.filter((x) => t.applications.has(x)),
    servicePrincipal: all.filter((x) => t.servicePrincipals.has(x)),
    group: all.filter((x) => t.groups.has(x)),
  };
}

function ownershipCaps(b: CapabilityBuilder, t: TenantIndex, owned: ReturnType<typeof ownedKinds>): void {
  // Owners of an application or service principal can add credentials to it and change it
  // (Entra: "owners can manage ... credentials"); owners of a group can change its membership.
  const apps = [...owned.application, ...owned.servicePrincipal];
  if (apps.length > 0) {
    b.add(
      'add-credentials',
      apps,
      apps.map((id) => ({ kind: 'ownership' as const, id, description: `owner of ${t.applications.has(id) ? 'application' : 'service principal'} "${t.applications.get(id)?.displayName ?? t.servicePrincipals.get(id)?.displayName ?? id}"` })),
    );
  }
  if (owned.group.length > 0) {
    b.add(
      'change-group-membership',
      owned.group,
      owned.group.map((id) => ({ kind: 'ownership' as const, id, description: `owner of group "${groupName(t, id)}"` })),
    );
  }
}

function tierOf(refs: ReferenceData, scheme: HeldPermission['scheme'], name: string): Tier {
  return (scheme === 'Application' ? refs.appRoleTier.get(name) : refs.scopeTier.get(name)) ?? 'Unclassified';
}

// Delegated mail/files/directory-read scopes reach only what the signed-in user can reach (their own
// mailbox, files shared with them), never "any": only role- or owner-backed directory writes widen.
const SELF_BOUND = new Set(['read-mail', 'send-mail', 'read-files', 'write-files', 'read-directory']);

function permissionCaps(b: CapabilityBuilder, refs: ReferenceData, p: HeldPermission, userId?: string): void {
  const resources: 'any' | readonly string[] = p.limitedTo ?? 'any';
  for (const [re, actions] of PERMISSION_CAPS) {
    if (!re.test(p.permission)) continue;
    for (const a of actions) {
      if (p.scheme === 'DelegatedWork' && SELF_BOUND.has(a)) {
        if (userId && (a === 'read-mail' || a === 'send-mail')) b.add(a, [userId], p.via, false, tierOf(refs, p.scheme, p.permission));
        continue;
      }
      b.add(a, resources, p.via, false, tierOf(refs, p.scheme, p.permission));
    }
  }
  const label = refs.displayName.get(`${p.scheme}:${p.permission}`);
  b.addGraph({
    action: 'graph-permission',
    description: `${p.permission}${label ? `: ${label}` : ''}${p.limitedTo ? ` (only on ${p.limitedTo.length} owned objects)` : ''}`,
    resources,
    tier: tierOf(refs, p.scheme, p.permission),
    via: p.via,
  });
}

function finishRoles(b: CapabilityBuilder, t: TenantIndex, refs: ReferenceData, roles: ReturnType<typeof rolesOf>): void {
  const byKey = (r: HeldRole): ResolvedRole | undefined => roles.resolved.get(r.roleTemplateId ?? r.roleDefinitionId.toLowerCase()) ?? resolveRole(t, refs, r.roleDefinitionId);
  for (const r of roles.active) {
    const res = byKey(r);
    if (res) addRoleCaps(b, r, res, false);
  }
  for (const r of roles.eligible) {
    const res = byKey(r);
    if (res) addRoleCaps(b, r, res, true);
  }
}

/** App-only: the SP's Graph application permissions, roles and ownership powers at `now`. */
export function effectiveForServicePrincipal(t: TenantIndex, refs: ReferenceData, sp: ServicePrincipalRecord, now: number): EffectivePermissions {
  const subject = { id: sp.id, type: 'servicePrincipal' as const, ...(sp.displayName ? { displayName: sp.displayName } : {}) };
  const owned = ownedKinds(t, sp.id);
  if (sp.accountEnabled === false) {
    return { graph: new Map(), activeRoles: [], eligibleRoles: [], owns: new Set(owned.all), subject, disabled: true, capabilities: [] };
  }
  const graphSp = graphSpOf(t);
  const graph = new Map<string, HeldPermission>();
  for (const a of t.appRoleAssignmentsByPrincipal.get(sp.id) ?? []) {
    if (a.appRoleId === DEFAULT_APP_ROLE_ID) continue;
    // appRoleAssignment.resourceId is the resource SP; only assignments on Microsoft Graph's SP are Graph permissions.
    if (graphSp ? a.resourceId !== graphSp.id : t.servicePrincipals.has(a.resourceId)) continue;
    const name = appRoleName(t, refs, a.appRoleId);
    if (!name) continue;
    const via: Provenance = { kind: 'appRoleAssignment', id: a.id, description: `app role assignment ${name} on Microsoft Graph` };
    const prev = graph.get(name);
    if (prev) prev.via.push(via);
    else graph.set(name, { permission: name, scheme: 'Application', via: [via] });
  }
  const roles = rolesOf(t, refs, sp.id, now);
  const b = new CapabilityBuilder();
  for (const p of graph.values()) {
    if (p.permission === 'Application.ReadWrite.OwnedBy') {
      const apps = [...owned.application, ...owned.servicePrincipal];
      if (apps.length > 0) b.add('add-credentials', apps, p.via, false, tierOf(refs, 'Application', p.permission));
    }
    permissionCaps(b, refs, p);
  }
  finishRoles(b, t, refs, roles);
  ownershipCaps(b, t, owned);
  return { graph, activeRoles: roles.active, eligibleRoles: roles.eligible, owns: new Set(owned.all), subject, capabilities: b.build() };
}

/** Delegated: scopes granted to the client for this user, intersected with what the user's roles allow. */
export function effectiveForDelegated(
  t: TenantIndex,
  refs: ReferenceData,
  client: ServicePrincipalRecord,
  userId: string,
  now: number,
): EffectivePermissions | undefined {
  const user = t.users.get(userId);
  if (!user) return undefined;
  const subject = { id: user.id, type: 'user' as const, ...(user.displayName ? { displayName: user.displayName } : {}) };
  const owned = ownedKinds(t, user.id);
  if (user.accountEnabled === false || client.accountEnabled === false) {
    return { graph: new Map(), activeRoles: [], eligibleRoles: [], owns: new Set(owned.all), subject, disabled: true, withheld: [], capabilities: [] };
  }
  const graphSp = graphSpOf(t);
  const granted = new Map<string, Provenance[]>();
  for (const g of t.grantsByClient.get(client.id) ?? []) {
    if (graphSp ? g.resourceId !== graphSp.id : t.servicePrincipals.has(g.resourceId)) continue;
    // AllPrincipals grants (principalId null) cover every user; Principal grants only their principalId.
    const applies = g.consentType === 'AllPrincipals' ? true : g.principalId === user.id;
    if (!applies) continue;
    for (const scope of g.scope.split(/\s+/).filter(Boolean)) {
      const via: Provenance = {
        kind: 'oauth2PermissionGrant',
        id: g.id,
        description: `delegated grant ${scope} to "${client.displayName ?? client.appId}" ${g.consentType === 'AllPrincipals' ? 'for all users (admin consent)' : 'for this user'}`,
      };
      const list = granted.get(scope);
      if (list) list.push(via);
      else granted.set(scope, [via]);
    }
  }
  const roles = rolesOf(t, refs, user.id, now);
  const guest = user.userType?.toLowerCase() === 'guest';
  const graph = new Map<string, HeldPermission>();
  const withheld: WithheldPermission[] = [];
  for (const [scope, via] of granted) {
    const gate = GATES.find((gt) => gt.scope.test(scope) && (!gt.guestsOnly || guest));
    if (!gate) {
      graph.set(scope, { permission: scope, scheme: 'DelegatedWork', via });
      continue;
    }
    const covering = roles.active.filter((r) => {
      const res = roles.resolved.get(r.roleTemplateId ?? r.roleDefinitionId.toLowerCase()) ?? resolveRole(t, refs, r.roleDefinitionId);
      return roleCovers(res.actions, gate);
    });
    if (covering.length > 0) {
      const roleVia: Provenance[] = covering.map((r) => ({
        kind: 'userRole',
        id: r.via[r.via.length - 1]?.id ?? r.roleDefinitionId,
        description: `signed-in user holds ${r.displayName} (${scopeLabel(r.directoryScopeId)})`,
      }));
      const tenantWide = covering.some((r) => r.directoryScopeId === '/');
      const limited = tenantWide ? undefined : covering.flatMap((r) => scopeResources(r.directoryScopeId)).filter((x): x is string => x !== 'any');
      graph.set(scope, { permission: scope, scheme: 'DelegatedWork', via: [...via, ...roleVia], ...(limited ? { limitedTo: limited } : {}) });
      continue;
    }
    const ownedIds = (gate.owned ?? []).flatMap((k) => owned[k]).sort();
    if (ownedIds.length > 0 || gate.self) {
      graph.set(scope, {
        permission: scope,
        scheme: 'DelegatedWork',
        via: [
          ...via,
          ...ownedIds.map((id) => ({ kind: 'ownership' as const, id, description: `signed-in user owns ${id}` })),
          ...(gate.self ? [{ kind: 'userRole' as const, id: user.id, description: 'the signed-in user may change their own profile without a role' }] : []),
        ],
        limitedTo: gate.self ? [user.id, ...ownedIds] : ownedIds,
      });
      continue;
    }
    withheld.push({ permission: scope, reason: 'user-lacks-role', via });
  }
  const b = new CapabilityBuilder();
  for (const p of graph.values()) permissionCaps(b, refs, p, user.id);
  finishRoles(b, t, refs, roles);
  ownershipCaps(b, t, owned);
  return { graph, activeRoles: roles.active, eligibleRoles: roles.eligible, owns: new Set(owned.all), subject, withheld, capabilities: b.build() };
}

/** Does an SP (app-only) hold control-plane power: a ControlPlane Graph app role or a privileged active role. */
export function holdsControlPlane(e: EffectivePermissions, refs: ReferenceData): boolean {
  for (const p of e.graph.values()) if (tierOf(refs, p.scheme, p.permission) === 'ControlPlane') return true;
  return e.activeRoles.some((r) => r.privileged);
}

// ---------------------------------------------------------------------------------------------

interface CacheEntry {
  value: EffectivePermissions | undefined;
  /** Time-dependent answers (PIM windows) are reused only within the window they were computed in. */
  from: number;
  until: number;
}

function windowBounds(t: TenantIndex, ids: readonly string[], now: number): { from: number; until: number } {
  let from = -Infinity;
  let until = Infinity;
  const consider = (s: RoleScheduleRecord): void => {
    const w = scheduleWindow(s);
    for (const edge of [w.start, w.end]) {
      if (edge === undefined) continue;
      if (edge <= now) from = Math.max(from, edge);
      else until = Math.min(until, edge);
    }
  };
  for (const id of ids) {
    for (const s of t.assignmentSchedulesByPrincipal.get(id) ?? []) consider(s);
    for (const s of t.eligibilityByPrincipal.get(id) ?? []) consider(s);
  }
  return { from, until };
}

export interface ViewOptions {
  refs: ReferenceData;
  /** Clock for "now" (ms); the view evaluates PIM windows against it. */
  now: () => number;
  /** Max cached delegated (client, user) answers. */
  cacheSize?: number;
}

/** The DirectoryView over one snapshot. Indexes are the snapshot's; answers are cached per principal. */
export function createDirectoryView(snap: Snapshot, opts: ViewOptions): DirectoryView & {
  readonly snapshot: Snapshot;
  effectiveAt(principal: Principal, now: number): EffectivePermissions | undefined;
  findServicePrincipal(tenantId: string, key: string): ServicePrincipalRecord | undefined;
} {
  const { refs } = opts;
  const cacheSize = opts.cacheSize ?? 100_000;
  const cache = new Map<string, CacheEntry>();

  const tenant = (tenantId: string): TenantIndex | undefined => snap.tenants.get(tenantId.toLowerCase());

  const findServicePrincipal = (tenantId: string, key: string): ServicePrincipalRecord | undefined => {
    const t = tenant(tenantId);
    if (!t) return undefined;
    const k = key.toLowerCase();
    return (
      t.servicePrincipals.get(key) ??
      t.spByAppId.get(k) ??
      t.data.servicePrincipals.find((s) => s.displayName?.toLowerCase() === k)
    );
  };

  const compute = (principal: Principal, now: number): EffectivePermissions | undefined => {
    const t = tenant(principal.tenantId);
    if (!t) return undefined;
    if (principal.kind === 'app') {
      const sp =
        (principal.servicePrincipalId ? t.servicePrincipals.get(principal.servicePrincipalId) : undefined) ?? t.spByAppId.get(principal.appId.toLowerCase());
      // An oid that names a different app's SP is not this agent: refuse to guess.
      if (!sp || sp.appId.toLowerCase() !== principal.appId.toLowerCase()) return undefined;
      return effectiveForServicePrincipal(t, refs, sp, now);
    }
    const client = t.spByAppId.get(principal.appId.toLowerCase());
    if (!client || !principal.userId) return undefined;
    return effectiveForDelegated(t, refs, client, principal.userId, now);
  };

  // A Principal object is immutable and shared by every call of one verified token, so most calls find
  // their answer by identity, without building the string key (five strings a call).
  const byPrincipal = new WeakMap<Principal, CacheEntry>();
  const effectiveAt = (principal: Principal, now: number): EffectivePermissions | undefined => {
    const mine = byPrincipal.get(principal);
    if (mine && mine.from <= now && now < mine.until) return mine.value;
    const key = `${principal.kind}|${principal.tenantId.toLowerCase()}|${principal.appId.toLowerCase()}|${principal.servicePrincipalId ?? ''}|${principal.userId ?? ''}`;
    let entry = cache.get(key);
    if (!entry || !(entry.from <= now && now < entry.until)) {
      const value = compute(principal, now);
      const t = tenant(principal.tenantId);
      let bounds = { from: -Infinity, until: Infinity };
      if (t && value?.subject) {
        bounds = windowBounds(t, [value.subject.id, ...transitiveGroups(t, value.subject.id).keys()], now);
      }
      if (cache.size >= cacheSize) {
        const first = cache.keys().next();
        if (!first.done) cache.delete(first.value);
      }
      entry = { value, ...bounds };
      cache.set(key, entry);
    }
    byPrincipal.set(principal, entry);
    return entry.value;
  };

  const spControlPlane = new Map<string, boolean>();
  const groupCache = new Map<string, readonly string[]>();
  const controlPlaneOf = (t: TenantIndex, sp: ServicePrincipalRecord): boolean => {
    const k = `${t.data.tenantId}|${sp.id}`;
    let v = spControlPlane.get(k);
    if (v === undefined) {
      v = holdsControlPlane(effectiveForServicePrincipal(t, refs, sp, opts.now()), refs);
      spControlPlane.set(k, v);
    }
    return v;
  };

  return {
    snapshot: snap,
    snapshotId: snap.id,
    takenAt: snap.takenAt,
    effectiveAt,
    findServicePrincipal,
    effective(principal: Principal): EffectivePermissions | undefined {
      return effectiveAt(principal, opts.now());
    },
    agent(tenantId: string, appId: string): AgentInfo | undefined {
      const t = tenant(tenantId);
      if (!t) return undefined;
      const sp = t.spByAppId.get(appId.toLowerCase());
      const app = t.appByAppId.get(appId.toLowerCase());
      if (!sp && !app) return undefined;
      const ownerIds = [...new Set([...(app?.owners ?? []), ...(sp?.owners ?? [])])];
      const owners = ownerIds.map((id) => {
        const u = t.users.get(id);
        const s = t.servicePrincipals.get(id);
        const type = u ? 'user' : s ? 'servicePrincipal' : 'other';
        const displayName = u?.displayName ?? s?.displayName;
        return { id, type, ...(displayName ? { displayName } : {}) };
      });
      const multiTenant = app
        ? app.signInAudience !== undefined && app.signInAudience !== 'AzureADMyOrg'
        : sp?.appOwnerOrganizationId !== undefined && sp.appOwnerOrganizationId.toLowerCase() !== t.data.tenantId.toLowerCase();
      const displayName = sp?.displayName ?? app?.displayName;
      return {
        tenantId: t.data.tenantId,
        appId: sp?.appId ?? app?.appId ?? appId,
        ...(sp ? { servicePrincipalId: sp.id } : {}),
        ...(app ? { applicationObjectId: app.id } : {}),
        ...(displayName ? { displayName } : {}),
        tags: [...new Set([...(sp?.tags ?? []), ...(app?.tags ?? [])])],
        owners,
        multiTenant,
        agentIdentity: Boolean(sp?.agentIdentity ?? app?.agentIdentity),
      };
    },
    groupsOf(tenantId: string, objectId: string): readonly string[] | undefined {
      const t = tenant(tenantId);
      if (!t || !(t.users.has(objectId) || t.groups.has(objectId) || t.servicePrincipals.has(objectId))) return undefined;
      const k = `${t.data.tenantId}|${objectId}`;
      let v = groupCache.get(k);
      if (!v) {
        v = Object.freeze([...transitiveGroups(t, objectId).keys()].sort());
        if (groupCache.size >= cacheSize) groupCache.clear();
        groupCache.set(k, v);
      }
      return v;
    },
    object(tenantId: string, idOrKey: string): DirectoryObjectInfo | undefined {
      const t = tenant(tenantId);
      if (!t) return undefined;
      const u = t.users.get(idOrKey);
      if (u) return { id: u.id, type: 'user', ...(u.displayName ? { displayName: u.displayName } : {}) };
      const g = t.groups.get(idOrKey);
      if (g) return { id: g.id, type: 'group', ...(g.displayName ? { displayName: g.displayName } : {}), roleAssignable: g.roleAssignable, owners: g.owners };
      const sp = t.servicePrincipals.get(idOrKey) ?? (t.applications.has(idOrKey) ? undefined : t.spByAppId.get(idOrKey.toLowerCase()));
      if (sp) {
        return { id: sp.id, type: 'servicePrincipal', ...(sp.displayName ? { displayName: sp.displayName } : {}), appId: sp.appId, owners: sp.owners, holdsControlPlane: controlPlaneOf(t, sp) };
      }
      const app = t.applications.get(idOrKey) ?? t.appByAppId.get(idOrKey.toLowerCase());
      if (app) {
        const appSp = t.spByAppId.get(app.appId.toLowerCase());
        return {
          id: app.id,
          type: 'application',
          ...(app.displayName ? { displayName: app.displayName } : {}),
          appId: app.appId,
          owners: app.owners,
          holdsControlPlane: appSp ? controlPlaneOf(t, appSp) : false,
        };
      }
      const def = t.roleDefinitions.get(idOrKey.toLowerCase());
      if (def) return { id: def.id, type: 'roleDefinition', displayName: def.displayName, privileged: def.isPrivileged ?? refs.roles.get((def.templateId ?? def.id).toLowerCase())?.isPrivileged ?? false };
      const builtIn = refs.roles.get(idOrKey.toLowerCase());
      if (builtIn) return { id: builtIn.templateId, type: 'roleDefinition', displayName: builtIn.displayName, privileged: builtIn.isPrivileged };
      return undefined;
    },
  };
}

export type SnapshotView = ReturnType<typeof createDirectoryView>;

export { MICROSOFT_GRAPH_APP_ID };
