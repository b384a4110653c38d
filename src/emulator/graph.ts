/**
 * The emulator's Microsoft Graph side (/v1.0 and /beta): token check as Graph does it,
 * a small table of which permissions each served operation accepts, directory reads with
 * $select/$filter/$top/$count/paging, delta, $batch and the writes agents commonly make.
 * Owns Graph URL and JSON shapes; does not own directory state (directory.ts) or HTTP I/O.
 */
import { randomUUID } from 'node:crypto';
import { GRAPH_APP_ID } from './catalog.js';
import { type CollectionName, type Cursor, type Obj, type TenantDirectory } from './directory.js';
import { decodeToken, encodeToken, randomGuid } from './ids.js';
import { verifyJwt } from './tokens.js';
import type { EmulatorState, Resp, TenantState } from './types.js';

export interface Caller {
  tenant: TenantState;
  kind: 'app' | 'delegated';
  appId: string;
  spId: string;
  userId?: string;
  perms: Set<string>;
}

export interface GraphRequest {
  method: string;
  version: 'v1.0' | 'beta';
  /** Path after the version, without a leading slash, percent-decoded per segment. */
  segments: string[];
  query: URLSearchParams;
  headers: Record<string, string | undefined>;
  body: unknown;
}

// ---- errors -----------------------------------------------------------------

export function graphError(status: number, code: string, message: string, headers: Record<string, string | undefined> = {}, now = Date.now()): Resp {
  const requestId = randomUUID();
  const clientRequestId = headers['client-request-id'] ?? requestId;
  return {
    status,
    headers: { 'request-id': requestId, 'client-request-id': clientRequestId },
    body: { error: { code, message, innerError: { date: new Date(now).toISOString().replace(/\.\d{3}Z$/, ''), 'request-id': requestId, 'client-request-id': clientRequestId } } },
  };
}

const DENIED = 'Insufficient privileges to complete the operation.';

// ---- authentication -----------------------------------------------------------

const TOKEN_CACHE_MAX = 10_000;

/** Verifies the bearer token like Graph: signature (nonce rule), audience, issuer/tenant, lifetime. */
export class GraphAuthenticator {
  readonly #cache = new Map<string, { claims: Obj; kid: string; ts: TenantState }>();
  constructor(private readonly state: EmulatorState) {}

  authenticate(authorization: string | undefined): { caller: Caller } | { message: string } {
    const now = this.state.now();
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!m) return { message: 'Access token is empty.' };
    const token = m[1]!;
    let claims: Obj;
    const cached = this.#cache.get(token);
    // A cached verification holds only while its signing key is still published.
    if (cached && cached.ts.keys.find(cached.kid, now)) {
      claims = cached.claims;
    } else {
      let tid: string | undefined;
      try {
        tid = (JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Obj).tid as string | undefined;
      } catch {
        return { message: 'IDX14100: JWT is not well formed, there are no dots (.).' };
      }
      const ts = typeof tid === 'string' ? this.state.tenants.get(tid.toLowerCase()) : undefined;
      if (!ts) return { message: 'Access token validation failure. Invalid issuer.' };
      const v = verifyJwt(token, (kid) => ts.keys.find(kid, now));
      if (!v.ok) return { message: v.reason === 'malformed' ? 'IDX14100: JWT is not well formed.' : 'Access token validation failure.' };
      claims = v.claims;
      const iss = claims.iss;
      if (iss !== `https://sts.windows.net/${ts.tenant.id}/` && iss !== `${this.state.url}/${ts.tenant.id}/v2.0`) return { message: 'Access token validation failure. Invalid issuer.' };
      if (claims.aud !== GRAPH_APP_ID && claims.aud !== 'https://graph.microsoft.com' && claims.aud !== 'https://graph.microsoft.com/') return { message: 'Access token validation failure. Invalid audience.' };
      if (typeof claims.exp !== 'number' || typeof claims.nbf !== 'number') return { message: 'Access token validation failure.' };
      if (this.#cache.size >= TOKEN_CACHE_MAX) this.#cache.clear();
      this.#cache.set(token, { claims, kid: String(v.header.kid), ts });
    }
    const nowSec = now / 1000;
    // Graph allows five minutes of clock skew.
    if ((claims.exp as number) + 300 < nowSec) return { message: 'Lifetime validation failed, the token is expired.' };
    if ((claims.nbf as number) - 300 > nowSec) return { message: 'Lifetime validation failed, the token is not yet valid.' };
    const ts = this.state.tenants.get(String(claims.tid).toLowerCase())!;
    const appId = String(claims.appid ?? claims.azp ?? '');
    const sp = ts.directory.byAppId('servicePrincipals', appId);
    if (!sp) return { message: 'Access token validation failure. Invalid client.' };
    const delegated = claims.idtyp === 'user' || (claims.idtyp === undefined && typeof claims.scp === 'string');
    const perms = new Set<string>(delegated ? String(claims.scp ?? '').split(' ').filter(Boolean) : Array.isArray(claims.roles) ? (claims.roles as string[]) : []);
    return { caller: { tenant: ts, kind: delegated ? 'delegated' : 'app', appId, spId: String(sp.id), ...(delegated ? { userId: String(claims.oid) } : {}), perms } };
  }
}

// ---- permission table ---------------------------------------------------------

interface Perms { app?: string[]; user?: string[]; self?: string[] }

const P = {
  userRead: ['User.ReadBasic.All', 'User.Read.All', 'User.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'],
  userWrite: ['User.ReadWrite.All', 'Directory.ReadWrite.All'],
  userSelf: ['User.Read', 'User.ReadWrite', 'User.ReadBasic.All', 'User.Read.All', 'User.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'],
  groupRead: ['GroupMember.Read.All', 'Group.Read.All', 'Group.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'],
  groupMemberRead: ['GroupMember.Read.All', 'GroupMember.ReadWrite.All', 'Group.Read.All', 'Group.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'],
  groupMemberWrite: ['GroupMember.ReadWrite.All', 'Group.ReadWrite.All', 'Directory.ReadWrite.All'],
  groupWrite: ['Group.ReadWrite.All', 'Directory.ReadWrite.All'],
  memberOf: ['User.Read.All', 'User.ReadWrite.All', 'GroupMember.Read.All', 'Group.Read.All', 'Directory.Read.All', 'Directory.ReadWrite.All'],
  appRead: ['Application.Read.All', 'Application.ReadWrite.All', 'Application.ReadWrite.OwnedBy', 'Directory.Read.All', 'Directory.ReadWrite.All'],
  appWrite: ['Application.ReadWrite.All', 'Application.ReadWrite.OwnedBy'],
  appRoleAssignRead: ['Application.Read.All', 'Application.ReadWrite.All', 'AppRoleAssignment.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'],
  appRoleAssignWrite: ['AppRoleAssignment.ReadWrite.All'],
  grantRead: ['Directory.Read.All', 'DelegatedPermissionGrant.Read.All', 'DelegatedPermissionGrant.ReadWrite.All', 'Directory.ReadWrite.All'],
  grantWrite: ['DelegatedPermissionGrant.ReadWrite.All'],
  roleRead: ['RoleManagement.Read.Directory', 'RoleManagement.Read.All', 'RoleManagement.ReadWrite.Directory', 'Directory.Read.All', 'Directory.ReadWrite.All'],
  roleWrite: ['RoleManagement.ReadWrite.Directory'],
  eligRead: ['RoleEligibilitySchedule.Read.Directory', 'RoleEligibilitySchedule.ReadWrite.Directory', 'RoleManagement.Read.Directory', 'RoleManagement.Read.All', 'RoleManagement.ReadWrite.Directory'],
  assignSchedRead: ['RoleAssignmentSchedule.Read.Directory', 'RoleAssignmentSchedule.ReadWrite.Directory', 'RoleManagement.Read.Directory', 'RoleManagement.Read.All', 'RoleManagement.ReadWrite.Directory'],
  assignSchedWrite: ['RoleAssignmentSchedule.ReadWrite.Directory', 'RoleManagement.ReadWrite.Directory'],
  mailApp: ['Mail.ReadBasic.All', 'Mail.Read', 'Mail.ReadWrite'],
  mailSelf: ['Mail.ReadBasic', 'Mail.Read', 'Mail.ReadWrite'],
  org: ['Organization.Read.All', 'Organization.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'],
  orgUser: ['User.Read', 'Organization.Read.All', 'Directory.Read.All', 'Directory.ReadWrite.All'],
  agentRead: ['AgentIdentity.Read.All', 'AgentIdentityBlueprint.Read.All', 'Application.Read.All', 'Application.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'],
} as const;

const both = (p: readonly string[], self?: readonly string[]): Perms => ({ app: [...p], user: [...p], ...(self ? { self: [...self] } : {}) });

// ---- helpers ----------------------------------------------------------------------

type Params = Record<string, string>;
interface Ctx { req: GraphRequest; caller: Caller; dir: TenantDirectory; state: EmulatorState; params: Params; base: string }
type Handler = (ctx: Ctx) => Resp;

interface Route { method: string; pattern: string[]; perms: Perms | ((ctx: Ctx) => Perms); handler: Handler; delegatedOnly?: boolean }

const USER_DEFAULT_SELECT = ['businessPhones', 'displayName', 'givenName', 'jobTitle', 'mail', 'mobilePhone', 'officeLocation', 'preferredLanguage', 'surname', 'userPrincipalName', 'id'];

const ODATA_TYPE: Record<CollectionName, string> = {
  users: '#microsoft.graph.user',
  groups: '#microsoft.graph.group',
  applications: '#microsoft.graph.application',
  servicePrincipals: '#microsoft.graph.servicePrincipal',
  oauth2PermissionGrants: '#microsoft.graph.oAuth2PermissionGrant',
};

function ok(body: unknown, status = 200): Resp {
  return { status, body };
}
const noContent: Resp = { status: 204 };

function selectFields(ctx: Ctx): string[] | undefined {
  const raw = ctx.req.query.get('$select') ?? (ctx.req.version === 'beta' ? ctx.req.query.get('select') : null);
  if (!raw) return undefined;
  return raw.split(',').map((s) => s.trim()).filter(Boolean);
}

function project(obj: Obj, fields: string[] | undefined, collection?: CollectionName, version?: string): Obj {
  let keys = fields;
  if (!keys && collection === 'users' && version === 'v1.0') keys = USER_DEFAULT_SELECT;
  if (!keys) return obj;
  const out: Obj = {};
  if (obj['@odata.type'] !== undefined) out['@odata.type'] = obj['@odata.type'];
  for (const k of keys) {
    const hit = Object.keys(obj).find((ok) => ok.toLowerCase() === k.toLowerCase());
    out[hit ?? k] = hit ? obj[hit] : null;
  }
  return out;
}

function typed(dir: TenantDirectory, id: string): Obj | undefined {
  const f = dir.getObject(id);
  if (!f) return undefined;
  return { '@odata.type': f.obj['@odata.type'] ?? ODATA_TYPE[f.collection], ...f.obj };
}

function notFound(ctx: Ctx, id: string): Resp {
  return graphError(404, 'Request_ResourceNotFound', `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`, ctx.req.headers, ctx.state.now());
}

function badRequest(ctx: Ctx, message: string, code = 'Request_BadRequest'): Resp {
  return graphError(400, code, message, ctx.req.headers, ctx.state.now());
}

function context(ctx: Ctx, fragment: string, fields?: string[]): string {
  return `${ctx.base}/${ctx.req.version}/$metadata#${fragment}${fields ? `(${fields.join(',')})` : ''}`;
}

function topOf(ctx: Ctx, def: number, max: number): number | Resp {
  const raw = ctx.req.query.get('$top') ?? (ctx.req.version === 'beta' ? ctx.req.query.get('top') : null);
  if (raw === null) return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) return badRequest(ctx, `Invalid page size specified: '${raw}'. Must be between 1 and ${max} inclusive.`, 'Request_UnsupportedQuery');
  if (n > max) return badRequest(ctx, `Invalid page size specified: '${raw}'. Must be between 1 and ${max} inclusive.`, 'Request_UnsupportedQuery');
  return n;
}

function nextLink(ctx: Ctx, token: string, drop: string[] = []): string {
  const q = new URLSearchParams();
  for (const [k, v] of ctx.req.query) if (k !== '$skiptoken' && k !== '$deltatoken' && !drop.includes(k)) q.append(k, v);
  q.set('$skiptoken', token);
  return `${ctx.base}/${ctx.req.version}/${ctx.req.segments.join('/')}?${q.toString().replace(/%24/g, '$')}`;
}

function countRequested(ctx: Ctx): boolean | Resp {
  const c = ctx.req.query.get('$count');
  if (c === null || c === 'false') return false;
  if ((ctx.req.headers.consistencylevel ?? '').toLowerCase() !== 'eventual') {
    return badRequest(ctx, "Count is not currently supported without the 'ConsistencyLevel: eventual' header.", 'Request_BadRequest');
  }
  return true;
}

// ---- $filter -----------------------------------------------------------------------

type Clause = { field: string; op: 'eq' | 'in'; values: unknown[] };

function parseLiteral(raw: string): unknown {
  const s = raw.trim();
  if (s.startsWith("'") && s.endsWith("'")) return s.slice(1, -1).replace(/''/g, "'");
  if (s === 'true') return true;
  if (s === 'false') return false;
  if (s === 'null') return null;
  if (/^-?\d+(\.\d+)?$/.test(s)) return Number(s);
  if (/^[0-9a-f-]{36}$/i.test(s)) return s;
  throw new Error('literal');
}

/** The simple $filter forms SDKs and connectors use: `a eq 'x' and b in ('y','z')`. */
function parseFilter(raw: string): Clause[] | undefined {
  try {
    return raw.split(/\s+and\s+/i).map((part) => {
      const eq = /^\s*([\w/]+)\s+eq\s+(.+?)\s*$/i.exec(part);
      if (eq) return { field: eq[1]!, op: 'eq' as const, values: [parseLiteral(eq[2]!)] };
      const inn = /^\s*([\w/]+)\s+in\s+\((.*)\)\s*$/i.exec(part);
      if (inn) return { field: inn[1]!, op: 'in' as const, values: (inn[2]!.match(/'(?:[^']|'')*'|[^,\s]+/g) ?? []).map(parseLiteral) };
      throw new Error('unsupported');
    });
  } catch {
    return undefined;
  }
}

function fieldValue(obj: Obj, field: string): unknown {
  const key = Object.keys(obj).find((k) => k.toLowerCase() === field.toLowerCase());
  return key ? obj[key] : undefined;
}

function matches(obj: Obj, clauses: Clause[]): boolean {
  return clauses.every((c) => {
    const v = fieldValue(obj, c.field);
    return c.values.some((want) => (typeof v === 'string' && typeof want === 'string' ? v.toLowerCase() === want.toLowerCase() : v === want));
  });
}

/** Fields the emulator resolves by index in O(1) at any tenant size. */
const INDEXED: Record<string, string[]> = {
  users: ['id', 'userprincipalname'],
  groups: ['id'],
  applications: ['id', 'appid'],
  servicePrincipals: ['id', 'appid'],
};

/** Fields whose value is the same on every untouched generated object (see directory.ts fillers). */
const FILLER_CONSTANT: Partial<Record<CollectionName, string[]>> = {
  users: ['usertype', 'accountenabled', 'creationtype', 'externaluserstate'],
  groups: ['isassignabletorole', 'securityenabled', 'mailenabled', 'membershipruleprocessingstate', 'visibility'],
  applications: ['signinaudience', 'isfallbackpublicclient', 'publisherdomain'],
  servicePrincipals: ['serviceprincipaltype', 'accountenabled', 'appownerorganizationid'],
};

/** Whether an untouched generated object could match the clauses on constant fields (none: it could). */
function matchesSample(sample: Obj | undefined, constantClauses: Clause[]): boolean {
  if (!sample || !constantClauses.length) return true;
  return matches(sample, constantClauses);
}

/** Beyond this many lazily generated objects, scans for non-indexed filters are refused. */
const SCAN_LIMIT = 20_000;

// ---- listing -------------------------------------------------------------------------

interface SkipState { k: 'c' | 'a'; m?: number; f?: number; o?: number }

function readSkip(ctx: Ctx): SkipState | undefined | Resp {
  const raw = ctx.req.query.get('$skiptoken');
  if (raw === null) return undefined;
  const t = decodeToken(raw) as SkipState | undefined;
  if (!t || (t.k !== 'c' && t.k !== 'a')) return badRequest(ctx, 'The specified page token value has expired or is invalid.', 'Directory_ExpiredPageToken');
  return t;
}

/** Lists a big (filler-backed) collection with paging, $select, $filter, $count. */
function listCollection(ctx: Ctx, name: CollectionName, keep?: (o: Obj) => boolean): Resp {
  const dir = ctx.dir;
  const fields = selectFields(ctx);
  const top = topOf(ctx, 100, 999);
  if (typeof top !== 'number') return top;
  const count = countRequested(ctx);
  if (typeof count !== 'boolean') return count;
  const filterRaw = ctx.req.query.get('$filter');
  const coll = dir.collection(name);
  let items: Obj[];
  const skip = readSkip(ctx);
  if (skip && 'status' in skip) return skip;
  if (filterRaw) {
    const clauses = parseFilter(filterRaw);
    if (!clauses) return badRequest(ctx, `Unsupported or invalid query filter clause specified: '${filterRaw}'.`, 'Request_UnsupportedQuery');
    const indexed = clauses.find((c) => INDEXED[name]?.includes(c.field.toLowerCase()));
    let candidates: Obj[];
    if (indexed) {
      const f = indexed.field.toLowerCase();
      candidates = indexed.values.map((v) => {
        const key = String(v);
        if (f === 'id') return coll.get(key);
        if (f === 'userprincipalname') return dir.userByKey(key);
        return dir.byAppId(name as 'applications' | 'servicePrincipals', key);
      }).filter((o): o is Obj => !!o);
    } else if (!matchesSample(coll.fillerSample(), clauses.filter((c) => FILLER_CONSTANT[name]?.includes(c.field.toLowerCase())))) {
      // Untouched generated objects all share this field's value and it does not match:
      // only objects held in the maps (cast, created, changed) can.
      candidates = coll.touched();
    } else {
      if (coll.size > SCAN_LIMIT + coll.materialised().length) {
        return badRequest(ctx, `Unsupported query: the emulator filters '${name}' at this size only on ${(INDEXED[name] ?? []).join(', ')}.`, 'Request_UnsupportedQuery');
      }
      candidates = [];
      let cur: Cursor | undefined = { m: 0, f: 0 };
      while (cur) {
        const p = coll.page(cur, 1000);
        candidates.push(...p.items);
        cur = p.next;
      }
    }
    const all = candidates.filter((o) => matches(o, clauses) && (!keep || keep(o)));
    const offset = skip?.o ?? 0;
    items = all.slice(offset, offset + top);
    const token = offset + top < all.length ? encodeToken({ k: 'a', o: offset + top }) : undefined;
    return pageResponse(ctx, name, items, fields, token, count ? all.length : undefined);
  }
  if (keep) {
    // Restricted views (OwnedBy) list materialised objects only: fillers have no owners.
    const all = coll.materialised().filter(keep);
    const offset = skip?.o ?? 0;
    items = all.slice(offset, offset + top);
    return pageResponse(ctx, name, items, fields, offset + top < all.length ? encodeToken({ k: 'a', o: offset + top }) : undefined, count ? all.length : undefined);
  }
  const p = coll.page({ m: skip?.m ?? 0, f: skip?.f ?? 0 }, top);
  const next = p.next;
  return pageResponse(ctx, name, p.items, fields, next ? encodeToken({ k: 'c', m: next.m, f: next.f }) : undefined, count && !skip ? coll.size : undefined);
}

// $expand on directory objects returns at most 20 related objects (concepts/query-parameters.md).
const EXPAND_MAX = 20;
const EXPANDABLE: Partial<Record<CollectionName, string[]>> = {
  users: ['memberOf', 'transitiveMemberOf', 'appRoleAssignments', 'ownedObjects'],
  groups: ['members', 'owners', 'memberOf', 'transitiveMembers'],
  applications: ['owners'],
  servicePrincipals: ['owners', 'memberOf', 'appRoleAssignments', 'appRoleAssignedTo'],
};

/** Navigation properties named in $expand (inner options ignored), or an error for unknown ones. */
function expandOf(ctx: Ctx, name: CollectionName): string[] | Resp {
  const raw = ctx.req.query.get('$expand') ?? (ctx.req.version === 'beta' ? ctx.req.query.get('expand') : null);
  if (!raw) return [];
  const navs = raw.replace(/\([^)]*\)/g, '').split(',').map((x) => x.trim()).filter(Boolean);
  const allowed = EXPANDABLE[name] ?? [];
  const out: string[] = [];
  for (const n of navs) {
    const hit = allowed.find((a) => a.toLowerCase() === n.toLowerCase());
    if (!hit) return badRequest(ctx, `Could not find a property named '${n}' on type '${ODATA_TYPE[name].slice(1)}'.`, 'BadRequest');
    out.push(hit);
  }
  return out;
}

function expanded(ctx: Ctx, nav: string, obj: Obj): Obj[] {
  const id = String(obj.id);
  const dir = ctx.dir;
  const objs = (ids: string[]) => ids.slice(0, EXPAND_MAX).map((x) => typed(dir, x)).filter((o): o is Obj => !!o);
  switch (nav) {
    case 'members': return objs(dir.members(id));
    case 'transitiveMembers': return objs(dir.transitiveMembers(id));
    case 'owners': return objs(dir.owners(id));
    case 'memberOf': return objs(dir.memberOf(id));
    case 'transitiveMemberOf': return objs(dir.transitiveMemberOf(id));
    case 'appRoleAssignments': return dir.assignmentsFor(id).slice(0, EXPAND_MAX);
    case 'appRoleAssignedTo': return dir.assignmentsTo(id).slice(0, EXPAND_MAX);
    case 'ownedObjects': return [...dir.applications.materialised(), ...dir.servicePrincipals.materialised(), ...dir.groups.materialised()]
      .filter((o) => dir.owners(String(o.id)).includes(id.toLowerCase())).slice(0, EXPAND_MAX).map((o) => typed(dir, String(o.id))!);
    default: return [];
  }
}

function shape(ctx: Ctx, name: CollectionName | undefined, obj: Obj, fields: string[] | undefined, navs: string[]): Obj {
  const out = project(obj, fields, name, ctx.req.version);
  for (const n of navs) out[n] = expanded(ctx, n, obj);
  return out;
}

function pageResponse(ctx: Ctx, name: CollectionName, items: Obj[], fields: string[] | undefined, token: string | undefined, count: number | undefined): Resp {
  const navs = expandOf(ctx, name);
  if (!Array.isArray(navs)) return navs;
  const body: Obj = { '@odata.context': context(ctx, name, fields) };
  if (count !== undefined) body['@odata.count'] = count;
  if (token) body['@odata.nextLink'] = nextLink(ctx, token);
  body.value = items.map((o) => shape(ctx, name, o, fields, navs));
  return ok(body);
}

/** Lists a small in-memory array with offset paging, $select, $filter and $count. */
function listArray(ctx: Ctx, contextFragment: string, all: Obj[], def = 100): Resp {
  const fields = selectFields(ctx);
  const top = topOf(ctx, def, 999);
  if (typeof top !== 'number') return top;
  const count = countRequested(ctx);
  if (typeof count !== 'boolean') return count;
  const skip = readSkip(ctx);
  if (skip && 'status' in skip) return skip;
  let list = all;
  const filterRaw = ctx.req.query.get('$filter');
  if (filterRaw) {
    const clauses = parseFilter(filterRaw);
    if (!clauses) return badRequest(ctx, `Unsupported or invalid query filter clause specified: '${filterRaw}'.`, 'Request_UnsupportedQuery');
    list = list.filter((o) => matches(o, clauses));
  }
  const offset = skip?.o ?? 0;
  const body: Obj = { '@odata.context': context(ctx, contextFragment, fields) };
  if (count) body['@odata.count'] = list.length;
  if (offset + top < list.length) body['@odata.nextLink'] = nextLink(ctx, encodeToken({ k: 'a', o: offset + top }));
  body.value = list.slice(offset, offset + top).map((o) => project(o, fields));
  return ok(body);
}

function entity(ctx: Ctx, fragment: string, obj: Obj, collection?: CollectionName): Resp {
  const fields = selectFields(ctx);
  const name = collection ?? (EXPANDABLE[fragment as CollectionName] ? (fragment as CollectionName) : undefined);
  const navs = name ? expandOf(ctx, name) : [];
  if (!Array.isArray(navs)) return navs;
  return ok({ '@odata.context': context(ctx, `${fragment}/$entity`, fields), ...shape(ctx, name, obj, fields, navs) });
}

function countText(ctx: Ctx, n: number): Resp {
  if ((ctx.req.headers.consistencylevel ?? '').toLowerCase() !== 'eventual') {
    return badRequest(ctx, "Count is not currently supported without the 'ConsistencyLevel: eventual' header.");
  }
  return { status: 200, text: String(n) };
}

// ---- OwnedBy ---------------------------------------------------------------------------

const BROAD_APP = ['Application.Read.All', 'Application.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'];

/** True when the caller reaches applications only through Application.ReadWrite.OwnedBy. */
function ownedByOnly(ctx: Ctx, write: boolean): boolean {
  const p = ctx.caller.perms;
  if (ctx.caller.kind !== 'app' || !p.has('Application.ReadWrite.OwnedBy')) return false;
  return write ? !p.has('Application.ReadWrite.All') : !BROAD_APP.some((x) => p.has(x));
}

function ownsTarget(ctx: Ctx, objectId: string): boolean {
  return ctx.dir.owners(objectId).includes(ctx.caller.spId.toLowerCase());
}

// ---- delta ---------------------------------------------------------------------------------

interface DeltaToken { k: 'dt'; c: CollectionName; s: number; t: string }
interface DeltaSkip { k: 'd0' | 'd1'; m?: number; f?: number; s: number; upto?: number; o?: number }

function deltaPageSize(ctx: Ctx): number {
  const m = /odata\.maxpagesize=(\d+)/i.exec(ctx.req.headers.prefer ?? '');
  const n = m ? Number(m[1]) : 200;
  return Math.max(1, Math.min(n, 999));
}

function deltaItem(ctx: Ctx, name: CollectionName, obj: Obj, fields: string[] | undefined, memberDelta?: Obj[]): Obj {
  const projected = project(obj, fields, name, ctx.req.version);
  projected.id = obj.id;
  if (name === 'groups' && (!fields || fields.some((f) => f.toLowerCase() === 'members'))) {
    delete projected.members;
    projected['members@delta'] = memberDelta ?? ctx.dir.members(String(obj.id)).map((id) => ({ '@odata.type': typed(ctx.dir, id)?.['@odata.type'], id }));
  }
  return projected;
}

function deltaResponse(ctx: Ctx, name: CollectionName, items: Obj[], next: { skip?: DeltaSkip; seq?: number }): Resp {
  const fields = selectFields(ctx);
  const body: Obj = { '@odata.context': context(ctx, `${name}`, fields) };
  if (next.skip) {
    body['@odata.nextLink'] = deltaLink(ctx, '$skiptoken', encodeToken(next.skip));
  } else {
    body['@odata.deltaLink'] = deltaLink(ctx, '$deltatoken', encodeToken({ k: 'dt', c: name, s: next.seq!, t: ctx.caller.tenant.tenant.id } satisfies DeltaToken));
  }
  body.value = items;
  return ok(body);
}

function deltaLink(ctx: Ctx, param: string, token: string): string {
  const q = new URLSearchParams();
  const sel = ctx.req.query.get('$select');
  if (sel) q.set('$select', sel);
  q.set(param, token);
  return `${ctx.base}/${ctx.req.version}/${ctx.req.segments.join('/')}?${q.toString().replace(/%24/g, '$')}`;
}

function delta(name: CollectionName): Handler {
  return (ctx) => {
    const dir = ctx.dir;
    const fields = selectFields(ctx);
    const pageSize = deltaPageSize(ctx);
    const gone = (code: 'syncStateNotFound' | 'resyncRequired', msg: string) => graphError(410, code, msg, ctx.req.headers, ctx.state.now());
    const dt = ctx.req.query.get('$deltatoken') ?? ctx.req.query.get('$deltaToken');
    const st = ctx.req.query.get('$skiptoken');
    if (dt === 'latest') return deltaResponse(ctx, name, [], { seq: dir.seq });
    if (dt !== null) {
      const t = decodeToken(dt) as DeltaToken | undefined;
      if (!t || t.k !== 'dt' || t.c !== name || t.t !== ctx.caller.tenant.tenant.id) return gone('syncStateNotFound', 'The sync state generation is not found. The delta token is invalid; synchronize from scratch.');
      return incremental(ctx, name, { k: 'd1', s: t.s, upto: dir.seq, o: 0 }, fields, pageSize, gone);
    }
    if (st !== null) {
      const s = decodeToken(st) as DeltaSkip | undefined;
      if (!s || (s.k !== 'd0' && s.k !== 'd1')) return gone('syncStateNotFound', 'The sync state generation is not found.');
      if (s.k === 'd1') return incremental(ctx, name, s, fields, pageSize, gone);
      const p = dir.collection(name).page({ m: s.m ?? 0, f: s.f ?? 0 }, pageSize);
      return deltaResponse(ctx, name, p.items.map((o) => deltaItem(ctx, name, o, fields)), p.next ? { skip: { k: 'd0', m: p.next.m, f: p.next.f, s: s.s } } : { seq: s.s });
    }
    const s = dir.seq;
    const p = dir.collection(name).page({ m: 0, f: 0 }, pageSize);
    return deltaResponse(ctx, name, p.items.map((o) => deltaItem(ctx, name, o, fields)), p.next ? { skip: { k: 'd0', m: p.next.m, f: p.next.f, s } } : { seq: s });
  };
}

function incremental(ctx: Ctx, name: CollectionName, s: DeltaSkip, fields: string[] | undefined, pageSize: number, gone: (c: 'syncStateNotFound' | 'resyncRequired', m: string) => Resp): Resp {
  const changes = ctx.dir.changesSince(name, s.s);
  if (!changes) return gone('resyncRequired', 'The delta token has expired; a full resynchronization is required.');
  const upto = s.upto ?? ctx.dir.seq;
  // Latest state per object, in order of first change; member changes accumulate.
  const order: string[] = [];
  const members = new Map<string, Obj[]>();
  const removed = new Set<string>();
  for (const c of changes) {
    if (c.seq > upto) break;
    const key = c.id.toLowerCase();
    if (!order.includes(key)) order.push(key);
    if (c.removed) removed.add(key); else removed.delete(key);
    if (c.member) {
      const list = members.get(key) ?? [];
      const filtered = list.filter((m) => m.id !== c.member!.id);
      filtered.push(c.member.removed ? { '@odata.type': c.member.type, id: c.member.id, '@removed': { reason: 'deleted' } } : { '@odata.type': c.member.type, id: c.member.id });
      members.set(key, filtered);
    }
  }
  const all: Obj[] = [];
  for (const id of order) {
    const obj = removed.has(id) ? undefined : ctx.dir.collection(name).get(id);
    if (!obj) { all.push({ id, '@removed': { reason: 'deleted' } }); continue; }
    const md = members.get(id);
    all.push(deltaItem(ctx, name, obj, fields, name === 'groups' ? (md ?? []) : undefined));
  }
  const o = s.o ?? 0;
  const items = all.slice(o, o + pageSize);
  if (o + pageSize < all.length) return deltaResponse(ctx, name, items, { skip: { k: 'd1', s: s.s, upto, o: o + pageSize } });
  return deltaResponse(ctx, name, items, { seq: upto });
}

// ---- handlers --------------------------------------------------------------------------------

function refId(body: unknown): string | undefined {
  const raw = (body as Obj | undefined)?.['@odata.id'];
  if (typeof raw !== 'string') return undefined;
  const m = /\/([0-9a-fA-F-]{36})\/?$/.exec(raw) ?? /\('([0-9a-fA-F-]{36})'\)$/.exec(raw);
  return m?.[1];
}

function asObj(body: unknown): Obj | undefined {
  return body && typeof body === 'object' && !Array.isArray(body) ? (body as Obj) : undefined;
}

function messagesFor(ctx: Ctx, userId: string): Obj[] {
  const user = ctx.dir.users.get(userId);
  if (!user) return [];
  const base = Date.parse(ctx.dir.createdDateTime) + 300 * 86_400_000;
  const subjects = ['Quarterly report', 'Password reset request', 'Invoice overdue', 'Team offsite', 'Security alert: new sign-in', 'Contract draft', 'Weekly status', 'Customer escalation'];
  const out: Obj[] = [];
  for (let i = 0; i < 25; i++) {
    const when = new Date(base + i * 3_600_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const subject = `${subjects[i % subjects.length]!} #${i + 1}`;
    out.push({
      '@odata.etag': `W/"CQAAABYAAAA${i}"`,
      id: `AAMkA${Buffer.from(`${String(user.id)}:${i}`).toString('base64url')}=`,
      createdDateTime: when, lastModifiedDateTime: when, receivedDateTime: when, sentDateTime: when,
      hasAttachments: i % 5 === 0, internetMessageId: `<msg${i}.${String(user.id).slice(0, 8)}@emulator.local>`,
      subject, bodyPreview: `Synthetic message ${i + 1} for ${String(user.displayName)}.`, importance: i % 6 === 0 ? 'high' : 'normal',
      isRead: i % 3 !== 0, isDraft: false, conversationId: `AAQkA${Buffer.from(`${String(user.id)}:c${i % 7}`).toString('base64url')}=`,
      body: { contentType: 'text', content: `Synthetic message ${i + 1} for ${String(user.displayName)}. Nothing real here.` },
      from: { emailAddress: { name: 'Fabrikam Billing', address: 'billing@fabrikam.example' } },
      toRecipients: [{ emailAddress: { name: user.displayName, address: user.mail ?? user.userPrincipalName } }],
    });
  }
  return out;
}

function directoryRoles(ctx: Ctx): Obj[] {
  const templates = new Set<string>();
  for (const ra of ctx.dir.roleAssignments.values()) if (ra.directoryScopeId === '/') templates.add(String(ra.roleDefinitionId));
  return [...templates].map((t) => {
    const def = ctx.dir.catalog.roleDefinitionById.get(t);
    return { id: ctx.dir.directoryRoleId(t), deletedDateTime: null, description: def?.description ?? null, displayName: def?.displayName ?? t, roleTemplateId: t };
  });
}

function roleDefinition(def: { id: string; templateId: string; displayName: string; description: string; isPrivileged: boolean; allowedResourceActions: string[] }, beta: boolean): Obj {
  return {
    id: def.id, description: def.description, displayName: def.displayName, isBuiltIn: true, isEnabled: true, ...(beta ? { isPrivileged: def.isPrivileged } : { isPrivileged: def.isPrivileged }),
    resourceScopes: ['/'], templateId: def.templateId, version: '1', rolePermissions: [{ allowedResourceActions: def.allowedResourceActions, condition: null }], inheritsPermissionsFrom: [],
  };
}

function organization(ctx: Ctx): Obj {
  const t = ctx.caller.tenant.tenant;
  return {
    id: t.id, deletedDateTime: null, businessPhones: [], city: null, country: null, countryLetterCode: 'US', createdDateTime: ctx.dir.createdDateTime, displayName: t.displayName,
    tenantType: 'AAD', onPremisesSyncEnabled: null, preferredLanguage: 'en', technicalNotificationMails: [`admin@${t.primaryDomain}`],
    verifiedDomains: [{ capabilities: 'Email, OfficeCommunicationsOnlineService', isDefault: true, isInitial: true, name: t.primaryDomain, type: 'Managed' }],
  };
}

const USER_WRITABLE = new Set(['accountEnabled', 'displayName', 'givenName', 'surname', 'jobTitle', 'department', 'officeLocation', 'mobilePhone', 'businessPhones', 'preferredLanguage', 'usageLocation', 'mail', 'userPrincipalName', 'mailNickname', 'companyName', 'employeeId', 'city', 'country', 'state', 'streetAddress', 'postalCode', 'passwordProfile', 'userType', 'otherMails', 'aboutMe']);

function patchUser(ctx: Ctx): Resp {
  const body = asObj(ctx.req.body);
  if (!body) return badRequest(ctx, 'Empty Payload. JSON content expected.');
  const user = ctx.dir.userByKey(ctx.params.id!);
  if (!user) return notFound(ctx, ctx.params.id!);
  const patch: Obj = {};
  for (const [k, v] of Object.entries(body)) {
    if (!USER_WRITABLE.has(k)) return badRequest(ctx, `Property '${k}' is read-only or does not exist on type 'microsoft.graph.user'.`);
    if (k !== 'passwordProfile') patch[k] = v;
  }
  ctx.dir.updateObject('users', String(user.id), patch);
  return noContent;
}

function createUser(ctx: Ctx): Resp {
  const b = asObj(ctx.req.body);
  if (!b || typeof b.displayName !== 'string' || typeof b.userPrincipalName !== 'string' || typeof b.mailNickname !== 'string' || typeof b.accountEnabled !== 'boolean') {
    return badRequest(ctx, 'Invalid value specified for property: displayName, userPrincipalName, mailNickname, accountEnabled and passwordProfile are required.');
  }
  if (ctx.dir.userByKey(b.userPrincipalName)) return badRequest(ctx, 'Another object with the same value for property userPrincipalName already exists.');
  const pw = (asObj(b.passwordProfile)?.password as string | undefined) ?? undefined;
  const { passwordProfile: _p, ...rest } = b;
  const u = ctx.dir.createUser({ ...rest, displayName: b.displayName, userPrincipalName: b.userPrincipalName, ...(pw ? { password: pw } : {}) });
  return ok({ '@odata.context': context(ctx, 'users/$entity'), ...u }, 201);
}

function addMemberRef(ctx: Ctx): Resp {
  const g = ctx.dir.groups.get(ctx.params.id!);
  if (!g) return notFound(ctx, ctx.params.id!);
  const mid = refId(ctx.req.body);
  if (!mid) return badRequest(ctx, "Invalid object identifier in '@odata.id'.");
  if (!ctx.dir.getObject(mid)) return notFound(ctx, mid);
  if (Array.isArray(g.groupTypes) && g.groupTypes.includes('DynamicMembership')) return badRequest(ctx, 'Insufficient privileges to complete the operation. Members of a group with dynamic membership cannot be changed.', 'Request_BadRequest');
  if (!ctx.dir.addMember(String(g.id), mid)) return badRequest(ctx, "One or more added object references already exist for the following modified properties: 'members'.");
  return noContent;
}

function removeMemberRef(ctx: Ctx): Resp {
  if (!ctx.dir.groups.get(ctx.params.id!)) return notFound(ctx, ctx.params.id!);
  if (!ctx.dir.removeMember(ctx.params.id!, ctx.params.member!)) return notFound(ctx, ctx.params.member!);
  return noContent;
}

function ownersList(ctx: Ctx, name: CollectionName): Resp {
  const obj = ctx.dir.collection(name).get(ctx.params.id!);
  if (!obj) return notFound(ctx, ctx.params.id!);
  return listArray(ctx, 'directoryObjects', ctx.dir.owners(String(obj.id)).map((id) => typed(ctx.dir, id)!).filter(Boolean));
}

function addOwnerRef(ctx: Ctx, name: CollectionName): Resp {
  const obj = ctx.dir.collection(name).get(ctx.params.id!);
  if (!obj) return notFound(ctx, ctx.params.id!);
  const oid = refId(ctx.req.body);
  if (!oid) return badRequest(ctx, "Invalid object identifier in '@odata.id'.");
  if (!ctx.dir.getObject(oid)) return notFound(ctx, oid);
  if (!ctx.dir.addOwner(String(obj.id), oid)) return badRequest(ctx, "One or more added object references already exist for the following modified properties: 'owners'.");
  return noContent;
}

function removeOwnerRef(ctx: Ctx, name: CollectionName): Resp {
  if (!ctx.dir.collection(name).get(ctx.params.id!)) return notFound(ctx, ctx.params.id!);
  if (!ctx.dir.removeOwner(ctx.params.id!, ctx.params.owner!)) return notFound(ctx, ctx.params.owner!);
  return noContent;
}

function appOrSp(name: 'applications' | 'servicePrincipals', write: boolean, inner: (ctx: Ctx, obj: Obj) => Resp): Handler {
  return (ctx) => {
    const obj = ctx.dir.collection(name).get(ctx.params.id!);
    if (!obj) return notFound(ctx, ctx.params.id!);
    if (ownedByOnly(ctx, write) && !ownsTarget(ctx, String(obj.id))) return graphError(403, 'Authorization_RequestDenied', DENIED, ctx.req.headers, ctx.state.now());
    return inner(ctx, obj);
  };
}

function addPassword(name: 'applications' | 'servicePrincipals'): Handler {
  return appOrSp(name, true, (ctx, obj) => {
    const pc = asObj(asObj(ctx.req.body)?.passwordCredential) ?? {};
    if (pc.endDateTime !== undefined && (typeof pc.endDateTime !== 'string' || Number.isNaN(Date.parse(pc.endDateTime)))) return badRequest(ctx, 'Invalid value specified for property endDateTime.');
    const cred = ctx.dir.addPassword(String(obj.id), {
      displayName: typeof pc.displayName === 'string' ? pc.displayName : null,
      ...(typeof pc.endDateTime === 'string' ? { endDateTime: new Date(pc.endDateTime).toISOString().replace(/\.\d{3}Z$/, 'Z') } : {}),
      ...(typeof pc.startDateTime === 'string' ? { startDateTime: new Date(pc.startDateTime).toISOString().replace(/\.\d{3}Z$/, 'Z') } : {}),
    })!;
    return ok({ '@odata.context': context(ctx, 'microsoft.graph.passwordCredential'), ...cred });
  });
}

function removePassword(name: 'applications' | 'servicePrincipals'): Handler {
  return appOrSp(name, true, (ctx, obj) => {
    const keyId = asObj(ctx.req.body)?.keyId;
    if (typeof keyId !== 'string') return badRequest(ctx, "The request body must contain the 'keyId' parameter.");
    if (!ctx.dir.removePassword(String(obj.id), keyId)) return badRequest(ctx, `No password credential found with keyId '${keyId}'.`, 'Request_BadRequest');
    return noContent;
  });
}

function patchApplication(ctx: Ctx, obj: Obj): Resp {
  const body = asObj(ctx.req.body);
  if (!body) return badRequest(ctx, 'Empty Payload. JSON content expected.');
  if ('passwordCredentials' in body) return badRequest(ctx, 'Property passwordCredentials is read-only; use addPassword and removePassword.');
  for (const k of ['id', 'appId']) if (k in body) return badRequest(ctx, `Property '${k}' is read-only.`);
  ctx.dir.updateObject('applications', String(obj.id), body);
  return noContent;
}

function createAppRoleAssignment(side: 'resource' | 'principal'): Handler {
  return (ctx) => {
    const sp = ctx.dir.servicePrincipals.get(ctx.params.id!);
    if (!sp) return notFound(ctx, ctx.params.id!);
    const b = asObj(ctx.req.body);
    const principalId = b?.principalId;
    const resourceId = b?.resourceId;
    const appRoleId = b?.appRoleId;
    if (typeof principalId !== 'string' || typeof resourceId !== 'string' || typeof appRoleId !== 'string') return badRequest(ctx, 'principalId, resourceId and appRoleId are required.');
    if (side === 'resource' && resourceId.toLowerCase() !== String(sp.id).toLowerCase()) return badRequest(ctx, 'resourceId must match the service principal in the URL.');
    if (side === 'principal' && principalId.toLowerCase() !== String(sp.id).toLowerCase()) return badRequest(ctx, 'principalId must match the service principal in the URL.');
    const resource = ctx.dir.servicePrincipals.get(resourceId);
    if (!resource) return notFound(ctx, resourceId);
    if (!ctx.dir.getObject(principalId)) return notFound(ctx, principalId);
    const roles = (resource.appRoles as Obj[] | undefined) ?? [];
    if (!roles.some((r) => String(r.id).toLowerCase() === appRoleId.toLowerCase())) return badRequest(ctx, 'Permission being assigned was not found on application', 'Request_BadRequest');
    if (ctx.dir.assignmentsFor(principalId).some((a) => a.resourceId === resource.id && String(a.appRoleId).toLowerCase() === appRoleId.toLowerCase())) {
      return badRequest(ctx, 'Permission being assigned already exists on the object', 'Request_BadRequest');
    }
    const a = ctx.dir.grantAppRole(principalId, appRoleId.toLowerCase(), String(resource.id));
    return ok({ '@odata.context': context(ctx, `servicePrincipals('${String(sp.id)}')/${side === 'resource' ? 'appRoleAssignedTo' : 'appRoleAssignments'}/$entity`), ...a }, 201);
  };
}

function deleteAppRoleAssignment(side: 'resource' | 'principal'): Handler {
  return (ctx) => {
    const a = ctx.dir.appRoleAssignments.get(ctx.params.aid!);
    const spId = ctx.params.id!.toLowerCase();
    if (!a || String(side === 'resource' ? a.resourceId : a.principalId).toLowerCase() !== spId) return notFound(ctx, ctx.params.aid!);
    ctx.dir.revokeAppRoleAssignment(ctx.params.aid!);
    return noContent;
  };
}

function roleScheduleRequest(ctx: Ctx): Resp {
  const b = asObj(ctx.req.body);
  const action = b?.action;
  const principalId = b?.principalId;
  const roleDefinitionId = b?.roleDefinitionId;
  const directoryScopeId = typeof b?.directoryScopeId === 'string' ? b.directoryScopeId : '/';
  if (typeof action !== 'string' || typeof principalId !== 'string' || typeof roleDefinitionId !== 'string') return badRequest(ctx, 'action, principalId and roleDefinitionId are required.');
  if (!ctx.dir.catalog.roleDefinitionById.has(roleDefinitionId)) return notFound(ctx, roleDefinitionId);
  if (!ctx.dir.getObject(principalId)) return notFound(ctx, principalId);
  const info = asObj(b?.scheduleInfo) ?? {};
  const exp = asObj(info.expiration) ?? {};
  const now = ctx.state.now();
  let endMs: number | undefined;
  if (typeof exp.endDateTime === 'string') endMs = Date.parse(exp.endDateTime);
  else if (typeof exp.duration === 'string') {
    const m = /^PT(?:(\d+)H)?(?:(\d+)M)?$/.exec(exp.duration);
    if (!m) return badRequest(ctx, `Invalid duration '${exp.duration}'.`);
    endMs = now + (Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0)) * 60_000;
  }
  if (action === 'selfActivate') {
    if (ctx.caller.kind !== 'delegated' || ctx.caller.userId?.toLowerCase() !== principalId.toLowerCase()) return graphError(403, 'AuthorizationFailed', 'selfActivate is only valid for the signed-in user.', ctx.req.headers, now);
    const eligible = [...ctx.dir.roleEligibilitySchedules.values()].some((e) => String(e.principalId).toLowerCase() === principalId.toLowerCase() && e.roleDefinitionId === roleDefinitionId);
    if (!eligible) return badRequest(ctx, 'The role assignment request is not valid: the principal is not eligible for the role.', 'RoleAssignmentRequestPolicyValidationFailed');
  } else if (action !== 'adminAssign') {
    return badRequest(ctx, `The action '${action}' is not supported by the emulator (selfActivate, adminAssign).`);
  }
  const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const ra = ctx.dir.assignRole({ principalId, roleDefinitionId, directoryScopeId, endDateTime: endMs !== undefined ? iso(endMs) : null });
  const req: Obj = {
    id: randomGuid(), status: 'Provisioned', createdDateTime: iso(now), completedDateTime: iso(now), approvalId: null, customData: null, action,
    principalId, roleDefinitionId, directoryScopeId, appScopeId: null, isValidationOnly: false, targetScheduleId: ra.id,
    justification: typeof b?.justification === 'string' ? b.justification : null,
    createdBy: { application: null, device: null, user: ctx.caller.userId ? { displayName: null, id: ctx.caller.userId } : null },
    scheduleInfo: { startDateTime: iso(now), recurrence: null, expiration: endMs !== undefined ? { type: 'afterDateTime', endDateTime: iso(endMs), duration: null } : { type: 'noExpiration', endDateTime: null, duration: null } },
    ticketInfo: { ticketNumber: null, ticketSystem: null },
  };
  ctx.dir.roleAssignmentScheduleRequests.set(String(req.id), req);
  return ok({ '@odata.context': context(ctx, 'roleManagement/directory/roleAssignmentScheduleRequests/$entity'), ...req }, 201);
}

// ---- route table ---------------------------------------------------------------------------

const R: Route[] = [];
function route(method: string, path: string, perms: Route['perms'], handler: Handler, delegatedOnly = false): void {
  R.push({ method, pattern: path.split('/'), perms, handler, delegatedOnly });
}

function getById(name: CollectionName, fragment: string): Handler {
  return (ctx) => {
    const key = ctx.params.id!;
    const obj = name === 'users' ? ctx.dir.userByKey(key) : ctx.dir.collection(name).get(key);
    return obj ? entity(ctx, fragment, obj, name) : notFound(ctx, key);
  };
}

function membership(kind: 'memberOf' | 'transitiveMemberOf'): Handler {
  return (ctx) => {
    const u = ctx.dir.userByKey(ctx.params.id!) ?? ctx.dir.getObject(ctx.params.id!)?.obj;
    if (!u) return notFound(ctx, ctx.params.id!);
    const ids = kind === 'memberOf' ? ctx.dir.memberOf(String(u.id)) : ctx.dir.transitiveMemberOf(String(u.id));
    const objs = ids.map((id) => typed(ctx.dir, id)).filter((o): o is Obj => !!o);
    // Directory roles the user holds appear in memberOf too.
    const roles = directoryRoles(ctx).filter((r) => [...ctx.dir.roleAssignments.values()].some((ra) => ra.roleDefinitionId === r.roleTemplateId && String(ra.principalId).toLowerCase() === String(u.id).toLowerCase()));
    return listArray(ctx, 'directoryObjects', [...objs, ...roles.map((r) => ({ '@odata.type': '#microsoft.graph.directoryRole', ...r }))]);
  };
}

// users
route('GET', 'users', both(P.userRead), (ctx) => listCollection(ctx, 'users'));
route('GET', 'users/$count', both(P.userRead), (ctx) => countText(ctx, ctx.dir.users.size));
route('GET', 'users/delta', both(['User.Read.All', 'User.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All']), delta('users'));
route('POST', 'users', both(P.userWrite), createUser);
route('GET', 'users/{id}', both(P.userRead, P.userSelf), getById('users', 'users'));
route('PATCH', 'users/{id}', both(['User.ReadWrite.All', 'Directory.ReadWrite.All', 'User.EnableDisableAccount.All', 'User.ManageIdentities.All'], ['User.ReadWrite', 'User.ReadWrite.All', 'Directory.ReadWrite.All']), patchUser);
route('DELETE', 'users/{id}', both(P.userWrite), (ctx) => {
  const u = ctx.dir.userByKey(ctx.params.id!);
  if (!u) return notFound(ctx, ctx.params.id!);
  ctx.dir.deleteObject(String(u.id));
  return noContent;
});
route('GET', 'users/{id}/memberOf', both(P.memberOf, ['User.Read', ...P.memberOf]), membership('memberOf'));
route('GET', 'users/{id}/transitiveMemberOf', both(P.memberOf, ['User.Read', ...P.memberOf]), membership('transitiveMemberOf'));
route('GET', 'users/{id}/appRoleAssignments', both(P.userRead, P.userSelf), (ctx) => {
  const u = ctx.dir.userByKey(ctx.params.id!);
  return u ? listArray(ctx, `users('${String(u.id)}')/appRoleAssignments`, ctx.dir.assignmentsFor(String(u.id))) : notFound(ctx, ctx.params.id!);
});
route('GET', 'users/{id}/messages', { app: [...P.mailApp], user: [], self: [...P.mailSelf] }, (ctx) => {
  const u = ctx.dir.userByKey(ctx.params.id!);
  return u ? listArray(ctx, `users('${String(u.id)}')/messages`, messagesFor(ctx, String(u.id)), 10) : notFound(ctx, ctx.params.id!);
});
route('GET', 'users/{id}/messages/{mid}', { app: [...P.mailApp], user: [], self: [...P.mailSelf] }, (ctx) => {
  const u = ctx.dir.userByKey(ctx.params.id!);
  const m = u ? messagesFor(ctx, String(u.id)).find((x) => x.id === ctx.params.mid) : undefined;
  if (!m) return graphError(404, 'ErrorItemNotFound', 'The specified object was not found in the store.', ctx.req.headers, ctx.state.now());
  return entity(ctx, `users('${String(u!.id)}')/messages`, m);
});

// groups
route('GET', 'groups', both(P.groupRead), (ctx) => listCollection(ctx, 'groups'));
route('GET', 'groups/$count', both(P.groupRead), (ctx) => countText(ctx, ctx.dir.groups.size));
route('GET', 'groups/delta', both(P.groupRead), delta('groups'));
route('GET', 'groups/{id}', both(P.groupRead), getById('groups', 'groups'));
route('GET', 'groups/{id}/members', both(P.groupMemberRead), (ctx) => {
  const g = ctx.dir.groups.get(ctx.params.id!);
  return g ? listArray(ctx, 'directoryObjects', ctx.dir.members(String(g.id)).map((id) => typed(ctx.dir, id)!).filter(Boolean)) : notFound(ctx, ctx.params.id!);
});
route('GET', 'groups/{id}/transitiveMembers', both(P.groupMemberRead), (ctx) => {
  const g = ctx.dir.groups.get(ctx.params.id!);
  return g ? listArray(ctx, 'directoryObjects', ctx.dir.transitiveMembers(String(g.id)).map((id) => typed(ctx.dir, id)!).filter(Boolean)) : notFound(ctx, ctx.params.id!);
});
// Role-assignable groups also need RoleManagement.ReadWrite.Directory to change membership (Graph add-member docs).
const memberWritePerms = (ctx: Ctx): Perms => {
  const g = ctx.dir.groups.get(ctx.params.id ?? '');
  if (g?.isAssignableToRole === true) return both(ctx.caller.perms.has('RoleManagement.ReadWrite.Directory') ? P.groupMemberWrite : []);
  return both(P.groupMemberWrite);
};
route('POST', 'groups/{id}/members/$ref', memberWritePerms, addMemberRef);
route('DELETE', 'groups/{id}/members/{member}/$ref', memberWritePerms, removeMemberRef);
route('GET', 'groups/{id}/memberOf', both(P.groupRead), membership('memberOf'));
route('GET', 'groups/{id}/transitiveMemberOf', both(P.groupRead), membership('transitiveMemberOf'));
route('GET', 'groups/{id}/owners', both(P.groupRead), (ctx) => ownersList(ctx, 'groups'));
route('POST', 'groups/{id}/owners/$ref', both(P.groupWrite), (ctx) => addOwnerRef(ctx, 'groups'));
route('DELETE', 'groups/{id}/owners/{owner}/$ref', both(P.groupWrite), (ctx) => removeOwnerRef(ctx, 'groups'));

// applications
const appList = (name: 'applications' | 'servicePrincipals'): Handler => (ctx) => listCollection(ctx, name, ownedByOnly(ctx, false) ? (o) => ownsTarget(ctx, String(o.id)) : undefined);
route('GET', 'applications', both(P.appRead), appList('applications'));
route('GET', 'applications/$count', both(P.appRead), (ctx) => countText(ctx, ctx.dir.applications.size));
route('GET', 'applications/delta', both(P.appRead), delta('applications'));
route('GET', 'applications/microsoft.graph.agentIdentityBlueprint', both(P.agentRead), (ctx) => listArray(ctx, 'applications/microsoft.graph.agentIdentityBlueprint', ctx.dir.applications.materialised().filter((a) => a['@odata.type'] === '#microsoft.graph.agentIdentityBlueprint')));
route('GET', 'applications/{id}', both(P.appRead), appOrSp('applications', false, (ctx, o) => entity(ctx, 'applications', o)));
route('PATCH', 'applications/{id}', both(P.appWrite), appOrSp('applications', true, patchApplication));
route('POST', 'applications/{id}/addPassword', both(P.appWrite), addPassword('applications'));
route('POST', 'applications/{id}/removePassword', both(P.appWrite), removePassword('applications'));
route('GET', 'applications/{id}/owners', both(P.appRead), appOrSp('applications', false, (ctx) => ownersList(ctx, 'applications')));
route('POST', 'applications/{id}/owners/$ref', both(P.appWrite), appOrSp('applications', true, (ctx) => addOwnerRef(ctx, 'applications')));
route('DELETE', 'applications/{id}/owners/{owner}/$ref', both(P.appWrite), appOrSp('applications', true, (ctx) => removeOwnerRef(ctx, 'applications')));

// service principals
route('GET', 'servicePrincipals', both(P.appRead), appList('servicePrincipals'));
route('GET', 'servicePrincipals/$count', both(P.appRead), (ctx) => countText(ctx, ctx.dir.servicePrincipals.size));
route('GET', 'servicePrincipals/delta', both(P.appRead), delta('servicePrincipals'));
route('GET', 'servicePrincipals/microsoft.graph.agentIdentity', both(P.agentRead), (ctx) => listArray(ctx, 'servicePrincipals/microsoft.graph.agentIdentity', ctx.dir.servicePrincipals.materialised().filter((s) => s['@odata.type'] === '#microsoft.graph.agentIdentity')));
route('GET', 'servicePrincipals/{id}', both(P.appRead), appOrSp('servicePrincipals', false, (ctx, o) => entity(ctx, 'servicePrincipals', o)));
route('PATCH', 'servicePrincipals/{id}', both(P.appWrite), appOrSp('servicePrincipals', true, (ctx, o) => {
  const body = asObj(ctx.req.body);
  if (!body) return badRequest(ctx, 'Empty Payload. JSON content expected.');
  for (const k of ['id', 'appId', 'passwordCredentials']) if (k in body) return badRequest(ctx, `Property '${k}' is read-only.`);
  ctx.dir.updateObject('servicePrincipals', String(o.id), body);
  return noContent;
}));
route('POST', 'servicePrincipals/{id}/addPassword', both(P.appWrite), addPassword('servicePrincipals'));
route('POST', 'servicePrincipals/{id}/removePassword', both(P.appWrite), removePassword('servicePrincipals'));
route('GET', 'servicePrincipals/{id}/owners', both(P.appRead), appOrSp('servicePrincipals', false, (ctx) => ownersList(ctx, 'servicePrincipals')));
route('POST', 'servicePrincipals/{id}/owners/$ref', both(P.appWrite), appOrSp('servicePrincipals', true, (ctx) => addOwnerRef(ctx, 'servicePrincipals')));
route('DELETE', 'servicePrincipals/{id}/owners/{owner}/$ref', both(P.appWrite), appOrSp('servicePrincipals', true, (ctx) => removeOwnerRef(ctx, 'servicePrincipals')));
route('GET', 'servicePrincipals/{id}/appRoleAssignments', both(P.appRoleAssignRead), (ctx) => {
  const sp = ctx.dir.servicePrincipals.get(ctx.params.id!);
  return sp ? listArray(ctx, `servicePrincipals('${String(sp.id)}')/appRoleAssignments`, ctx.dir.assignmentsFor(String(sp.id))) : notFound(ctx, ctx.params.id!);
});
route('GET', 'servicePrincipals/{id}/appRoleAssignedTo', both(P.appRoleAssignRead), (ctx) => {
  const sp = ctx.dir.servicePrincipals.get(ctx.params.id!);
  return sp ? listArray(ctx, `servicePrincipals('${String(sp.id)}')/appRoleAssignedTo`, ctx.dir.assignmentsTo(String(sp.id))) : notFound(ctx, ctx.params.id!);
});
route('POST', 'servicePrincipals/{id}/appRoleAssignedTo', both(P.appRoleAssignWrite), createAppRoleAssignment('resource'));
route('POST', 'servicePrincipals/{id}/appRoleAssignments', both(P.appRoleAssignWrite), createAppRoleAssignment('principal'));
route('DELETE', 'servicePrincipals/{id}/appRoleAssignedTo/{aid}', both(P.appRoleAssignWrite), deleteAppRoleAssignment('resource'));
route('DELETE', 'servicePrincipals/{id}/appRoleAssignments/{aid}', both(P.appRoleAssignWrite), deleteAppRoleAssignment('principal'));
route('GET', 'servicePrincipals/{id}/memberOf', both(P.appRead), membership('memberOf'));
route('GET', 'servicePrincipals/{id}/transitiveMemberOf', both(P.appRead), membership('transitiveMemberOf'));
route('GET', 'servicePrincipals/{id}/ownedObjects', both(P.appRead), (ctx) => {
  const sp = ctx.dir.servicePrincipals.get(ctx.params.id!);
  return sp ? listArray(ctx, 'directoryObjects', expanded(ctx, 'ownedObjects', sp)) : notFound(ctx, ctx.params.id!);
});
route('GET', 'users/{id}/ownedObjects', both(P.userRead, P.userSelf), (ctx) => {
  const u = ctx.dir.userByKey(ctx.params.id!);
  return u ? listArray(ctx, 'directoryObjects', expanded(ctx, 'ownedObjects', u)) : notFound(ctx, ctx.params.id!);
});
route('GET', 'servicePrincipals/{id}/oauth2PermissionGrants', both(P.grantRead), (ctx) => {
  const sp = ctx.dir.servicePrincipals.get(ctx.params.id!);
  return sp ? listArray(ctx, 'oauth2PermissionGrants', ctx.dir.oauth2PermissionGrants.materialised().filter((g) => String(g.clientId).toLowerCase() === String(sp.id).toLowerCase())) : notFound(ctx, ctx.params.id!);
});

// delegated permission grants
route('GET', 'oauth2PermissionGrants', both(P.grantRead), (ctx) => listArray(ctx, 'oauth2PermissionGrants', ctx.dir.oauth2PermissionGrants.materialised()));
route('GET', 'oauth2PermissionGrants/delta', both(P.grantRead), delta('oauth2PermissionGrants'));
route('GET', 'oauth2PermissionGrants/{id}', both(P.grantRead), getById('oauth2PermissionGrants', 'oauth2PermissionGrants'));
route('POST', 'oauth2PermissionGrants', both(P.grantWrite), (ctx) => {
  const b = asObj(ctx.req.body);
  if (!b || typeof b.clientId !== 'string' || typeof b.resourceId !== 'string' || typeof b.scope !== 'string' || (b.consentType !== 'AllPrincipals' && b.consentType !== 'Principal')) {
    return badRequest(ctx, 'clientId, consentType, resourceId and scope are required.');
  }
  if (!ctx.dir.servicePrincipals.get(b.clientId)) return notFound(ctx, b.clientId);
  if (!ctx.dir.servicePrincipals.get(b.resourceId)) return notFound(ctx, b.resourceId);
  if (b.consentType === 'Principal' && (typeof b.principalId !== 'string' || !ctx.dir.users.get(b.principalId))) return badRequest(ctx, 'principalId must name a user when consentType is Principal.');
  const g = ctx.dir.addOAuth2Grant({ clientId: b.clientId, consentType: b.consentType, principalId: (b.principalId as string | undefined) ?? null, scope: b.scope, resourceId: b.resourceId });
  return ok({ '@odata.context': context(ctx, 'oauth2PermissionGrants/$entity'), ...g }, 201);
});
route('PATCH', 'oauth2PermissionGrants/{id}', both(P.grantWrite), (ctx) => {
  const scope = asObj(ctx.req.body)?.scope;
  if (typeof scope !== 'string') return badRequest(ctx, 'Only scope can be updated.');
  return ctx.dir.updateOAuth2Grant(ctx.params.id!, scope) ? noContent : notFound(ctx, ctx.params.id!);
});
route('DELETE', 'oauth2PermissionGrants/{id}', both(P.grantWrite), (ctx) => (ctx.dir.removeOAuth2Grant(ctx.params.id!) ? noContent : notFound(ctx, ctx.params.id!)));

// role management
route('GET', 'roleManagement/directory/roleDefinitions', both(P.roleRead), (ctx) => listArray(ctx, 'roleManagement/directory/roleDefinitions', ctx.dir.catalog.roleDefinitions.map((d) => roleDefinition(d, ctx.req.version === 'beta')), 200));
route('GET', 'roleManagement/directory/roleDefinitions/{id}', both(P.roleRead), (ctx) => {
  const d = ctx.dir.catalog.roleDefinitionById.get(ctx.params.id!);
  return d ? entity(ctx, 'roleManagement/directory/roleDefinitions', roleDefinition(d, ctx.req.version === 'beta')) : notFound(ctx, ctx.params.id!);
});
route('GET', 'roleManagement/directory/roleAssignments', both(P.roleRead), (ctx) => listArray(ctx, 'roleManagement/directory/roleAssignments', [...ctx.dir.roleAssignments.values()]));
route('GET', 'roleManagement/directory/roleAssignments/{id}', both(P.roleRead), (ctx) => {
  const a = ctx.dir.roleAssignments.get(ctx.params.id!);
  return a ? entity(ctx, 'roleManagement/directory/roleAssignments', a) : notFound(ctx, ctx.params.id!);
});
route('POST', 'roleManagement/directory/roleAssignments', both(P.roleWrite), (ctx) => {
  const b = asObj(ctx.req.body);
  if (!b || typeof b.principalId !== 'string' || typeof b.roleDefinitionId !== 'string') return badRequest(ctx, 'principalId and roleDefinitionId are required.');
  if (!ctx.dir.getObject(b.principalId)) return notFound(ctx, b.principalId);
  if (!ctx.dir.catalog.roleDefinitionById.has(b.roleDefinitionId)) return notFound(ctx, b.roleDefinitionId);
  const scope = typeof b.directoryScopeId === 'string' ? b.directoryScopeId : '/';
  if ([...ctx.dir.roleAssignments.values()].some((r) => String(r.principalId).toLowerCase() === String(b.principalId).toLowerCase() && r.roleDefinitionId === b.roleDefinitionId && r.directoryScopeId === scope)) {
    return badRequest(ctx, 'A conflicting object with one or more of the specified property values is present in the directory.', 'Request_BadRequest');
  }
  const ra = ctx.dir.assignRole({ principalId: b.principalId, roleDefinitionId: b.roleDefinitionId, directoryScopeId: scope });
  return ok({ '@odata.context': context(ctx, 'roleManagement/directory/roleAssignments/$entity'), ...ra }, 201);
});
route('DELETE', 'roleManagement/directory/roleAssignments/{id}', both(P.roleWrite), (ctx) => (ctx.dir.removeRoleAssignment(ctx.params.id!) ? noContent : notFound(ctx, ctx.params.id!)));
route('GET', 'roleManagement/directory/roleEligibilitySchedules', both(P.eligRead), (ctx) => listArray(ctx, 'roleManagement/directory/roleEligibilitySchedules', [...ctx.dir.roleEligibilitySchedules.values()]));
route('GET', 'roleManagement/directory/roleAssignmentSchedules', both(P.assignSchedRead), (ctx) => listArray(ctx, 'roleManagement/directory/roleAssignmentSchedules', [...ctx.dir.roleAssignmentSchedules.values()]));
route('GET', 'roleManagement/directory/roleAssignmentScheduleRequests', both(P.assignSchedRead), (ctx) => listArray(ctx, 'roleManagement/directory/roleAssignmentScheduleRequests', [...ctx.dir.roleAssignmentScheduleRequests.values()]));
route('POST', 'roleManagement/directory/roleAssignmentScheduleRequests', both(P.assignSchedWrite), roleScheduleRequest);
route('GET', 'directoryRoles', both(P.roleRead), (ctx) => listArray(ctx, 'directoryRoles', directoryRoles(ctx)));
route('GET', 'directoryRoles/{id}', both(P.roleRead), (ctx) => {
  const r = directoryRoles(ctx).find((x) => x.id === ctx.params.id!.toLowerCase() || x.roleTemplateId === ctx.params.id);
  return r ? entity(ctx, 'directoryRoles', r) : notFound(ctx, ctx.params.id!);
});
route('GET', 'directoryRoles/{id}/members', both(P.roleRead), (ctx) => {
  const r = directoryRoles(ctx).find((x) => x.id === ctx.params.id!.toLowerCase() || x.roleTemplateId === ctx.params.id);
  if (!r) return notFound(ctx, ctx.params.id!);
  const ids = [...ctx.dir.roleAssignments.values()].filter((a) => a.roleDefinitionId === r.roleTemplateId && a.directoryScopeId === '/').map((a) => String(a.principalId));
  return listArray(ctx, 'directoryObjects', [...new Set(ids)].map((id) => typed(ctx.dir, id)!).filter(Boolean));
});

route('GET', 'organization', { app: [...P.org], user: [...P.orgUser] }, (ctx) => listArray(ctx, 'organization', [organization(ctx)]));
route('GET', 'organization/{id}', { app: [...P.org], user: [...P.orgUser] }, (ctx) => (ctx.params.id === ctx.caller.tenant.tenant.id ? entity(ctx, 'organization', organization(ctx)) : notFound(ctx, ctx.params.id!)));
route('POST', 'directoryObjects/getByIds', both([...P.userRead, ...P.groupRead, ...P.appRead]), (ctx) => {
  const b = asObj(ctx.req.body);
  const ids = b?.ids;
  if (!Array.isArray(ids) || ids.length > 1000 || ids.some((x) => typeof x !== 'string')) return badRequest(ctx, 'ids must be an array of at most 1000 object ids.');
  const types = Array.isArray(b?.types) ? (b.types as unknown[]).map((t) => `#microsoft.graph.${String(t)}`.toLowerCase()) : undefined;
  const found = (ids as string[]).map((id) => typed(ctx.dir, id)).filter((o): o is Obj => !!o && (!types || types.includes(String(o['@odata.type']).toLowerCase())));
  return ok({ '@odata.context': context(ctx, 'directoryObjects'), value: found });
});
route('GET', 'directoryObjects/{id}', both([...P.userRead, ...P.groupRead, ...P.appRead]), (ctx) => {
  const o = typed(ctx.dir, ctx.params.id!);
  return o ? entity(ctx, 'directoryObjects', o) : notFound(ctx, ctx.params.id!);
});

// ---- dispatch ---------------------------------------------------------------------------------

/** Rewrites key-as-segment forms: `applications(appId='x')`, `users('x')`, `microsoft.graph.delta`. */
function normalise(dir: TenantDirectory, segments: string[]): string[] | undefined {
  const out: string[] = [];
  for (const seg of segments) {
    const alt = /^(applications|servicePrincipals|directoryRoles)\((appId|roleTemplateId)=['"]?([^'")]+)['"]?\)$/i.exec(seg);
    if (alt) {
      const coll = alt[1]!.toLowerCase();
      if (coll === 'directoryroles') { out.push('directoryRoles', alt[3]!); continue; }
      const name = coll === 'applications' ? 'applications' : 'servicePrincipals';
      const obj = dir.byAppId(name, alt[3]!);
      out.push(name, obj ? String(obj.id) : `missing:${alt[3]!}`);
      continue;
    }
    const key = /^(\w+)\('([^']+)'\)$/.exec(seg);
    if (key) { out.push(key[1]!, key[2]!); continue; }
    if (/^microsoft\.graph\.(delta|addPassword|removePassword)$/i.test(seg)) { out.push(seg.slice('microsoft.graph.'.length)); continue; }
    out.push(seg);
  }
  return out;
}

function matchRoute(method: string, segments: string[]): { route: Route; params: Params } | { methodNotAllowed: true } | undefined {
  let pathMatched = false;
  for (const r of R) {
    if (r.pattern.length !== segments.length) continue;
    const params: Params = {};
    let okMatch = true;
    for (let i = 0; i < segments.length; i++) {
      const p = r.pattern[i]!;
      const s = segments[i]!;
      if (p.startsWith('{')) {
        // A literal route (delta, $count) wins over a key capture.
        if (s.startsWith('$') || s.toLowerCase() === 'delta' || s.toLowerCase().startsWith('microsoft.graph.')) { okMatch = false; break; }
        params[p.slice(1, -1)] = s;
      } else if (p.toLowerCase() !== s.toLowerCase()) { okMatch = false; break; }
    }
    if (!okMatch) continue;
    pathMatched = true;
    if (r.method === method) return { route: r, params };
  }
  return pathMatched ? { methodNotAllowed: true } : undefined;
}

/** Handles one Graph request (top-level or a $batch item) for an authenticated caller. */
export function handleGraphRequest(state: EmulatorState, caller: Caller, req: GraphRequest): Resp {
  const now = state.now();
  const dir = caller.tenant.directory;
  let segments = req.segments.filter((s, i) => s !== '' || i < req.segments.length - 1);
  if (segments[0]?.toLowerCase() === 'me') {
    if (caller.kind !== 'delegated' || !caller.userId) return graphError(400, 'BadRequest', '/me request is only valid with delegated authentication flow.', req.headers, now);
    segments = ['users', caller.userId, ...segments.slice(1)];
  }
  const norm = normalise(dir, segments);
  if (!norm || !norm.length) return graphError(400, 'BadRequest', 'Invalid request.', req.headers, now);
  let m = matchRoute(req.method, norm);
  // `…/members/$count` and friends: count a navigation list through its own route.
  let countNav = false;
  if (!m && req.method === 'GET' && norm.length > 2 && norm[norm.length - 1] === '$count') {
    m = matchRoute('GET', norm.slice(0, -1));
    countNav = !!m && !('methodNotAllowed' in m);
  }
  if (!m) return graphError(400, 'BadRequest', `Resource not found for the segment '${norm[norm.length - 1] ?? ''}'.`, req.headers, now);
  if ('methodNotAllowed' in m) return graphError(405, 'Request_BadRequest', `The request method '${req.method}' is not supported for this resource.`, req.headers, now);
  const ctx: Ctx = { req: { ...req, segments: req.segments }, caller, dir, state, params: m.params, base: state.publicUrl };
  const perms = typeof m.route.perms === 'function' ? m.route.perms(ctx) : m.route.perms;
  const target = m.params.id;
  const isSelf = caller.kind === 'delegated' && norm[0] === 'users' && target !== undefined && (target.toLowerCase() === caller.userId?.toLowerCase() || dir.userByKey(target)?.id === caller.userId);
  const acceptable = caller.kind === 'app' ? perms.app ?? [] : [...(perms.user ?? []), ...(isSelf ? perms.self ?? [] : [])];
  if (!acceptable.some((p) => caller.perms.has(p))) return graphError(403, 'Authorization_RequestDenied', DENIED, req.headers, now);
  if (countNav) {
    if ((req.headers.consistencylevel ?? '').toLowerCase() !== 'eventual') return graphError(400, 'Request_BadRequest', "Count is not currently supported without the 'ConsistencyLevel: eventual' header.", req.headers, now);
    const q = new URLSearchParams(req.query);
    q.set('$count', 'true');
    q.set('$top', '1');
    q.delete('$skiptoken');
    const listed = m.route.handler({ ...ctx, req: { ...ctx.req, query: q } });
    const n = (listed.body as Obj | undefined)?.['@odata.count'];
    return typeof n === 'number' ? { status: 200, text: String(n) } : listed;
  }
  return m.route.handler(ctx);
}

// ---- $batch ---------------------------------------------------------------------------------

const BATCH_MAX = 20;

export function handleBatch(state: EmulatorState, version: 'v1.0' | 'beta', body: unknown, headers: Record<string, string | undefined>, run: (item: GraphRequest) => Resp): Resp {
  const now = state.now();
  const requests = (asObj(body)?.requests ?? undefined) as unknown;
  if (!Array.isArray(requests)) return graphError(400, 'BadRequest', 'Invalid batch payload format.', headers, now);
  if (requests.length > BATCH_MAX) return graphError(400, 'BadRequest', `Number of batch request steps exceeds the maximum of ${BATCH_MAX}.`, headers, now);
  const ids = new Set<string>();
  for (const r of requests as Obj[]) {
    const id = typeof r?.id === 'string' ? r.id.toLowerCase() : undefined;
    if (!id || typeof r.method !== 'string' || typeof r.url !== 'string') return graphError(400, 'BadRequest', 'Each batch request needs id, method and url.', headers, now);
    if (ids.has(id)) return graphError(400, 'BadRequest', `Batch request ids must be unique; '${String(r.id)}' is repeated.`, headers, now);
    ids.add(id);
  }
  const statusById = new Map<string, number>();
  const responses: Obj[] = [];
  for (const r of requests as Obj[]) {
    const id = String(r.id);
    const deps = Array.isArray(r.dependsOn) ? (r.dependsOn as unknown[]).map((d) => String(d).toLowerCase()) : [];
    if (deps.some((d) => !ids.has(d))) return graphError(400, 'BadRequest', `Request '${id}' depends on an unknown request id.`, headers, now);
    if (deps.some((d) => (statusById.get(d) ?? 424) >= 400)) {
      statusById.set(id.toLowerCase(), 424);
      responses.push({ id, status: 424, headers: { 'content-type': 'application/json' }, body: (graphError(424, 'BadRequest', 'Failed dependency', headers, now).body as Obj) });
      continue;
    }
    const rawUrl = String(r.url);
    if (/^[a-z]+:\/\//i.test(rawUrl)) {
      statusById.set(id.toLowerCase(), 400);
      responses.push({ id, status: 400, headers: { 'content-type': 'application/json' }, body: graphError(400, 'BadRequest', 'Batch request URLs must be relative.', headers, now).body });
      continue;
    }
    const u = new URL(rawUrl.replace(/^\/+/, ''), 'https://batch.invalid/');
    const itemHeaders: Record<string, string | undefined> = { ...lowerKeys(asObj(r.headers) ?? {}) };
    let itemBody: unknown = r.body;
    if (typeof itemBody === 'string' && itemHeaders['content-type']?.includes('json')) {
      try { itemBody = JSON.parse(Buffer.from(itemBody, 'base64').toString('utf8')) as unknown; } catch { /* leave as is */ }
    }
    const resp = run({ method: String(r.method).toUpperCase(), version, segments: decodeSegments(u.pathname.slice(1)), query: u.searchParams, headers: itemHeaders, body: itemBody });
    statusById.set(id.toLowerCase(), resp.status);
    const outHeaders: Record<string, string> = { ...(resp.headers ?? {}) };
    if (resp.body !== undefined) outHeaders['content-type'] = 'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8';
    responses.push({ id, status: resp.status, headers: outHeaders, ...(resp.body !== undefined ? { body: resp.body } : resp.text !== undefined ? { body: resp.text } : {}) });
  }
  return ok({ responses });
}

function lowerKeys(o: Obj): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(o)) out[k.toLowerCase()] = typeof v === 'string' ? v : undefined;
  return out;
}

/** Splits a path into segments, decoding each once; undefined-safe for malformed escapes. */
export function decodeSegments(path: string): string[] {
  return path.split('/').map((s) => {
    try { return decodeURIComponent(s); } catch { return s; }
  });
}

