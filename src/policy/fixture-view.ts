/**
 * A `DirectoryView` over a small hand-written fixture (YAML/JSON), for policy tests as data
 * (`graphwarden rules test`) and unit tests. Not the directory model: no sync, no provenance inference.
 */
import type { Principal } from '../identity/principal.js';
import type { AgentInfo, DirectoryObjectInfo, DirectoryView, EffectivePermissions, HeldPermission, HeldRole, Provenance } from '../directory/view.js';

type PermSpec = string | { permission: string; via?: Provenance[]; limitedTo?: string[] };

interface RoleSpec {
  displayName: string;
  roleDefinitionId?: string;
  roleTemplateId?: string;
  privileged?: boolean;
  directoryScopeId?: string;
  endDateTime?: string;
  via?: Provenance[];
}

export interface FixtureAgent {
  appId: string;
  tenantId?: string;
  servicePrincipalId?: string;
  applicationObjectId?: string;
  displayName?: string;
  tags?: string[];
  owners?: Array<{ id: string; type?: string; displayName?: string }>;
  multiTenant?: boolean;
  agentIdentity?: boolean;
  /** Application permissions held now. */
  permissions?: PermSpec[];
  /** The service principal is disabled: nothing is held. */
  disabled?: boolean;
  activeRoles?: RoleSpec[];
  eligibleRoles?: RoleSpec[];
  owns?: string[];
}

export interface FixtureDelegation {
  appId: string;
  userId: string;
  /** Delegated scopes granted to this app for this user. */
  permissions?: PermSpec[];
  /** Granted scopes the user's roles do not let them exercise. */
  withheld?: string[];
  /** The user is disabled: nothing is held. */
  disabled?: boolean;
  activeRoles?: RoleSpec[];
  eligibleRoles?: RoleSpec[];
  owns?: string[];
}

export interface FixtureObject extends Omit<DirectoryObjectInfo, 'owners'> {
  owners?: string[];
  /** Alternate keys the object is also found by (appId, role template id). */
  keys?: string[];
}

export interface DirectoryFixture {
  snapshotId?: string;
  takenAt?: string;
  agents?: FixtureAgent[];
  delegated?: FixtureDelegation[];
  objects?: FixtureObject[];
}

function perms(specs: PermSpec[] | undefined, scheme: HeldPermission['scheme'], source: string): Map<string, HeldPermission> {
  const m = new Map<string, HeldPermission>();
  for (const s of specs ?? []) {
    const permission = typeof s === 'string' ? s : s.permission;
    const via =
      typeof s === 'string' || !s.via
        ? [{ kind: scheme === 'Application' ? 'appRoleAssignment' : 'oauth2PermissionGrant', id: `${source}:${permission}`, description: `${permission} granted in fixture` } as Provenance]
        : s.via;
    const limitedTo = typeof s === 'string' ? undefined : s.limitedTo;
    m.set(permission, { permission, scheme, via, ...(limitedTo ? { limitedTo } : {}) });
  }
  return m;
}

function roles(specs: RoleSpec[] | undefined): HeldRole[] {
  return (specs ?? []).map((r) => ({
    roleDefinitionId: r.roleDefinitionId ?? r.roleTemplateId ?? r.displayName,
    ...(r.roleTemplateId !== undefined ? { roleTemplateId: r.roleTemplateId } : {}),
    displayName: r.displayName,
    privileged: r.privileged ?? false,
    directoryScopeId: r.directoryScopeId ?? '/',
    ...(r.endDateTime !== undefined ? { endDateTime: r.endDateTime } : {}),
    via: r.via ?? [],
  }));
}

export function createFixtureView(fixture: DirectoryFixture): DirectoryView {
  const agents = fixture.agents ?? [];
  const objects = new Map<string, DirectoryObjectInfo>();
  for (const o of fixture.objects ?? []) {
    const { keys, owners, ...rest } = o;
    const info: DirectoryObjectInfo = { ...rest, ...(owners ? { owners } : {}) };
    objects.set(o.id.toLowerCase(), info);
    for (const k of keys ?? []) objects.set(k.toLowerCase(), info);
  }
  const findAgent = (tenantId: string, appId: string): FixtureAgent | undefined =>
    agents.find((a) => a.appId.toLowerCase() === appId.toLowerCase() && (a.tenantId === undefined || a.tenantId === tenantId));
  return {
    snapshotId: fixture.snapshotId ?? 'fixture',
    takenAt: fixture.takenAt ?? '1970-01-01T00:00:00.000Z',
    agent(tenantId, appId): AgentInfo | undefined {
      const a = findAgent(tenantId, appId);
      if (!a) return undefined;
      return {
        tenantId,
        appId: a.appId,
        ...(a.servicePrincipalId !== undefined ? { servicePrincipalId: a.servicePrincipalId } : {}),
        ...(a.applicationObjectId !== undefined ? { applicationObjectId: a.applicationObjectId } : {}),
        ...(a.displayName !== undefined ? { displayName: a.displayName } : {}),
        ...(a.multiTenant !== undefined ? { multiTenant: a.multiTenant } : {}),
        ...(a.agentIdentity !== undefined ? { agentIdentity: a.agentIdentity } : {}),
        tags: a.tags ?? [],
        owners: (a.owners ?? []).map((o) => ({ id: o.id, type: o.type ?? 'user', ...(o.displayName !== undefined ? { displayName: o.displayName } : {}) })),
      };
    },
    effective(principal: Principal): EffectivePermissions | undefined {
      if (principal.kind === 'app') {
        const a = findAgent(principal.tenantId, principal.appId);
        if (!a) return undefined;
        const e: EffectivePermissions = {
          graph: a.disabled ? new Map() : perms(a.permissions, 'Application', a.servicePrincipalId ?? a.appId),
          activeRoles: roles(a.activeRoles),
          eligibleRoles: roles(a.eligibleRoles),
          owns: new Set(a.owns ?? []),
          ...(a.disabled ? { disabled: true } : {}),
        };
        return e;
      }
      const d = (fixture.delegated ?? []).find(
        (x) => x.appId.toLowerCase() === principal.appId.toLowerCase() && x.userId.toLowerCase() === (principal.userId ?? '').toLowerCase(),
      );
      if (!d) return findAgent(principal.tenantId, principal.appId) ? { graph: new Map(), activeRoles: [], eligibleRoles: [], owns: new Set() } : undefined;
      const withheld = (d.withheld ?? []).map((permission) => ({ permission, reason: 'user-lacks-role' as const, via: [] as Provenance[] }));
      const e: EffectivePermissions = {
        graph: d.disabled ? new Map() : perms(d.permissions, 'DelegatedWork', `${d.appId}/${d.userId}`),
        activeRoles: roles(d.activeRoles),
        eligibleRoles: roles(d.eligibleRoles),
        owns: new Set(d.owns ?? []),
        ...(d.disabled ? { disabled: true } : {}),
        ...(withheld.length > 0 ? { withheld } : {}),
      };
      return e;
    },
    object(_tenantId, idOrKey) {
      return objects.get(idOrKey.toLowerCase());
    },
  };
}
