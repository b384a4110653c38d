/**
 * The facts a decision is made on: `gatherFacts()` joins the principal, the classified operation and
 * the directory view into one JSON-serialisable `DecisionFacts` record. Pure given the view; owns no
 * I/O, no clock (the caller passes `now`) and no rule logic. The audit record stores these facts so a
 * decision can be replayed without the directory or the token.
 */
import type { Principal } from '../identity/principal.js';
import type { DirectoryView, DirectoryObjectInfo, EffectivePermissions, HeldPermission, HeldRole, Provenance } from '../directory/view.js';
import { canonicalJson, sha256Hex } from '../canonical.js';
import { shareJson } from './shared-json.js';

/** The requirement for one permission scheme, as the classifier derives it from Microsoft's map. */
export interface PermissionRequirement {
  /** Any one of these grants the call, least privileged first. */
  anyOf: string[];
  least: string[];
  /**
   * Parallel to `anyOf`: `alsoRequires[i]` lists permissions of which one is needed in addition to
   * `anyOf[i]` (the map's `AlsoRequires=`); empty when `anyOf[i]` suffices alone.
   */
  alsoRequires: string[][];
}

/**
 * The subset of the classifier's `Operation` that policy reads. Structural on purpose: the real
 * `Operation` is assignable to it.
 */
export interface OperationFacts {
  method: string;
  version: 'v1.0' | 'beta';
  path: string;
  template: string | null;
  known: boolean;
  action: 'read' | 'create' | 'update' | 'delete' | 'invoke';
  permissions: { Application: PermissionRequirement; DelegatedWork: PermissionRequirement };
  target: { type: string; id?: string; idKind?: string; relatedIds?: string[]; viaMe?: boolean };
  tier: 'control-plane' | 'management-plane' | 'user-data' | 'unknown';
  related: { select: string[]; expand: string[] };
  tokenHasPermission: boolean | null;
  isBatch: boolean;
}

/** Read-only view of the first-use store: has this agent used this permission through graphwarden before? */
export interface UsageLookup {
  has(agentKey: string, permission: string): boolean;
}

export interface RiskFacts {
  score: number;
  flags: string[];
}

export interface FactsContext {
  now: Date;
  risk?: RiskFacts;
  usage?: UsageLookup;
}

export interface ProvenanceFact {
  kind: Provenance['kind'];
  id: string;
  description: string;
}

export interface RoleFact {
  displayName: string;
  roleDefinitionId: string;
  roleTemplateId?: string;
  privileged: boolean;
  directoryScopeId: string;
  endDateTime?: string;
  via: ProvenanceFact[];
}

export interface TargetObjectFact {
  id: string;
  type: DirectoryObjectInfo['type'];
  displayName?: string;
  roleAssignable?: boolean;
  privileged?: boolean;
  holdsControlPlane?: boolean;
  appId?: string;
  owners?: string[];
}

/** Everything rules can look at. JSON only (no Maps, Dates or functions), so it is stored and replayed as is. */
export interface DecisionFacts {
  v: 1;
  agent: {
    tenantId: string;
    appId: string;
    kind: 'app' | 'delegated';
    servicePrincipalId?: string;
    applicationObjectId?: string;
    displayName?: string;
    tags: string[];
    owners: Array<{ id: string; type: string; displayName?: string }>;
    userId?: string;
    userPrincipalName?: string;
    knownToDirectory: boolean;
    /** The agent's service principal (or the signed-in user) is disabled in the directory. */
    disabled: boolean;
    multiTenant?: boolean;
    agentIdentity?: boolean;
  };
  token: {
    /** `uti`: identifies the token without carrying it. */
    tokenId: string;
    /** sha256 of the canonical verified claims graphwarden used (not the token itself). */
    claimsDigest: string;
    clientAuth: Principal['clientAuth'];
    issuedAt: number;
    expiresAt: number;
    /** Application permissions (`roles`) or delegated scopes (`scp`) the token carries. */
    permissions: string[];
    wids: string[];
  };
  operation: {
    method: string;
    version: 'v1.0' | 'beta';
    path: string;
    template: string | null;
    known: boolean;
    action: OperationFacts['action'];
    tier: OperationFacts['tier'];
    /** The scheme that applies to this caller: Application for app-only tokens, DelegatedWork otherwise. */
    scheme: 'Application' | 'DelegatedWork';
    /** Permissions any one of which authorises the call under that scheme, least privileged first. */
    needs: string[];
    alsoRequires: string[][];
    select: string[];
    expand: string[];
    isBatch: boolean;
  };
  target: {
    type: string;
    id?: string;
    idKind?: string;
    relatedIds: string[];
    viaMe: boolean;
    /** The target is the calling user (via /me or their own id) or the calling app itself. */
    isCaller: boolean;
    knownToDirectory: boolean;
    /** Directory facts of the target and related objects that could be resolved. */
    objects: TargetObjectFact[];
    privilegedRole: boolean;
    roleAssignableGroup: boolean;
    holdsControlPlane: boolean;
    callerOwnsTarget: boolean;
    callerOwnApp: boolean;
  };
  permissions: {
    /** true: the directory grants what the call needs now; false: it does not; null: cannot be told (unknown operation or directory). */
    held: boolean | null;
    /** The token carries an acceptable permission (classifier's tokenHasPermission, or our own check). */
    inToken: boolean | null;
    /** Acceptable permissions the token carries that the directory no longer grants (revoked since the token was issued). */
    revokedInToken: string[];
    /** Delegated: acceptable scopes granted to the app that the signed-in user's roles do not let them exercise. */
    withheld: string[];
    /** The permission this call is counted against: the least privileged acceptable one the agent holds. */
    used?: string;
    usedVia: ProvenanceFact[];
    /** First time this agent uses `used` through graphwarden (null when no usage store was given). */
    firstUse: boolean | null;
    /** Directory permissions held now (names only; provenance of the one used is in usedVia). */
    holds: string[];
    activeRoles: RoleFact[];
    eligibleRoles: RoleFact[];
    /** The agent has PIM-eligible roles it has not activated: latent privilege. */
    latentPrivilege: boolean;
    privilegedRoleActive: boolean;
  };
  directory: { snapshotId: string; takenAt: string } | null;
  /** ISO time of the decision (time-window selectors read this). */
  at: string;
  risk: RiskFacts | null;
}

function provenance(via: readonly Provenance[]): ProvenanceFact[] {
  return via.map((p) => ({ kind: p.kind, id: p.id, description: p.description }));
}

function roleFact(r: HeldRole): RoleFact {
  const f: RoleFact = {
    displayName: r.displayName,
    roleDefinitionId: r.roleDefinitionId,
    privileged: r.privileged,
    directoryScopeId: r.directoryScopeId,
    via: provenance(r.via),
  };
  if (r.roleTemplateId !== undefined) f.roleTemplateId = r.roleTemplateId;
  if (r.endDateTime !== undefined) f.endDateTime = r.endDateTime;
  return f;
}

function objectFact(o: DirectoryObjectInfo): TargetObjectFact {
  const f: TargetObjectFact = { id: o.id, type: o.type };
  if (o.displayName !== undefined) f.displayName = o.displayName;
  if (o.roleAssignable !== undefined) f.roleAssignable = o.roleAssignable;
  if (o.privileged !== undefined) f.privileged = o.privileged;
  if (o.holdsControlPlane !== undefined) f.holdsControlPlane = o.holdsControlPlane;
  if (o.appId !== undefined) f.appId = o.appId;
  if (o.owners !== undefined) f.owners = [...o.owners];
  return f;
}

// A verified principal is frozen and shared by its token's calls: its key is made once, so the first-use
// lookup made for every call hashes a string it has hashed before. Other objects get a fresh key.
const agentKeys = new WeakMap<Pick<Principal, 'tenantId' | 'appId'>, string>();

/** The key the usage store files first-use under: one agent = one client app in one tenant. */
export function agentKey(principal: Pick<Principal, 'tenantId' | 'appId'>): string {
  let k = agentKeys.get(principal);
  if (k === undefined) {
    k = `${principal.tenantId}/${principal.appId}`;
    if (Object.isFrozen(principal)) agentKeys.set(principal, k);
  }
  return k;
}

// Principals are immutable and usually shared across a token's calls (verified-token cache): digest once.
const claimsDigests = new WeakMap<Principal, string>();

/** Digest of the principal's claims as graphwarden used them: proof without the token. */
export function claimsDigest(principal: Principal): string {
  let d = claimsDigests.get(principal);
  if (d === undefined) {
    d = `sha256:${sha256Hex(canonicalJson(principal))}`;
    claimsDigests.set(principal, d);
  }
  return d;
}

// Graph permission names are case-insensitive in practice (the map mixes case, §1.4), so compare folded.
const fold = (s: string): string => s.toLowerCase();

// The permissions held, by folded name: effective answers are cached by the directory view (per
// principal, until the next schedule boundary), so folding each one's names once saves a scan of the
// whole map for every permission a call could use that the agent does not hold under that exact case.
const foldedGraphs = new WeakMap<EffectivePermissions['graph'], Map<string, HeldPermission>>();
function heldByName(effective: EffectivePermissions, permission: string): HeldPermission | undefined {
  const direct = effective.graph.get(permission);
  if (direct) return direct;
  let folded = foldedGraphs.get(effective.graph);
  if (!folded) {
    folded = new Map();
    for (const [name, h] of effective.graph) if (!folded.has(fold(name))) folded.set(fold(name), h);
    foldedGraphs.set(effective.graph, folded);
  }
  return folded.get(fold(permission));
}

function heldIn(effective: EffectivePermissions | undefined, scheme: 'Application' | 'DelegatedWork', permission: string, targetId?: string): boolean {
  // A disabled principal holds nothing (directory contract: EffectivePermissions.disabled).
  if (!effective || effective.disabled === true) return false;
  const h = heldByName(effective, permission);
  if (!h || h.scheme !== scheme) return false;
  // Limited to objects the user owns: it authorises a call on one object only if that object is one of them.
  const limited = h.limitedTo;
  if (limited !== undefined && targetId !== undefined && !limited.includes(targetId)) return false;
  return true;
}

function heldEntry(effective: EffectivePermissions | undefined, permission: string): Provenance[] {
  return (effective && heldByName(effective, permission)?.via) ?? [];
}

// Facts parts that repeat from call to call are built once and shared (frozen, their JSON text
// remembered: see shareJson), keyed by the immutable objects they derive from: the principal (one per
// verified token), the compiled map's permission requirement, a frozen (remembered or canonical) operation, the
// directory view (one per snapshot), and the effective answer the directory's view caches per principal
// (a new answer only at its next schedule boundary). Objects made afresh for each call are never keys: a
// weak entry per call costs the garbage collector more than it saves (a view that does not cache its
// answers, like the rule tests' fixture view, still gets right facts, just without the saving).
const tokenFoldedSets = new WeakMap<Principal, Set<string>>();
const tokenFactsByPrincipal = new WeakMap<Principal, DecisionFacts['token']>();
const needsByRequirement = new WeakMap<PermissionRequirement, { needs: string[]; alsoRequires: string[][]; folded: string[] }>();
const operationFactsByOperation = new WeakMap<OperationFacts, Partial<Record<'Application' | 'DelegatedWork', DecisionFacts['operation']>>>();
const directoryFactsByView = new WeakMap<DirectoryView, NonNullable<DecisionFacts['directory']>>();
const agentsByView = new WeakMap<DirectoryView, WeakMap<Principal, { info: AgentInfo | undefined; disabled: boolean; agent: DecisionFacts['agent'] }>>();

type AgentInfo = ReturnType<DirectoryView['agent']>;

// The parts of the permission facts that come from the effective answer alone (its roles, the names it
// holds, a grant's provenance) are shared too: the directory view caches that answer per principal until
// its next schedule boundary, so these are built, sorted and serialised once per answer, not per call.
const NONE: never[] = shareJson([]);
const roleFactsByList = new WeakMap<readonly HeldRole[], RoleFact[]>();
const holdsByGraph = new WeakMap<EffectivePermissions['graph'], string[]>();
const provenanceByList = new WeakMap<readonly Provenance[], ProvenanceFact[]>();

function roleFactsOf(roles: readonly HeldRole[] | undefined): RoleFact[] {
  if (!roles || roles.length === 0) return NONE;
  let f = roleFactsByList.get(roles);
  if (!f) roleFactsByList.set(roles, (f = shareJson(roles.map(roleFact))));
  return f;
}

function holdsOf(graph: EffectivePermissions['graph']): string[] {
  let h = holdsByGraph.get(graph);
  if (!h) holdsByGraph.set(graph, (h = shareJson([...graph.keys()].sort())));
  return h;
}

function provenanceOf(via: readonly Provenance[]): ProvenanceFact[] {
  if (via.length === 0) return NONE;
  let f = provenanceByList.get(via);
  if (!f) provenanceByList.set(via, (f = shareJson(provenance(via))));
  return f;
}

function tokenFoldedSet(principal: Principal): Set<string> {
  let set = tokenFoldedSets.get(principal);
  if (!set) {
    set = new Set((principal.kind === 'app' ? principal.roles : principal.scopes).map(fold));
    tokenFoldedSets.set(principal, set);
  }
  return set;
}

function tokenFacts(principal: Principal): DecisionFacts['token'] {
  let t = tokenFactsByPrincipal.get(principal);
  if (!t) {
    t = shareJson({
      tokenId: principal.tokenId,
      claimsDigest: claimsDigest(principal),
      clientAuth: principal.clientAuth,
      issuedAt: principal.issuedAt,
      expiresAt: principal.expiresAt,
      permissions: [...(principal.kind === 'app' ? principal.roles : principal.scopes)],
      wids: [...principal.wids],
    });
    tokenFactsByPrincipal.set(principal, t);
  }
  return t;
}

function needsOf(req: PermissionRequirement): { needs: string[]; alsoRequires: string[][]; folded: string[] } {
  let n = needsByRequirement.get(req);
  if (!n) {
    n = { needs: shareJson([...req.anyOf]), alsoRequires: shareJson(req.alsoRequires.map((g) => [...g])), folded: req.anyOf.map(fold) };
    needsByRequirement.set(req, n);
  }
  return n;
}

function buildOperationFacts(operation: OperationFacts, scheme: 'Application' | 'DelegatedWork', req: PermissionRequirement): DecisionFacts['operation'] {
  const needs = needsOf(req);
  return {
    method: operation.method.toUpperCase(),
    version: operation.version,
    path: operation.path,
    template: operation.template,
    known: operation.known,
    action: operation.action,
    tier: operation.tier,
    scheme,
    needs: needs.needs,
    alsoRequires: needs.alsoRequires,
    select: [...operation.related.select],
    expand: [...operation.related.expand],
    isBatch: operation.isBatch,
  };
}

/**
 * The operation's facts, shared: the operation is frozen (remembered by the classifier, or made canonical
 * below), so the facts built from it once stay right.
 */
function operationFacts(operation: OperationFacts, scheme: 'Application' | 'DelegatedWork', req: PermissionRequirement): DecisionFacts['operation'] {
  let byScheme = operationFactsByOperation.get(operation);
  if (!byScheme) operationFactsByOperation.set(operation, (byScheme = {}));
  return (byScheme[scheme] ??= shareJson(buildOperationFacts(operation, scheme, req)));
}

// Operations classified afresh (calls with a body, which the classifier does not remember because the
// body can change the target) repeat too: an agent adding members to one group sends the same operation
// each time. Such an operation is replaced by one frozen operation of the same content, so everything
// derived from it is shared as for a remembered operation (operation, target and permission facts, the
// rule index's answers). Bounded: the targets of such calls are as many as the directory's objects.
const CANONICAL_MAX = 4096;
const canonicalOperations = new Map<string, OperationFacts>();
// A requirement's content as text, once per requirement object (the compiled map's are long-lived).
const requirementTexts = new WeakMap<OperationFacts['permissions'], string>();

function requirementText(p: OperationFacts['permissions']): string {
  let t = requirementTexts.get(p);
  if (t === undefined) {
    const r = (q: PermissionRequirement) => [q.anyOf, q.least, q.alsoRequires];
    requirementTexts.set(p, (t = JSON.stringify([r(p.Application), r(p.DelegatedWork)])));
  }
  return t;
}

function canonicalOperation(op: OperationFacts): OperationFacts {
  if (Object.isFrozen(op) && Object.isFrozen(op.target) && Object.isFrozen(op.related)) return op;
  const t = op.target;
  // Every member policy reads, and nothing else (the classifier's operation carries more).
  const key = JSON.stringify([requirementText(op.permissions), op.method, op.version, op.path, op.template, op.known, op.action, op.tier, op.tokenHasPermission, op.isBatch, t.type, t.id, t.idKind, t.relatedIds, t.viaMe, op.related.select, op.related.expand]);
  const known = canonicalOperations.get(key);
  if (known !== undefined) return known;
  if (canonicalOperations.size >= CANONICAL_MAX) canonicalOperations.clear();
  const target: OperationFacts['target'] = { type: t.type };
  if (t.id !== undefined) target.id = t.id;
  if (t.idKind !== undefined) target.idKind = t.idKind;
  if (t.relatedIds !== undefined) target.relatedIds = Object.freeze([...t.relatedIds]) as string[];
  if (t.viaMe !== undefined) target.viaMe = t.viaMe;
  const canonical: OperationFacts = Object.freeze({
    method: op.method,
    version: op.version,
    path: op.path,
    template: op.template,
    known: op.known,
    action: op.action,
    permissions: op.permissions,
    target: Object.freeze(target),
    tier: op.tier,
    related: Object.freeze({ select: Object.freeze([...op.related.select]) as string[], expand: Object.freeze([...op.related.expand]) as string[] }),
    tokenHasPermission: op.tokenHasPermission,
    isBatch: op.isBatch,
  });
  canonicalOperations.set(key, canonical);
  return canonical;
}

function directoryFacts(view: DirectoryView): NonNullable<DecisionFacts['directory']> {
  let d = directoryFactsByView.get(view);
  if (!d) {
    d = shareJson({ snapshotId: view.snapshotId, takenAt: view.takenAt });
    directoryFactsByView.set(view, d);
  }
  return d;
}

function agentFacts(principal: Principal, info: AgentInfo | undefined, disabled: boolean): DecisionFacts['agent'] {
  const agent: DecisionFacts['agent'] = {
    tenantId: principal.tenantId,
    appId: principal.appId,
    kind: principal.kind,
    tags: info ? [...info.tags] : [],
    owners: info ? info.owners.map((o) => ({ ...o })) : [],
    knownToDirectory: info !== undefined,
    disabled,
  };
  const spId = principal.servicePrincipalId ?? info?.servicePrincipalId;
  if (spId !== undefined) agent.servicePrincipalId = spId;
  if (info?.applicationObjectId !== undefined) agent.applicationObjectId = info.applicationObjectId;
  const displayName = info?.displayName ?? principal.appDisplayName;
  if (displayName !== undefined) agent.displayName = displayName;
  if (principal.userId !== undefined) agent.userId = principal.userId;
  if (principal.userPrincipalName !== undefined) agent.userPrincipalName = principal.userPrincipalName;
  if (info?.multiTenant !== undefined) agent.multiTenant = info.multiTenant;
  if (info?.agentIdentity !== undefined) agent.agentIdentity = info.agentIdentity;
  return agent;
}

/**
 * The agent record and its facts under one view: the view is an immutable snapshot, so what it says
 * about an app is fixed; only `disabled` (from effective permissions, which can change with time) is
 * checked on every call.
 */
function agentUnder(view: DirectoryView | undefined, principal: Principal, effective: EffectivePermissions | undefined): { info: AgentInfo | undefined; agent: DecisionFacts['agent'] } {
  const disabled = effective?.disabled === true;
  if (!view) return { info: undefined, agent: agentFacts(principal, undefined, disabled) };
  let byPrincipal = agentsByView.get(view);
  if (!byPrincipal) agentsByView.set(view, (byPrincipal = new WeakMap()));
  let entry = byPrincipal.get(principal);
  if (!entry || entry.disabled !== disabled) {
    const info = entry ? entry.info : view.agent(principal.tenantId, principal.appId);
    entry = { info, disabled, agent: shareJson(agentFacts(principal, info, disabled)) };
    byPrincipal.set(principal, entry);
  }
  return entry;
}

/** The target and permission facts: everything but the first-use answer comes from these inputs alone. */
interface Derived {
  target: DecisionFacts['target'];
  /** The permission the call is counted against (what the usage store is asked about). */
  used: string | undefined;
  permissions(firstUse: boolean | null): DecisionFacts['permissions'];
}

function derive(principal: Principal, operation: OperationFacts, view: DirectoryView | undefined, effective: EffectivePermissions | undefined, info: AgentInfo | undefined): Derived {
  const scheme = principal.kind === 'app' ? 'Application' : 'DelegatedWork';
  const req = operation.permissions[scheme];
  const tokenSet = tokenFoldedSet(principal);
  const spId = principal.servicePrincipalId ?? info?.servicePrincipalId;

  // Held: only when the operation is known and the directory knows the principal; otherwise "cannot tell"
  // (null) so that rules decide explicitly what an unknown means instead of an accidental allow.
  let held: boolean | null = null;
  let used: string | undefined;
  if (operation.known && req.anyOf.length > 0 && effective) {
    // A permission counts only with one of its AlsoRequires companions, when it has any.
    const satisfied = (p: string, i: number): boolean => {
      if (!heldIn(effective, scheme, p, operation.target.id)) return false;
      const extra = req.alsoRequires[i] ?? [];
      return extra.length === 0 || extra.some((x) => heldIn(effective, scheme, x));
    };
    used = req.anyOf.find(satisfied);
    held = used !== undefined;
  }
  // The acceptable permissions the token carries, in the requirement's order (folded once per requirement).
  const folded = needsOf(req).folded;
  const carried: string[] = [];
  const carriedFolded: string[] = [];
  for (let i = 0; i < folded.length; i++) {
    if (tokenSet.has(folded[i]!)) {
      carried.push(req.anyOf[i]!);
      carriedFolded.push(folded[i]!);
    }
  }
  const inToken = operation.tokenHasPermission ?? (operation.known && req.anyOf.length > 0 ? carried.length > 0 : null);
  const withheldList = effective?.withheld ?? [];
  const withheldSet = withheldList.length > 0 ? new Set(withheldList.map((w) => fold(w.permission))) : undefined;
  const withheld = withheldSet ? carried.filter((_, i) => withheldSet.has(carriedFolded[i]!)) : [];
  // Revoked: in the token, not granted now, and not merely withheld for lack of a user role.
  // (A disabled principal is reported as disabled, and a scope limited to owned objects as not held here.)
  const revokedInToken =
    effective && effective.disabled !== true
      ? carried.filter((p, i) => !withheldSet?.has(carriedFolded[i]!) && !heldIn(effective, scheme, p))
      : [];
  if (used === undefined && !effective) used = carried[0];

  // Target: resolve the object and related ids through the directory (ids keep their case, §4.2).
  const relatedIds = operation.target.relatedIds ? [...operation.target.relatedIds] : [];
  const objects: TargetObjectFact[] = [];
  const targetId = operation.target.id;
  let targetObj: DirectoryObjectInfo | undefined;
  if (view) {
    if (targetId !== undefined) {
      targetObj = view.object(principal.tenantId, targetId);
      // An appId names both an application and its service principal; the view may answer with either.
      // Follow the agent record to the one the URL addressed (/applications(appId=…) vs /servicePrincipals(appId=…)).
      const wanted = operation.target.type;
      if (targetObj?.appId !== undefined && (wanted === 'application' || wanted === 'servicePrincipal') && targetObj.type !== wanted) {
        const rec = view.agent(principal.tenantId, targetObj.appId);
        const otherId = wanted === 'application' ? rec?.applicationObjectId : rec?.servicePrincipalId;
        const other = otherId !== undefined ? view.object(principal.tenantId, otherId) : undefined;
        if (other?.type === wanted) targetObj = other;
      }
      if (targetObj) objects.push(objectFact(targetObj));
    }
    for (const id of relatedIds) {
      const o = view.object(principal.tenantId, id);
      if (o) objects.push(objectFact(o));
    }
  }
  const owns = (o: TargetObjectFact): boolean =>
    (effective?.owns.has(o.id) ?? false) || (o.owners ?? []).some((id) => id === spId || id === principal.userId || id === info?.applicationObjectId);
  const primary = targetObj ? objects[0] : undefined;
  const callerOwnApp =
    primary !== undefined &&
    (primary.appId === principal.appId || primary.id === info?.applicationObjectId || primary.id === spId);
  const viaMe = operation.target.viaMe === true;
  const isCaller =
    viaMe || (targetId !== undefined && (targetId === principal.userId || (primary !== undefined && callerOwnApp)));

  const activeRoles = roleFactsOf(effective?.activeRoles);
  const eligibleRoles = roleFactsOf(effective?.eligibleRoles);

  const target: DecisionFacts['target'] = {
    type: operation.target.type,
    relatedIds,
    viaMe,
    isCaller,
    knownToDirectory: targetObj !== undefined,
    objects,
    privilegedRole: objects.some((o) => (o.type === 'roleDefinition' || o.type === 'directoryRole') && o.privileged === true),
    roleAssignableGroup: objects.some((o) => o.type === 'group' && o.roleAssignable === true),
    holdsControlPlane: primary?.holdsControlPlane === true,
    callerOwnsTarget: primary !== undefined && owns(primary),
    callerOwnApp,
  };
  if (targetId !== undefined) target.id = targetId;
  if (operation.target.idKind !== undefined) target.idKind = operation.target.idKind;

  return {
    target,
    used,
    permissions: (firstUse) => ({
      held,
      inToken,
      revokedInToken,
      withheld,
      ...(used !== undefined ? { used } : {}),
      usedVia: used !== undefined ? provenanceOf(heldEntry(effective, used)) : NONE,
      firstUse,
      holds: effective ? holdsOf(effective.graph) : NONE,
      activeRoles,
      eligibleRoles,
      latentPrivilege: eligibleRoles.length > 0,
      privilegedRoleActive: activeRoles.some((r) => r.privileged),
    }),
  };
}

// Derived facts are shared like the other parts, keyed by inputs that cannot change: a frozen operation
// (remembered by the classifier, or canonical), the principal of a verified token, the view of one
// snapshot and the effective answer the view caches for the principal (until its next schedule boundary,
// when the view hands out a new answer and so a new key). A view that recomputes its answer on each call
// (the rule tests' fixture view) gets the same facts, without the saving.
const NO_VIEW = {};
const NO_ANSWER = {};
const derivedMemo = new WeakMap<OperationFacts, WeakMap<Principal, WeakMap<object, WeakMap<object, Derived>>>>();

function derivedFor(principal: Principal, operation: OperationFacts, view: DirectoryView | undefined, effective: EffectivePermissions | undefined, info: AgentInfo | undefined): Derived {
  let byPrincipal = derivedMemo.get(operation);
  if (!byPrincipal) derivedMemo.set(operation, (byPrincipal = new WeakMap()));
  let byView = byPrincipal.get(principal);
  if (!byView) byPrincipal.set(principal, (byView = new WeakMap()));
  const viewKey = view ?? NO_VIEW;
  let byAnswer = byView.get(viewKey);
  if (!byAnswer) byView.set(viewKey, (byAnswer = new WeakMap()));
  const answerKey = effective ?? NO_ANSWER;
  let d = byAnswer.get(answerKey);
  if (!d) {
    const fresh = derive(principal, operation, view, effective, info);
    const variants = new Map<boolean | null, DecisionFacts['permissions']>();
    d = {
      target: shareJson(fresh.target),
      used: fresh.used,
      permissions(firstUse) {
        let p = variants.get(firstUse);
        if (!p) variants.set(firstUse, (p = shareJson(fresh.permissions(firstUse))));
        return p;
      },
    };
    byAnswer.set(answerKey, d);
  }
  return d;
}

// Calls decided within one millisecond share the decision time's text: toISOString costs about half a
// microsecond, as much as gathering a repeated call's facts. An invalid date still throws, every time.
let lastTimeMs = Number.NaN;
let lastTimeText = '';
function isoTime(now: Date): string {
  const ms = now.getTime();
  if (ms !== lastTimeMs) {
    lastTimeText = now.toISOString();
    lastTimeMs = ms;
  }
  return lastTimeText;
}

export function gatherFacts(
  principal: Principal,
  operation: OperationFacts,
  view: DirectoryView | undefined,
  context: FactsContext,
): DecisionFacts {
  operation = canonicalOperation(operation);
  const scheme = principal.kind === 'app' ? 'Application' : 'DelegatedWork';
  const req = operation.permissions[scheme];
  const effective = view?.effective(principal);
  const { info, agent } = agentUnder(view, principal, effective);
  const d = derivedFor(principal, operation, view, effective, info);

  let firstUse: boolean | null = null;
  if (context.usage && d.used !== undefined) firstUse = !context.usage.has(agentKey(principal), d.used);

  return {
    v: 1,
    agent,
    token: tokenFacts(principal),
    operation: operationFacts(operation, scheme, req),
    target: d.target,
    permissions: d.permissions(firstUse),
    directory: view ? directoryFacts(view) : null,
    // Last, with risk: what changes with every call comes after the shared parts (see serialiseFacts).
    at: isoTime(context.now),
    risk: context.risk ? { score: context.risk.score, flags: [...context.risk.flags] } : null,
  };
}
