/**
 * Drift: the typed difference between two directory snapshots (grants, app role assignments, roles,
 * PIM activations and eligibilities, owners, credentials, memberships), for risk scoring and audit.
 * The diff is pure (time passed in); appendDrift stores events as JSONL in the state directory.
 */
import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { RoleScheduleRecord, SnapshotData, TenantData } from './model.js';
import { scheduleWindow } from './effective.js';

export const DRIFT_FILE = 'directory-drift.jsonl';

type ObjType = 'application' | 'servicePrincipal' | 'group';

export type DriftEvent =
  | { type: 'grant-added' | 'grant-removed'; tenantId: string; grantId: string; clientId: string; resourceId: string; consentType: string; principalId: string | null; scopes: string[] }
  | { type: 'app-role-assigned' | 'app-role-removed'; tenantId: string; assignmentId: string; principalId: string; resourceId: string; appRoleId: string }
  | { type: 'role-assigned' | 'role-removed'; tenantId: string; assignmentId: string; principalId: string; roleDefinitionId: string; directoryScopeId: string }
  | { type: 'role-activated' | 'role-expired'; tenantId: string; scheduleId: string; principalId: string; roleDefinitionId: string; directoryScopeId: string; endDateTime?: string }
  | { type: 'eligibility-added' | 'eligibility-removed'; tenantId: string; scheduleId: string; principalId: string; roleDefinitionId: string; directoryScopeId: string }
  | { type: 'owner-added' | 'owner-removed'; tenantId: string; objectId: string; objectType: ObjType; ownerId: string }
  | { type: 'credential-added' | 'credential-removed' | 'credential-expiring'; tenantId: string; objectId: string; objectType: 'application' | 'servicePrincipal'; keyId: string; kind: string; endDateTime?: string }
  | { type: 'membership-added' | 'membership-removed'; tenantId: string; groupId: string; memberId: string };

export interface DriftOptions {
  /** Reference time for "expiring" (ms). */
  now: number;
  /** A credential ending within this window of `now` is reported once as expiring. Default 30 days. */
  expiringWithinMs?: number;
  /** Time of the previous snapshot (ms), to report "expiring" only when newly inside the window. */
  prevAt?: number;
}

function byId<T extends { id: string }>(xs: readonly T[]): Map<string, T> {
  return new Map(xs.map((x) => [x.id, x]));
}

function setDiff(a: readonly string[], b: readonly string[]): { added: string[]; removed: string[] } {
  const sa = new Set(a);
  const sb = new Set(b);
  return { added: [...sb].filter((x) => !sa.has(x)).sort(), removed: [...sa].filter((x) => !sb.has(x)).sort() };
}

function timeBound(s: RoleScheduleRecord): boolean {
  return s.assignmentType === 'Activated' || scheduleWindow(s).end !== undefined;
}

function diffTenant(prev: TenantData, next: TenantData, o: Required<Omit<DriftOptions, 'prevAt'>> & { prevAt?: number }): DriftEvent[] {
  const tenantId = next.tenantId;
  const out: DriftEvent[] = [];

  const pg = byId(prev.grants);
  const ng = byId(next.grants);
  for (const g of next.grants) {
    const old = pg.get(g.id);
    const d = setDiff(old ? old.scope.split(/\s+/).filter(Boolean) : [], g.scope.split(/\s+/).filter(Boolean));
    if (d.added.length) out.push({ type: 'grant-added', tenantId, grantId: g.id, clientId: g.clientId, resourceId: g.resourceId, consentType: g.consentType, principalId: g.principalId, scopes: d.added });
    if (d.removed.length) out.push({ type: 'grant-removed', tenantId, grantId: g.id, clientId: g.clientId, resourceId: g.resourceId, consentType: g.consentType, principalId: g.principalId, scopes: d.removed });
  }
  for (const g of prev.grants) {
    if (!ng.has(g.id)) out.push({ type: 'grant-removed', tenantId, grantId: g.id, clientId: g.clientId, resourceId: g.resourceId, consentType: g.consentType, principalId: g.principalId, scopes: g.scope.split(/\s+/).filter(Boolean) });
  }

  const pa = byId(prev.appRoleAssignments);
  const na = byId(next.appRoleAssignments);
  for (const a of next.appRoleAssignments) if (!pa.has(a.id)) out.push({ type: 'app-role-assigned', tenantId, assignmentId: a.id, principalId: a.principalId, resourceId: a.resourceId, appRoleId: a.appRoleId });
  for (const a of prev.appRoleAssignments) if (!na.has(a.id)) out.push({ type: 'app-role-removed', tenantId, assignmentId: a.id, principalId: a.principalId, resourceId: a.resourceId, appRoleId: a.appRoleId });

  const pr = byId(prev.roleAssignments);
  const nr = byId(next.roleAssignments);
  for (const r of next.roleAssignments) if (!pr.has(r.id)) out.push({ type: 'role-assigned', tenantId, assignmentId: r.id, principalId: r.principalId, roleDefinitionId: r.roleDefinitionId, directoryScopeId: r.directoryScopeId });
  for (const r of prev.roleAssignments) if (!nr.has(r.id)) out.push({ type: 'role-removed', tenantId, assignmentId: r.id, principalId: r.principalId, roleDefinitionId: r.roleDefinitionId, directoryScopeId: r.directoryScopeId });

  // PIM activations: permanent schedules mirror roleAssignments (reported above); time-bound ones are activations.
  const ps = byId(prev.roleAssignmentSchedules);
  const ns = byId(next.roleAssignmentSchedules);
  for (const s of next.roleAssignmentSchedules) {
    if (ps.has(s.id) || !timeBound(s)) continue;
    const end = scheduleWindow(s).end;
    out.push({ type: 'role-activated', tenantId, scheduleId: s.id, principalId: s.principalId, roleDefinitionId: s.roleDefinitionId, directoryScopeId: s.directoryScopeId, ...(end !== undefined ? { endDateTime: new Date(end).toISOString() } : {}) });
  }
  for (const s of prev.roleAssignmentSchedules) {
    if (!timeBound(s)) continue;
    const gone = !ns.has(s.id);
    const end = scheduleWindow(s).end;
    const endedNow = end !== undefined && end <= o.now && (o.prevAt === undefined || end > o.prevAt);
    if (gone || (endedNow && ns.has(s.id))) {
      out.push({ type: 'role-expired', tenantId, scheduleId: s.id, principalId: s.principalId, roleDefinitionId: s.roleDefinitionId, directoryScopeId: s.directoryScopeId, ...(end !== undefined ? { endDateTime: new Date(end).toISOString() } : {}) });
    }
  }

  const pe = byId(prev.roleEligibilitySchedules);
  const ne = byId(next.roleEligibilitySchedules);
  for (const s of next.roleEligibilitySchedules) if (!pe.has(s.id)) out.push({ type: 'eligibility-added', tenantId, scheduleId: s.id, principalId: s.principalId, roleDefinitionId: s.roleDefinitionId, directoryScopeId: s.directoryScopeId });
  for (const s of prev.roleEligibilitySchedules) if (!ne.has(s.id)) out.push({ type: 'eligibility-removed', tenantId, scheduleId: s.id, principalId: s.principalId, roleDefinitionId: s.roleDefinitionId, directoryScopeId: s.directoryScopeId });

  const owners = (objectType: ObjType, a: ReadonlyArray<{ id: string; owners: string[] }>, b: ReadonlyArray<{ id: string; owners: string[] }>): void => {
    const pm = byId(a);
    for (const x of b) {
      const d = setDiff(pm.get(x.id)?.owners ?? [], x.owners);
      for (const ownerId of d.added) out.push({ type: 'owner-added', tenantId, objectId: x.id, objectType, ownerId });
      for (const ownerId of d.removed) out.push({ type: 'owner-removed', tenantId, objectId: x.id, objectType, ownerId });
    }
    const nm = byId(b);
    for (const x of a) if (!nm.has(x.id)) for (const ownerId of x.owners) out.push({ type: 'owner-removed', tenantId, objectId: x.id, objectType, ownerId });
  };
  owners('application', prev.applications, next.applications);
  owners('servicePrincipal', prev.servicePrincipals, next.servicePrincipals);
  owners('group', prev.groups, next.groups);

  const within = (end: string | undefined, at: number | undefined): boolean => {
    if (!end || at === undefined) return false;
    const t = Date.parse(end);
    return !Number.isNaN(t) && t > at && t <= at + o.expiringWithinMs;
  };
  const creds = (objectType: 'application' | 'servicePrincipal', a: ReadonlyArray<{ id: string; credentials: TenantData['applications'][number]['credentials'] }>, b: typeof a): void => {
    const pm = byId(a);
    for (const x of b) {
      const old = new Map((pm.get(x.id)?.credentials ?? []).map((c) => [c.keyId, c]));
      const cur = new Set(x.credentials.map((c) => c.keyId));
      for (const c of x.credentials) {
        const base = { tenantId, objectId: x.id, objectType, keyId: c.keyId, kind: c.kind, ...(c.endDateTime ? { endDateTime: c.endDateTime } : {}) };
        if (!old.has(c.keyId)) out.push({ type: 'credential-added', ...base });
        if (within(c.endDateTime, o.now) && !(old.has(c.keyId) && within(c.endDateTime, o.prevAt))) out.push({ type: 'credential-expiring', ...base });
      }
      for (const c of old.values()) if (!cur.has(c.keyId)) out.push({ type: 'credential-removed', tenantId, objectId: x.id, objectType, keyId: c.keyId, kind: c.kind, ...(c.endDateTime ? { endDateTime: c.endDateTime } : {}) });
    }
    const nm = byId(b);
    for (const x of a) if (!nm.has(x.id)) for (const c of x.credentials) out.push({ type: 'credential-removed', tenantId, objectId: x.id, objectType, keyId: c.keyId, kind: c.kind, ...(c.endDateTime ? { endDateTime: c.endDateTime } : {}) });
  };
  creds('application', prev.applications, next.applications);
  creds('servicePrincipal', prev.servicePrincipals, next.servicePrincipals);

  const pgm = byId(prev.groups);
  for (const g of next.groups) {
    const d = setDiff(pgm.get(g.id)?.members ?? [], g.members);
    for (const memberId of d.added) out.push({ type: 'membership-added', tenantId, groupId: g.id, memberId });
    for (const memberId of d.removed) out.push({ type: 'membership-removed', tenantId, groupId: g.id, memberId });
  }
  const ngm = byId(next.groups);
  for (const g of prev.groups) if (!ngm.has(g.id)) for (const memberId of g.members) out.push({ type: 'membership-removed', tenantId, groupId: g.id, memberId });
  return out;
}

/** Pure diff of two snapshots' data. Tenants only in `next` are compared against an empty tenant. */
export function diffSnapshots(prev: SnapshotData | undefined, next: SnapshotData, opts: DriftOptions): DriftEvent[] {
  const o = { now: opts.now, expiringWithinMs: opts.expiringWithinMs ?? 30 * 86_400_000, ...(opts.prevAt !== undefined ? { prevAt: opts.prevAt } : {}) };
  const prevTenants = new Map((prev?.tenants ?? []).map((t) => [t.tenantId.toLowerCase(), t]));
  const out: DriftEvent[] = [];
  for (const t of next.tenants) {
    const p = prevTenants.get(t.tenantId.toLowerCase());
    // A tenant seen for the first time is a baseline, not drift.
    if (!p) continue;
    out.push(...diffTenant(p, t, o));
  }
  return out;
}

export interface StoredDriftEvent {
  at: string;
  fromSnapshot: string | null;
  toSnapshot: string;
  event: DriftEvent;
}

/** Appends events as JSON lines (append-only; one line per event with its time and snapshot ids). */
export async function appendDrift(stateDir: string, events: readonly DriftEvent[], meta: { at: string; fromSnapshot: string | null; toSnapshot: string }): Promise<void> {
  if (events.length === 0) return;
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const lines = events.map((event) => JSON.stringify({ ...meta, event } satisfies StoredDriftEvent)).join('\n') + '\n';
  await appendFile(join(stateDir, DRIFT_FILE), lines, { mode: 0o600 });
}
