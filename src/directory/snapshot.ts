/**
 * The immutable directory snapshot: schema-versioned, content-hashed (sha256 over a canonical
 * serialisation), persisted atomically (temp file + fsync + rename) and loaded with its indexes
 * built once. Does not fetch anything (connector/) nor decide what a principal may do (effective.ts).
 */
import { canonicalJson, deepFreeze, sha256Hex } from '../canonical.js';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  SNAPSHOT_SCHEMA_VERSION,
  MICROSOFT_GRAPH_APP_ID,
  type ApplicationRecord,
  type AppRoleAssignmentRecord,
  type GrantRecord,
  type GroupRecord,
  type RoleAssignmentRecord,
  type RoleDefinitionRecord,
  type RoleScheduleRecord,
  type ServicePrincipalRecord,
  type SnapshotData,
  type TenantData,
  type UserRecord,
} from './model.js';

export const SNAPSHOT_FILE = 'directory-snapshot.json';

/** Precomputed lookups over one tenant's records; every map is built once at load. */
export interface TenantIndex {
  readonly data: TenantData;
  readonly users: ReadonlyMap<string, UserRecord>;
  readonly groups: ReadonlyMap<string, GroupRecord>;
  readonly applications: ReadonlyMap<string, ApplicationRecord>;
  readonly servicePrincipals: ReadonlyMap<string, ServicePrincipalRecord>;
  readonly appByAppId: ReadonlyMap<string, ApplicationRecord>;
  readonly spByAppId: ReadonlyMap<string, ServicePrincipalRecord>;
  /** The tenant's Microsoft Graph service principal, when synced. */
  readonly graphSp: ServicePrincipalRecord | undefined;
  readonly roleDefinitions: ReadonlyMap<string, RoleDefinitionRecord>;
  readonly appRoleAssignmentsByPrincipal: ReadonlyMap<string, readonly AppRoleAssignmentRecord[]>;
  readonly grantsByClient: ReadonlyMap<string, readonly GrantRecord[]>;
  readonly roleAssignmentsByPrincipal: ReadonlyMap<string, readonly RoleAssignmentRecord[]>;
  readonly eligibilityByPrincipal: ReadonlyMap<string, readonly RoleScheduleRecord[]>;
  readonly assignmentSchedulesByPrincipal: ReadonlyMap<string, readonly RoleScheduleRecord[]>;
  /** Object id → ids of applications / service principals / groups it owns. */
  readonly ownedBy: ReadonlyMap<string, readonly string[]>;
  /** Member id → ids of groups it is a direct member of. */
  readonly memberOf: ReadonlyMap<string, readonly string[]>;
}

export interface Snapshot {
  readonly schemaVersion: number;
  /** sha256 (hex) of the canonical serialisation of `data`. */
  readonly id: string;
  readonly takenAt: string;
  readonly data: SnapshotData;
  readonly tenants: ReadonlyMap<string, TenantIndex>;
}

const byId = <T extends { id: string }>(a: T, b: T): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** Sorts every list so the same directory always serialises (and hashes) the same. */
export function normaliseData(data: SnapshotData): SnapshotData {
  const sortStr = (xs: string[]): string[] => [...new Set(xs)].sort();
  const tenants = [...data.tenants]
    .map(
      (t): TenantData => ({
        ...t,
        users: [...t.users].sort(byId),
        groups: t.groups.map((g) => ({ ...g, members: sortStr(g.members), owners: sortStr(g.owners) })).sort(byId),
        applications: t.applications
          .map((a) => ({ ...a, tags: sortStr(a.tags), owners: sortStr(a.owners), credentials: [...a.credentials].sort((x, y) => (x.keyId < y.keyId ? -1 : x.keyId > y.keyId ? 1 : 0)) }))
          .sort(byId),
        servicePrincipals: t.servicePrincipals
          .map((s) => ({
            ...s,
            tags: sortStr(s.tags),
            owners: sortStr(s.owners),
            appRoles: [...s.appRoles].sort(byId),
            scopes: [...s.scopes].sort(byId),
            credentials: [...s.credentials].sort((x, y) => (x.keyId < y.keyId ? -1 : x.keyId > y.keyId ? 1 : 0)),
          }))
          .sort(byId),
        appRoleAssignments: [...t.appRoleAssignments].sort(byId),
        grants: [...t.grants].sort(byId),
        roleDefinitions: t.roleDefinitions.map((r) => ({ ...r, allowedResourceActions: sortStr(r.allowedResourceActions) })).sort(byId),
        roleAssignments: [...t.roleAssignments].sort(byId),
        roleEligibilitySchedules: [...t.roleEligibilitySchedules].sort(byId),
        roleAssignmentSchedules: [...t.roleAssignmentSchedules].sort(byId),
      }),
    )
    .sort((a, b) => (a.tenantId < b.tenantId ? -1 : a.tenantId > b.tenantId ? 1 : 0));
  return { tenants };
}

export function hashData(data: SnapshotData): string {
  return sha256Hex(canonicalJson(data));
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

function indexTenant(t: TenantData): TenantIndex {
  const users = new Map(t.users.map((u) => [u.id, u]));
  const groups = new Map(t.groups.map((g) => [g.id, g]));
  const applications = new Map(t.applications.map((a) => [a.id, a]));
  const servicePrincipals = new Map(t.servicePrincipals.map((s) => [s.id, s]));
  const appByAppId = new Map(t.applications.map((a) => [a.appId.toLowerCase(), a]));
  const spByAppId = new Map(t.servicePrincipals.map((s) => [s.appId.toLowerCase(), s]));
  const roleDefinitions = new Map<string, RoleDefinitionRecord>();
  for (const r of t.roleDefinitions) {
    roleDefinitions.set(r.id.toLowerCase(), r);
    // roleAssignment.roleDefinitionId carries the template id for built-in roles.
    if (r.templateId) roleDefinitions.set(r.templateId.toLowerCase(), r);
  }
  const appRoleAssignmentsByPrincipal = new Map<string, AppRoleAssignmentRecord[]>();
  for (const a of t.appRoleAssignments) push(appRoleAssignmentsByPrincipal, a.principalId, a);
  const grantsByClient = new Map<string, GrantRecord[]>();
  for (const g of t.grants) push(grantsByClient, g.clientId, g);
  const roleAssignmentsByPrincipal = new Map<string, RoleAssignmentRecord[]>();
  for (const r of t.roleAssignments) push(roleAssignmentsByPrincipal, r.principalId, r);
  const eligibilityByPrincipal = new Map<string, RoleScheduleRecord[]>();
  for (const r of t.roleEligibilitySchedules) push(eligibilityByPrincipal, r.principalId, r);
  const assignmentSchedulesByPrincipal = new Map<string, RoleScheduleRecord[]>();
  for (const r of t.roleAssignmentSchedules) push(assignmentSchedulesByPrincipal, r.principalId, r);
  const ownedBy = new Map<string, string[]>();
  for (const o of [...t.applications, ...t.servicePrincipals, ...t.groups]) for (const owner of o.owners) push(ownedBy, owner, o.id);
  const memberOf = new Map<string, string[]>();
  for (const g of t.groups) for (const m of g.members) push(memberOf, m, g.id);
  return {
    data: t,
    users,
    groups,
    applications,
    servicePrincipals,
    appByAppId,
    spByAppId,
    graphSp: spByAppId.get(MICROSOFT_GRAPH_APP_ID),
    roleDefinitions,
    appRoleAssignmentsByPrincipal,
    grantsByClient,
    roleAssignmentsByPrincipal,
    eligibilityByPrincipal,
    assignmentSchedulesByPrincipal,
    ownedBy,
    memberOf,
  };
}

/** The canonical text of each snapshot's data, kept aside so saving does not serialise twice. */
const canonicalText = new WeakMap<Snapshot, string>();

/** Builds an immutable snapshot from raw data; `takenAt` is passed in (no clock here). */
export function createSnapshot(raw: SnapshotData, takenAt: string, opts: { freeze?: boolean } = {}): Snapshot {
  const data = normaliseData(raw);
  if (opts.freeze !== false) deepFreeze(data);
  const text = canonicalJson(data);
  const id = sha256Hex(text);
  const snap = buildSnapshot(data, id, takenAt);
  canonicalText.set(snap, text);
  return snap;
}

function buildSnapshot(data: SnapshotData, id: string, takenAt: string): Snapshot {
  const tenants = new Map<string, TenantIndex>();
  for (const t of data.tenants) tenants.set(t.tenantId.toLowerCase(), indexTenant(t));
  return Object.freeze({ schemaVersion: SNAPSHOT_SCHEMA_VERSION, id, takenAt, data, tenants });
}

interface SnapshotFile {
  schemaVersion: number;
  id: string;
  takenAt: string;
  data: SnapshotData;
}

/** Writes the snapshot atomically: temp file, fsync, rename, then fsync the directory. */
export async function saveSnapshot(stateDir: string, snap: Snapshot): Promise<string> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const target = join(stateDir, SNAPSHOT_FILE);
  const tmp = `${target}.${process.pid}.${snap.id.slice(0, 12)}.tmp`;
  // Header first, canonical data last: loading can hash the data text without re-serialising it.
  const header = `{"schemaVersion":${snap.schemaVersion},"id":${JSON.stringify(snap.id)},"takenAt":${JSON.stringify(snap.takenAt)},"data":`;
  const data = canonicalText.get(snap) ?? canonicalJson(snap.data);
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(header);
    await fh.writeFile(data);
    await fh.writeFile('}');
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, target);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  try {
    const dh = await open(stateDir, 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  } catch {
    // Directory fsync is not supported everywhere (e.g. some network filesystems); the rename is still atomic.
  }
  return target;
}

export class SnapshotLoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SnapshotLoadError';
  }
}

/**
 * Loads the persisted snapshot; undefined when none exists. A file with another schema version or
 * whose content does not match its hash is refused (never half-trusted).
 */
export async function loadSnapshot(stateDir: string, opts: { verifyHash?: boolean } = {}): Promise<Snapshot | undefined> {
  let text: string;
  try {
    text = await readFile(join(stateDir, SNAPSHOT_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let parsed: SnapshotFile;
  try {
    parsed = JSON.parse(text) as SnapshotFile;
  } catch {
    throw new SnapshotLoadError('directory snapshot is not valid JSON');
  }
  const dataStart = text.indexOf(',"data":');
  if (parsed.schemaVersion !== SNAPSHOT_SCHEMA_VERSION) {
    throw new SnapshotLoadError(`directory snapshot schema version ${String(parsed.schemaVersion)} is not ${SNAPSHOT_SCHEMA_VERSION}`);
  }
  if (!parsed.data || !Array.isArray(parsed.data.tenants) || typeof parsed.id !== 'string') {
    throw new SnapshotLoadError('directory snapshot is malformed');
  }
  // The data text as written is canonical; if someone rewrote the file otherwise, fall back to re-serialising.
  const dataText = dataStart > 0 && text.endsWith('}') ? text.slice(dataStart + 8, -1) : undefined;
  const actual = dataText !== undefined && dataText === dataText.trim() ? sha256Hex(dataText) : undefined;
  if (opts.verifyHash !== false && actual !== parsed.id && hashData(parsed.data) !== parsed.id) {
    throw new SnapshotLoadError('directory snapshot content does not match its hash');
  }
  return buildSnapshot(deepFreeze(parsed.data), parsed.id, parsed.takenAt);
}
