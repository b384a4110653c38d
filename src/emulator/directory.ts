/**
 * One emulated tenant's directory: materialised objects (the seeded cast, writes) in
 * maps, plus "filler" users, groups and apps generated on demand from their index so a
 * tenant of 1,000,000 objects costs almost no memory; a change log feeds delta queries.
 * Owns directory state and its typed mutation API; does not speak HTTP or mint tokens.
 */
import { createIndexedIds, deriveGuid, randomGuid, randomSecret, type IndexedIds } from './ids.js';
import { GRAPH_APP_ID, loadCatalog, type Catalog } from './catalog.js';

export type Obj = Record<string, unknown>;
export type CollectionName = 'users' | 'groups' | 'applications' | 'servicePrincipals' | 'oauth2PermissionGrants';
export const DELTA_COLLECTIONS: readonly CollectionName[] = ['users', 'groups', 'applications', 'servicePrincipals', 'oauth2PermissionGrants'];

/** Position in a collection listing: index into the materialised order, then into the fillers. */
export interface Cursor { m: number; f: number }

interface Filler {
  count: number;
  ids: IndexedIds;
  make(index: number): Obj;
}

/** An ordered collection of materialised objects followed by lazily generated fillers. */
class Collection {
  readonly #order: string[] = [];
  readonly #objects = new Map<string, Obj>();
  readonly #deleted = new Set<string>();
  #deletedFillers = 0;
  constructor(readonly filler?: Filler) {}

  get(id: string): Obj | undefined {
    const key = id.toLowerCase();
    if (this.#deleted.has(key)) return undefined;
    const o = this.#objects.get(key);
    if (o) return o;
    const i = this.filler?.ids.indexOf(key);
    if (i !== undefined && this.filler && i < this.filler.count) return this.filler.make(i);
    return undefined;
  }

  isFiller(id: string): boolean {
    const i = this.filler?.ids.indexOf(id);
    return i !== undefined && i < (this.filler?.count ?? 0);
  }

  put(obj: Obj): void {
    const key = String(obj.id).toLowerCase();
    if (!this.#objects.has(key) && !this.isFiller(key)) this.#order.push(key);
    this.#deleted.delete(key);
    this.#objects.set(key, obj);
  }

  remove(id: string): boolean {
    const key = id.toLowerCase();
    if (!this.get(key)) return false;
    this.#deleted.add(key);
    this.#objects.delete(key);
    if (this.isFiller(key)) this.#deletedFillers += 1;
    return true;
  }

  get size(): number {
    let m = 0;
    for (const id of this.#order) if (!this.#deleted.has(id)) m += 1;
    return m + (this.filler?.count ?? 0) - this.#deletedFillers;
  }

  /** Up to `limit` live objects from `cursor`; work is O(limit + deleted skipped), never O(size). */
  page(cursor: Cursor, limit: number): { items: Obj[]; next?: Cursor } {
    const items: Obj[] = [];
    let { m, f } = cursor;
    while (m < this.#order.length && items.length < limit) {
      const id = this.#order[m++]!;
      const o = this.#deleted.has(id) ? undefined : this.#objects.get(id);
      if (o) items.push(o);
    }
    const count = this.filler?.count ?? 0;
    while (m >= this.#order.length && f < count && items.length < limit) {
      const o = this.get(this.filler!.ids.idOf(f++));
      if (o) items.push(o);
    }
    const more = m < this.#order.length || f < count;
    return more ? { items, next: { m, f } } : { items };
  }

  /** Every object held in the maps: the materialised ones plus generated objects changed by writes. */
  touched(): Obj[] {
    return [...this.#objects.values()];
  }

  /** A generated object, to learn the values all untouched fillers share; undefined without fillers. */
  fillerSample(): Obj | undefined {
    return this.filler && this.filler.count > 0 ? this.filler.make(0) : undefined;
  }

  /** Materialised objects only (small: the cast and writes), for scans and relationship indexes. */
  materialised(): Obj[] {
    return this.#order.filter((id) => !this.#deleted.has(id)).map((id) => this.#objects.get(id)!);
  }
}

export interface ChangeEntry {
  seq: number;
  collection: CollectionName;
  id: string;
  removed?: boolean;
  member?: { id: string; type: string; removed: boolean };
}

export interface PasswordSecret { keyId: string; secretText: string; endDateTime: string }
export interface KeyCertificate { keyId: string; certPem: string; sha1Hex: string; sha256Hex: string; endDateTime: string }

export interface DirectoryOptions {
  tenantId: string;
  seed: string;
  primaryDomain: string;
  /** Number of lazily generated users / groups / applications (each app has its SP). */
  fillers: { users: number; groups: number; apps: number };
  now: () => number;
  /** How many change-log entries are kept; older delta tokens get 410 resyncRequired. */
  changeLogLimit?: number;
}

const MEMBERS_PER_FILLER_GROUP = 5;
const SECRET_HINT_LEN = 3;

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * The typed mutation API tests and the emulator's Graph side share. Every write is
 * recorded in the change log, so Graph reads and delta see it.
 */
export class TenantDirectory {
  readonly tenantId: string;
  readonly primaryDomain: string;
  readonly catalog: Catalog;
  readonly users: Collection;
  readonly groups: Collection;
  readonly applications: Collection;
  readonly servicePrincipals: Collection;
  readonly oauth2PermissionGrants = new Collection();
  readonly appRoleAssignments = new Map<string, Obj>();
  readonly roleAssignments = new Map<string, Obj>();
  readonly roleEligibilitySchedules = new Map<string, Obj>();
  readonly roleAssignmentSchedules = new Map<string, Obj>();
  readonly roleAssignmentScheduleRequests = new Map<string, Obj>();
  readonly #members = new Map<string, string[]>();
  readonly #memberOf = new Map<string, Set<string>>();
  readonly #owners = new Map<string, string[]>();
  readonly #passwords = new Map<string, string>();
  readonly #secrets = new Map<string, PasswordSecret[]>();
  readonly #keys = new Map<string, KeyCertificate[]>();
  readonly #appIdIndex = { applications: new Map<string, string>(), servicePrincipals: new Map<string, string>() };
  readonly #upnIndex = new Map<string, string>();
  readonly #changes: ChangeEntry[] = [];
  #seq = 0;
  #floor = 0;
  readonly #changeLogLimit: number;
  readonly #fillerUserIds: IndexedIds;
  readonly #fillerGroupIds: IndexedIds;
  readonly #fillerAppIds: IndexedIds;
  readonly #fillerAppAppIds: IndexedIds;
  readonly #fillerSpIds: IndexedIds;
  readonly #fillers: DirectoryOptions['fillers'];
  readonly #createdAt: string;
  readonly now: () => number;
  graphServicePrincipalId = '';

  constructor(opts: DirectoryOptions) {
    this.tenantId = opts.tenantId;
    this.primaryDomain = opts.primaryDomain;
    this.now = opts.now;
    this.catalog = loadCatalog();
    this.#changeLogLimit = opts.changeLogLimit ?? 100_000;
    this.#fillers = opts.fillers;
    this.#createdAt = iso(opts.now() - 400 * 86_400_000);
    const s = `${opts.seed}:${opts.tenantId}`;
    this.#fillerUserIds = createIndexedIds(s, 'user');
    this.#fillerGroupIds = createIndexedIds(s, 'group');
    this.#fillerAppIds = createIndexedIds(s, 'application');
    this.#fillerAppAppIds = createIndexedIds(s, 'appId');
    this.#fillerSpIds = createIndexedIds(s, 'servicePrincipal');
    const domain = opts.primaryDomain;
    const created = this.#createdAt;
    this.users = new Collection({
      count: opts.fillers.users,
      ids: this.#fillerUserIds,
      make: (i) => ({
        id: this.#fillerUserIds.idOf(i),
        businessPhones: [],
        displayName: `Staff Member ${i}`,
        givenName: 'Staff',
        surname: `Member ${i}`,
        jobTitle: i % 7 === 0 ? 'Engineer' : 'Analyst',
        mail: `user${i}@${domain}`,
        mobilePhone: null,
        officeLocation: null,
        preferredLanguage: 'en-US',
        userPrincipalName: `user${i}@${domain}`,
        accountEnabled: true,
        userType: 'Member',
        department: i % 3 === 0 ? 'Sales' : 'Operations',
        createdDateTime: created,
        mailNickname: `user${i}`,
      }),
    });
    this.groups = new Collection({
      count: opts.fillers.groups,
      ids: this.#fillerGroupIds,
      make: (i) => ({
        id: this.#fillerGroupIds.idOf(i),
        displayName: `Team ${i}`,
        description: `Synthetic team ${i}`,
        mailNickname: `team${i}`,
        mail: null,
        mailEnabled: false,
        securityEnabled: true,
        groupTypes: [],
        isAssignableToRole: false,
        membershipRule: null,
        membershipRuleProcessingState: null,
        visibility: null,
        createdDateTime: created,
      }),
    });
    this.applications = new Collection({
      count: opts.fillers.apps,
      ids: this.#fillerAppIds,
      make: (i) => ({ ...this.#fillerAppCommon(i), id: this.#fillerAppIds.idOf(i), signInAudience: 'AzureADMyOrg', passwordCredentials: [], keyCredentials: [], requiredResourceAccess: [], isFallbackPublicClient: false, publisherDomain: domain }),
    });
    this.servicePrincipals = new Collection({
      count: opts.fillers.apps,
      ids: this.#fillerSpIds,
      make: (i) => ({ ...this.#fillerAppCommon(i), id: this.#fillerSpIds.idOf(i), accountEnabled: true, servicePrincipalType: 'Application', appOwnerOrganizationId: this.tenantId, servicePrincipalNames: [this.#fillerAppAppIds.idOf(i)], passwordCredentials: [], keyCredentials: [], appRoles: [], oauth2PermissionScopes: [], tags: [] }),
    });
  }

  #fillerAppCommon(i: number): Obj {
    return { appId: this.#fillerAppAppIds.idOf(i), displayName: `Line-of-business app ${i}`, createdDateTime: this.#createdAt, description: null };
  }

  // ---- change log -------------------------------------------------------------

  #record(collection: CollectionName, id: string, extra: Partial<ChangeEntry> = {}): void {
    this.#seq += 1;
    this.#changes.push({ seq: this.#seq, collection, id, ...extra });
    if (this.#changes.length > this.#changeLogLimit) {
      const dropped = this.#changes.splice(0, this.#changes.length - this.#changeLogLimit);
      this.#floor = dropped[dropped.length - 1]!.seq;
    }
  }

  get seq(): number { return this.#seq; }

  /** Changes after `since`, or undefined when the log no longer reaches back that far. */
  changesSince(collection: CollectionName, since: number): ChangeEntry[] | undefined {
    if (since < this.#floor || since > this.#seq) return undefined;
    // Binary search: entries are ordered by seq.
    let lo = 0;
    let hi = this.#changes.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.#changes[mid]!.seq <= since) lo = mid + 1; else hi = mid;
    }
    return this.#changes.slice(lo).filter((c) => c.collection === collection);
  }

  // ---- generic lookups --------------------------------------------------------

  collection(name: CollectionName): Collection {
    return this[name];
  }

  /** Any directory object by id (users, groups, applications, service principals). */
  getObject(id: string): { collection: CollectionName; obj: Obj } | undefined {
    for (const c of ['users', 'groups', 'servicePrincipals', 'applications'] as const) {
      const obj = this[c].get(id);
      if (obj) return { collection: c, obj };
    }
    return undefined;
  }

  userByKey(key: string): Obj | undefined {
    if (key.includes('@')) {
      const lower = key.toLowerCase();
      const id = this.#upnIndex.get(lower);
      if (id) return this.users.get(id);
      const m = /^user(\d+)@(.+)$/.exec(lower);
      if (m && m[2] === this.primaryDomain.toLowerCase()) {
        const u = this.users.get(this.#fillerUserIds.idOf(Number(m[1])));
        if (u && String(u.userPrincipalName).toLowerCase() === lower) return u;
      }
      return undefined;
    }
    return this.users.get(key);
  }

  byAppId(kind: 'applications' | 'servicePrincipals', appId: string): Obj | undefined {
    const lower = appId.toLowerCase();
    const id = this.#appIdIndex[kind].get(lower);
    if (id) return this[kind].get(id);
    const i = this.#fillerAppAppIds.indexOf(lower);
    if (i !== undefined && i < this.#fillers.apps) {
      return this[kind].get(kind === 'applications' ? this.#fillerAppIds.idOf(i) : this.#fillerSpIds.idOf(i));
    }
    return undefined;
  }

  #index(collection: CollectionName, obj: Obj, previous?: Obj): void {
    if (collection === 'users') {
      if (previous?.userPrincipalName) this.#upnIndex.delete(String(previous.userPrincipalName).toLowerCase());
      if (obj.userPrincipalName) this.#upnIndex.set(String(obj.userPrincipalName).toLowerCase(), String(obj.id));
    }
    if ((collection === 'applications' || collection === 'servicePrincipals') && obj.appId) {
      this.#appIdIndex[collection].set(String(obj.appId).toLowerCase(), String(obj.id));
    }
  }

  // ---- object writes ----------------------------------------------------------

  /** Insert or replace a whole object (seeding and creates). */
  putObject(collection: CollectionName, obj: Obj): Obj {
    const previous = this[collection].get(String(obj.id));
    this[collection].put(obj);
    this.#index(collection, obj, previous);
    this.#record(collection, String(obj.id));
    return obj;
  }

  /** Shallow-merge `patch` into an object (PATCH semantics); undefined when absent. */
  updateObject(collection: CollectionName, id: string, patch: Obj): Obj | undefined {
    const current = this[collection].get(id);
    if (!current) return undefined;
    const next = { ...current, ...patch, id: current.id };
    return this.putObject(collection, next);
  }

  deleteObject(id: string): boolean {
    const found = this.getObject(id);
    if (!found) return false;
    const oid = String(found.obj.id);
    this[found.collection].remove(oid);
    if (found.collection === 'users' && found.obj.userPrincipalName) this.#upnIndex.delete(String(found.obj.userPrincipalName).toLowerCase());
    this.#record(found.collection, oid, { removed: true });
    for (const g of [...this.memberOf(oid)]) this.removeMember(g, oid);
    for (const [aid, a] of this.appRoleAssignments) if (a.principalId === oid || a.resourceId === oid) this.appRoleAssignments.delete(aid);
    for (const [rid, r] of this.roleAssignments) if (r.principalId === oid) this.roleAssignments.delete(rid);
    return true;
  }

  setAccountEnabled(id: string, enabled: boolean): boolean {
    const found = this.getObject(id);
    if (!found || (found.collection !== 'users' && found.collection !== 'servicePrincipals')) return false;
    this.updateObject(found.collection, id, { accountEnabled: enabled });
    return true;
  }

  createUser(props: { displayName: string; userPrincipalName: string; password?: string; userType?: 'Member' | 'Guest'; accountEnabled?: boolean; id?: string } & Obj): Obj {
    const { password, ...rest } = props;
    const upn = rest.userPrincipalName;
    const nick = upn.split('@')[0] ?? upn;
    const user: Obj = {
      id: props.id ?? randomGuid(), businessPhones: [], givenName: null, surname: null, jobTitle: null, mail: null, mobilePhone: null,
      officeLocation: null, preferredLanguage: null, accountEnabled: true, userType: 'Member', createdDateTime: iso(this.now()), mailNickname: nick, department: null, ...rest,
    };
    this.putObject('users', user);
    if (password) this.#passwords.set(String(user.id).toLowerCase(), password);
    return user;
  }

  checkPassword(userId: string, password: string): boolean {
    const p = this.#passwords.get(userId.toLowerCase());
    return p !== undefined && p === password;
  }

  // ---- group membership -------------------------------------------------------

  #fillerMembers(groupId: string): string[] {
    const g = this.#fillerGroupIds.indexOf(groupId);
    if (g === undefined || g >= this.#fillers.groups) return [];
    const out: string[] = [];
    for (let u = g * MEMBERS_PER_FILLER_GROUP; u < (g + 1) * MEMBERS_PER_FILLER_GROUP && u < this.#fillers.users; u++) out.push(this.#fillerUserIds.idOf(u));
    return out;
  }

  /** Direct member ids of a group (materialised membership, or the filler formula). */
  members(groupId: string): string[] {
    const key = groupId.toLowerCase();
    const list = this.#members.get(key) ?? this.#fillerMembers(key);
    return list.filter((id) => this.getObject(id));
  }

  /** Direct group ids the object is a member of. */
  memberOf(objectId: string): string[] {
    const key = objectId.toLowerCase();
    const out = new Set(this.#memberOf.get(key) ?? []);
    const u = this.#fillerUserIds.indexOf(key);
    if (u !== undefined && u < this.#fillers.users) {
      const g = Math.floor(u / MEMBERS_PER_FILLER_GROUP);
      if (g < this.#fillers.groups) {
        const gid = this.#fillerGroupIds.idOf(g);
        if (!this.#members.has(gid) && this.groups.get(gid)) out.add(gid);
      }
    }
    return [...out];
  }

  transitiveMembers(groupId: string): string[] {
    const seen = new Set<string>();
    const queue = [groupId.toLowerCase()];
    while (queue.length) {
      for (const m of this.members(queue.shift()!)) {
        if (seen.has(m)) continue;
        seen.add(m);
        if (this.groups.get(m)) queue.push(m);
      }
    }
    return [...seen];
  }

  transitiveMemberOf(objectId: string): string[] {
    const seen = new Set<string>();
    const queue = [objectId.toLowerCase()];
    while (queue.length) {
      for (const g of this.memberOf(queue.shift()!)) {
        if (seen.has(g)) continue;
        seen.add(g);
        queue.push(g);
      }
    }
    return [...seen];
  }

  #materialiseMembers(groupId: string): string[] {
    const key = groupId.toLowerCase();
    let list = this.#members.get(key);
    if (!list) {
      list = this.#fillerMembers(key);
      this.#members.set(key, list);
      for (const m of list) this.#addReverse(m, key);
    }
    return list;
  }

  #addReverse(memberId: string, groupId: string): void {
    let set = this.#memberOf.get(memberId);
    if (!set) this.#memberOf.set(memberId, (set = new Set()));
    set.add(groupId);
  }

  #typeOf(id: string): string {
    const c = this.getObject(id)?.collection;
    return c === 'users' ? '#microsoft.graph.user' : c === 'groups' ? '#microsoft.graph.group' : c === 'servicePrincipals' ? '#microsoft.graph.servicePrincipal' : '#microsoft.graph.directoryObject';
  }

  /** Adds a member; false if either object is missing or it is already a member. */
  addMember(groupId: string, memberId: string): boolean {
    const g = this.groups.get(groupId);
    const m = this.getObject(memberId);
    if (!g || !m) return false;
    const gid = String(g.id).toLowerCase();
    const mid = String(m.obj.id).toLowerCase();
    const list = this.#materialiseMembers(gid);
    if (list.includes(mid)) return false;
    list.push(mid);
    this.#addReverse(mid, gid);
    this.#record('groups', gid, { member: { id: mid, type: this.#typeOf(mid), removed: false } });
    return true;
  }

  removeMember(groupId: string, memberId: string): boolean {
    const gid = groupId.toLowerCase();
    const mid = memberId.toLowerCase();
    if (!this.groups.get(gid)) return false;
    const list = this.#materialiseMembers(gid);
    const i = list.indexOf(mid);
    if (i < 0) return false;
    list.splice(i, 1);
    this.#memberOf.get(mid)?.delete(gid);
    this.#record('groups', gid, { member: { id: mid, type: this.#typeOf(mid), removed: true } });
    return true;
  }

  // ---- owners -----------------------------------------------------------------

  owners(objectId: string): string[] {
    return (this.#owners.get(objectId.toLowerCase()) ?? []).filter((id) => this.getObject(id));
  }

  addOwner(objectId: string, ownerId: string): boolean {
    const o = this.getObject(objectId);
    if (!o || !this.getObject(ownerId)) return false;
    const key = String(o.obj.id).toLowerCase();
    const list = this.#owners.get(key) ?? [];
    if (list.includes(ownerId.toLowerCase())) return false;
    list.push(ownerId.toLowerCase());
    this.#owners.set(key, list);
    this.#record(o.collection, key);
    return true;
  }

  removeOwner(objectId: string, ownerId: string): boolean {
    const key = objectId.toLowerCase();
    const list = this.#owners.get(key);
    const i = list?.indexOf(ownerId.toLowerCase()) ?? -1;
    if (!list || i < 0) return false;
    list.splice(i, 1);
    const o = this.getObject(key);
    if (o) this.#record(o.collection, key);
    return true;
  }

  // ---- app role assignments ---------------------------------------------------

  graphServicePrincipal(): Obj {
    return this.servicePrincipals.get(this.graphServicePrincipalId)!;
  }

  /**
   * Grants an app role. `appRole` is a Graph permission name (e.g. 'User.Read.All'),
   * resolved against the Microsoft Graph SP's real app role ids, or an app role id
   * when `resourceId` names another resource SP.
   */
  grantAppRole(principalId: string, appRole: string, resourceId = this.graphServicePrincipalId): Obj {
    const principal = this.getObject(principalId);
    const resource = this.servicePrincipals.get(resourceId);
    if (!principal || !resource) throw new Error(`grantAppRole: unknown principal ${principalId} or resource ${resourceId}`);
    const roles = (resource.appRoles as Obj[] | undefined) ?? [];
    const role = roles.find((r) => r.value === appRole || r.id === appRole);
    if (!role) throw new Error(`grantAppRole: resource ${String(resource.displayName)} has no app role ${appRole}`);
    const a: Obj = {
      id: Buffer.from(randomGuid().replace(/-/g, ''), 'hex').toString('base64url') + Buffer.from(randomGuid().replace(/-/g, ''), 'hex').toString('base64url').slice(0, 21),
      deletedDateTime: null,
      appRoleId: role.id,
      createdDateTime: iso(this.now()),
      principalDisplayName: principal.obj.displayName,
      principalId: principal.obj.id,
      principalType: principal.collection === 'users' ? 'User' : principal.collection === 'groups' ? 'Group' : 'ServicePrincipal',
      resourceDisplayName: resource.displayName,
      resourceId: resource.id,
    };
    this.appRoleAssignments.set(String(a.id), a);
    this.#record(principal.collection, String(principal.obj.id));
    return a;
  }

  revokeAppRoleAssignment(assignmentId: string): boolean {
    const a = this.appRoleAssignments.get(assignmentId);
    if (!a) return false;
    this.appRoleAssignments.delete(assignmentId);
    const p = this.getObject(String(a.principalId));
    if (p) this.#record(p.collection, String(p.obj.id));
    return true;
  }

  /** Revokes a Graph app permission by name from a principal; returns how many assignments went. */
  revokeAppRole(principalId: string, permission: string): number {
    const role = this.catalog.appRoleByValue.get(permission);
    let n = 0;
    for (const [id, a] of [...this.appRoleAssignments]) {
      if (String(a.principalId).toLowerCase() === principalId.toLowerCase() && (a.appRoleId === role?.id || a.appRoleId === permission)) {
        this.revokeAppRoleAssignment(id);
        n += 1;
      }
    }
    return n;
  }

  assignmentsFor(principalId: string): Obj[] {
    const key = principalId.toLowerCase();
    return [...this.appRoleAssignments.values()].filter((a) => String(a.principalId).toLowerCase() === key);
  }

  assignmentsTo(resourceId: string): Obj[] {
    const key = resourceId.toLowerCase();
    return [...this.appRoleAssignments.values()].filter((a) => String(a.resourceId).toLowerCase() === key);
  }

  /** Graph app permission names a service principal holds (what the token endpoint puts in `roles`). */
  graphAppRolesOf(spId: string): string[] {
    const out: string[] = [];
    for (const a of this.assignmentsFor(spId)) {
      if (String(a.resourceId) !== this.graphServicePrincipalId) continue;
      const r = this.catalog.appRoleById.get(String(a.appRoleId));
      if (r) out.push(r.value);
    }
    return [...new Set(out)].sort();
  }

  // ---- delegated grants -------------------------------------------------------

  addOAuth2Grant(g: { clientId: string; consentType: 'AllPrincipals' | 'Principal'; principalId?: string | null; scope: string; resourceId?: string }): Obj {
    const grant: Obj = {
      id: Buffer.from(randomGuid().replace(/-/g, ''), 'hex').toString('base64url'),
      clientId: g.clientId,
      consentType: g.consentType,
      principalId: g.consentType === 'Principal' ? (g.principalId ?? null) : null,
      resourceId: g.resourceId ?? this.graphServicePrincipalId,
      scope: g.scope.trim(),
    };
    return this.putObject('oauth2PermissionGrants', grant);
  }

  updateOAuth2Grant(id: string, scope: string): Obj | undefined {
    return this.updateObject('oauth2PermissionGrants', id, { scope: scope.trim() });
  }

  removeOAuth2Grant(id: string): boolean {
    if (!this.oauth2PermissionGrants.get(id)) return false;
    this.oauth2PermissionGrants.remove(id);
    this.#record('oauth2PermissionGrants', id, { removed: true });
    return true;
  }

  /** Graph scopes the client may use for the user: AllPrincipals grants plus the user's own. */
  grantedScopes(clientSpId: string, userId: string): string[] {
    const out = new Set<string>();
    for (const g of this.oauth2PermissionGrants.materialised()) {
      if (String(g.clientId).toLowerCase() !== clientSpId.toLowerCase() || g.resourceId !== this.graphServicePrincipalId) continue;
      if (g.consentType === 'AllPrincipals' || String(g.principalId).toLowerCase() === userId.toLowerCase()) {
        for (const s of String(g.scope).split(' ')) if (s) out.add(s);
      }
    }
    return [...out].sort();
  }

  // ---- directory roles --------------------------------------------------------

  assignRole(a: { principalId: string; roleDefinitionId: string; directoryScopeId?: string; endDateTime?: string | null }): Obj {
    if (!this.getObject(a.principalId)) throw new Error(`assignRole: unknown principal ${a.principalId}`);
    const ra: Obj = {
      id: `${Buffer.from(randomGuid().replace(/-/g, ''), 'hex').toString('base64url')}-1`,
      condition: null,
      directoryScopeId: a.directoryScopeId ?? '/',
      principalId: a.principalId,
      roleDefinitionId: a.roleDefinitionId,
    };
    this.roleAssignments.set(String(ra.id), ra);
    this.roleAssignmentSchedules.set(String(ra.id), {
      id: String(ra.id), principalId: a.principalId, roleDefinitionId: a.roleDefinitionId, directoryScopeId: ra.directoryScopeId, appScopeId: null,
      createdUsing: String(ra.id), createdDateTime: iso(this.now()), modifiedDateTime: null, status: 'Provisioned',
      assignmentType: 'Assigned', memberType: 'Direct',
      scheduleInfo: { startDateTime: iso(this.now()), recurrence: null, expiration: a.endDateTime ? { type: 'afterDateTime', endDateTime: a.endDateTime, duration: null } : { type: 'noExpiration', endDateTime: null, duration: null } },
    });
    const p = this.getObject(a.principalId);
    if (p) this.#record(p.collection, String(p.obj.id));
    return ra;
  }

  removeRoleAssignment(id: string): boolean {
    const ra = this.roleAssignments.get(id);
    if (!ra) return false;
    this.roleAssignments.delete(id);
    this.roleAssignmentSchedules.delete(id);
    return true;
  }

  addRoleEligibility(e: { principalId: string; roleDefinitionId: string; directoryScopeId?: string; endDateTime?: string | null }): Obj {
    const id = randomGuid();
    const s: Obj = {
      id, principalId: e.principalId, roleDefinitionId: e.roleDefinitionId, directoryScopeId: e.directoryScopeId ?? '/', appScopeId: null,
      createdUsing: id, createdDateTime: iso(this.now()), modifiedDateTime: null, status: 'Provisioned', memberType: 'Direct',
      scheduleInfo: { startDateTime: iso(this.now()), recurrence: null, expiration: e.endDateTime ? { type: 'afterDateTime', endDateTime: e.endDateTime, duration: null } : { type: 'noExpiration', endDateTime: null, duration: null } },
    };
    this.roleEligibilitySchedules.set(id, s);
    return s;
  }

  /** Active (unexpired) tenant-wide role template ids for a principal, directly or through role-assignable groups: the `wids` claim. */
  activeRoleTemplates(principalId: string): string[] {
    const key = principalId.toLowerCase();
    const via = new Set([key, ...this.memberOf(key).filter((g) => this.groups.get(g)?.isAssignableToRole === true)]);
    const now = this.now();
    const out = new Set<string>();
    for (const ra of this.roleAssignments.values()) {
      if (!via.has(String(ra.principalId).toLowerCase()) || ra.directoryScopeId !== '/') continue;
      const sched = this.roleAssignmentSchedules.get(String(ra.id));
      const end = (sched?.scheduleInfo as { expiration?: { endDateTime?: string | null } } | undefined)?.expiration?.endDateTime;
      if (end && Date.parse(end) <= now) continue;
      const def = this.catalog.roleDefinitionById.get(String(ra.roleDefinitionId));
      out.add(def?.templateId ?? String(ra.roleDefinitionId));
    }
    return [...out].sort();
  }

  // ---- credentials ------------------------------------------------------------

  /** Adds a client secret (addPassword); the only place the secret text is returned. */
  addPassword(objectId: string, opts: { displayName?: string | null; endDateTime?: string; startDateTime?: string; secretText?: string } = {}): Obj | undefined {
    const found = this.getObject(objectId);
    if (!found || (found.collection !== 'applications' && found.collection !== 'servicePrincipals')) return undefined;
    const secretText = opts.secretText ?? randomSecret();
    const now = this.now();
    const cred: Obj = {
      customKeyIdentifier: null,
      displayName: opts.displayName ?? null,
      endDateTime: opts.endDateTime ?? iso(now + 2 * 365 * 86_400_000),
      hint: secretText.slice(0, SECRET_HINT_LEN),
      keyId: randomGuid(),
      secretText: null,
      startDateTime: opts.startDateTime ?? iso(now),
    };
    const key = String(found.obj.id).toLowerCase();
    const list = this.#secrets.get(key) ?? [];
    list.push({ keyId: String(cred.keyId), secretText, endDateTime: String(cred.endDateTime) });
    this.#secrets.set(key, list);
    this.updateObject(found.collection, key, { passwordCredentials: [...((found.obj.passwordCredentials as Obj[] | undefined) ?? []), cred] });
    return { ...cred, secretText };
  }

  removePassword(objectId: string, keyId: string): boolean {
    const found = this.getObject(objectId);
    if (!found) return false;
    const creds = (found.obj.passwordCredentials as Obj[] | undefined) ?? [];
    if (!creds.some((c) => String(c.keyId).toLowerCase() === keyId.toLowerCase())) return false;
    const key = String(found.obj.id).toLowerCase();
    this.#secrets.set(key, (this.#secrets.get(key) ?? []).filter((s) => s.keyId.toLowerCase() !== keyId.toLowerCase()));
    this.updateObject(found.collection, key, { passwordCredentials: creds.filter((c) => String(c.keyId).toLowerCase() !== keyId.toLowerCase()) });
    return true;
  }

  secretsOf(objectId: string): PasswordSecret[] {
    return this.#secrets.get(objectId.toLowerCase()) ?? [];
  }

  addKeyCredential(objectId: string, key: Omit<KeyCertificate, 'keyId'> & { displayName?: string; certDerBase64: string; startDateTime?: string }): Obj | undefined {
    const found = this.getObject(objectId);
    if (!found) return undefined;
    const keyId = randomGuid();
    const cred: Obj = {
      customKeyIdentifier: key.sha1Hex, displayName: key.displayName ?? null, endDateTime: key.endDateTime, key: null, keyId,
      startDateTime: key.startDateTime ?? iso(this.now()), type: 'AsymmetricX509Cert', usage: 'Verify',
    };
    const oid = String(found.obj.id).toLowerCase();
    this.#keys.set(oid, [...(this.#keys.get(oid) ?? []), { keyId, certPem: key.certPem, sha1Hex: key.sha1Hex, sha256Hex: key.sha256Hex, endDateTime: key.endDateTime }]);
    this.updateObject(found.collection, oid, { keyCredentials: [...((found.obj.keyCredentials as Obj[] | undefined) ?? []), cred] });
    return cred;
  }

  keysOf(objectId: string): KeyCertificate[] {
    return this.#keys.get(objectId.toLowerCase()) ?? [];
  }

  // ---- misc -------------------------------------------------------------------

  /** Deterministic id for a directoryRole (an activated role template) in this tenant. */
  directoryRoleId(templateId: string): string {
    return deriveGuid(this.tenantId, `directoryRole:${templateId}`);
  }

  get createdDateTime(): string {
    return this.#createdAt;
  }

  /** Graph app role id for a permission name (Microsoft Graph SP). */
  graphAppRoleId(permission: string): string | undefined {
    return this.catalog.appRoleByValue.get(permission)?.id;
  }

  isGraphApp(appId: string): boolean {
    return appId.toLowerCase() === GRAPH_APP_ID;
  }
}
