/**
 * Target and sensitivity of a matched call: which object it acts on (the group being changed, the app
 * receiving a credential, the user whose mail is read), related ids, and tier raising for control-plane
 * targets. Owns these tables; does not know the directory (role-assignable groups are raised by policy). Pure.
 */
import type { PathToken } from './canonical.js';
import type { MatchKind } from './lookup.js';
import type { Action, IdKind, OperationTarget, Tier } from './operation.js';
import { maxTier } from './operation.js';

/** Literal prefixes (lower-case) → target type; the id is the key that follows the prefix. */
const PREFIXES: Array<[string[], string]> = [
  [['rolemanagement', 'directory', 'roleassignments'], 'roleAssignment'],
  [['rolemanagement', 'directory', 'roledefinitions'], 'roleDefinition'],
  [['rolemanagement', 'directory', 'roleassignmentschedulerequests'], 'roleAssignmentScheduleRequest'],
  [['rolemanagement', 'directory', 'roleeligibilityschedulerequests'], 'roleEligibilityScheduleRequest'],
  [['rolemanagement', 'directory', 'roleassignmentschedules'], 'roleAssignmentSchedule'],
  [['rolemanagement', 'directory', 'roleeligibilityschedules'], 'roleEligibilitySchedule'],
  [['rolemanagement'], 'roleManagement'],
  [['identity', 'conditionalaccess', 'policies'], 'conditionalAccessPolicy'],
  [['identity', 'conditionalaccess', 'namedlocations'], 'namedLocation'],
  [['users'], 'user'],
  [['me'], 'user'],
  [['groups'], 'group'],
  [['applications'], 'application'],
  [['serviceprincipals'], 'servicePrincipal'],
  [['directoryroles'], 'directoryRole'],
  [['devices'], 'device'],
  [['administrativeunits'], 'administrativeUnit'],
  [['directoryobjects'], 'directoryObject'],
  [['oauth2permissiongrants'], 'oauth2PermissionGrant'],
  [['domains'], 'domain'],
  [['policies'], 'policy'],
  [['drives'], 'drive'],
  [['sites'], 'site'],
  [['teams'], 'team'],
  [['chats'], 'chat'],
  [['contacts'], 'orgContact'],
  [['invitations'], 'invitation'],
  [['subscriptions'], 'subscription'],
];

/** A user's mail, calendar and contacts: the target is the mailbox of that user. */
const MAILBOX = new Set([
  'messages', 'mailfolders', 'sendmail', 'mailboxsettings', 'events', 'calendar', 'calendars', 'calendarview',
  'calendargroups', 'contacts', 'contactfolders', 'inferenceclassification', 'outlook', 'findmeetingtimes',
]);

const ALT_KEY_KINDS: Record<string, IdKind> = { appid: 'appId', roletemplateid: 'roleTemplateId', userprincipalname: 'userPrincipalName', id: 'id' };

/** Body fields that name other directory objects the call links (a $ref body, an assignment). */
const BODY_ID_FIELDS = new Set(['principalid', 'resourceid', 'approleid', 'roledefinitionid', 'directoryscopeid']);

export interface TargetInput {
  tokens: PathToken[];
  kinds: MatchKind[];
  query: Record<string, string>;
  body: unknown;
  meId: string | undefined;
}

/** The last path segment of an `@odata.id` / `$id` reference (`https://graph.microsoft.com/v1.0/directoryObjects/{id}`). */
function refId(ref: string): string {
  const trimmed = ref.replace(/\/+$/, '');
  const seg = trimmed.slice(trimmed.lastIndexOf('/') + 1);
  const m = /^[^(]*\('?([^')]*)'?\)$/.exec(seg);
  return m ? m[1]! : seg;
}

function bodyIds(body: unknown): string[] {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return [];
  const out: string[] = [];
  // Property names compared case-insensitively: Graph's JSON binding may not care about case.
  for (const [key, v] of Object.entries(body as Record<string, unknown>)) {
    const k = key.toLowerCase();
    if (k === '@odata.id' && typeof v === 'string') out.push(refId(v));
    else if (k.endsWith('@odata.bind')) {
      for (const r of Array.isArray(v) ? v : [v]) if (typeof r === 'string') out.push(refId(r));
    } else if (BODY_ID_FIELDS.has(k) && typeof v === 'string' && v) out.push(v);
  }
  return out;
}

function idKindOf(tok: PathToken): { id: string; idKind: IdKind } {
  if (tok.kind === 'call') {
    const [name, value] = tok.args[0]!;
    return { id: value, idKind: ALT_KEY_KINDS[name.toLowerCase()] ?? 'id' };
  }
  return { id: tok.text, idKind: tok.text.indexOf('@') >= 0 ? 'userPrincipalName' : 'id' };
}

export function resolveTarget(input: TargetInput): OperationTarget {
  const { tokens, kinds } = input;
  const lits: string[] = [];
  for (let i = 0; i < tokens.length && kinds[i] === 'lit'; i++) {
    const t = tokens[i]!;
    lits.push(t.kind === 'call' ? t.name.toLowerCase() : t.kind === 'name' ? t.key : '');
  }
  let type = tokens[0]?.kind === 'name' ? tokens[0].key : tokens[0]?.kind === 'call' ? tokens[0].name.toLowerCase() : 'root';
  let prefixLen = 0;
  for (const [prefix, t] of PREFIXES) {
    if (prefix.length <= lits.length && prefix.every((p, i) => lits[i] === p)) {
      type = t;
      prefixLen = prefix.length;
      break;
    }
  }
  const target: OperationTarget = { type };
  let idAt = -1;
  if (prefixLen > 0) {
    const head = tokens[prefixLen - 1]!;
    if (head.kind === 'call') {
      Object.assign(target, idKindOf(head));
      idAt = prefixLen - 1;
    } else if (head.kind === 'name' && head.key === 'me' && prefixLen === 1) {
      target.viaMe = true;
      target.idKind = 'me';
      if (input.meId) target.id = input.meId;
      idAt = 0;
    } else {
      // A type cast between the set and the key (`/servicePrincipals/microsoft.graph.agentIdentity/{id}`).
      let at = prefixLen;
      while (kinds[at] === 'lit' && tokens[at]?.kind === 'name' && (tokens[at] as { key: string }).key.startsWith('microsoft.graph.')) at++;
      if (kinds[at] === 'key') {
        Object.assign(target, idKindOf(tokens[at]!));
        idAt = at;
      }
    }
  }
  if (type === 'user' && idAt >= 0) {
    const next = tokens[idAt + 1];
    if (next?.kind === 'name' && MAILBOX.has(next.key)) target.type = 'mailbox';
  }
  const related: string[] = [];
  for (let i = Math.max(idAt + 1, 0); i < tokens.length; i++) {
    const tok = tokens[i]!;
    if (kinds[i] === 'key' || (tok.kind === 'call' && tok.args.length === 1 && ALT_KEY_KINDS[tok.args[0]![0].toLowerCase()])) related.push(idKindOf(tok).id);
  }
  const ref = input.query['$id'];
  if (ref) related.push(refId(ref));
  related.push(...bodyIds(input.body));
  if (related.length) target.relatedIds = [...new Set(related)];
  return target;
}

/** Templates (regex on the canonical template) whose writes control identity or privilege. */
const CONTROL_PLANE_WRITES: RegExp[] = [
  /^\/rolemanagement\//,
  /^\/directoryroles[/(]/,
  /^\/(applications|serviceprincipals)(\(appid=\{value\}\))?(\/\{id\})?\/(addpassword|addkey|removepassword|removekey|addtokensigningcertificate|federatedidentitycredentials|owners|approleassignedto|approleassignments)\b/,
  /^\/(applications|serviceprincipals)(\/\{id\}|\(appid=\{value\}\))$/,
  /^\/oauth2permissiongrants\b/,
  /^\/(users|groups)\/\{id\}\/approleassignments\b/,
  /^\/me\/approleassignments\b/,
  /^\/identity\/conditionalaccess\//,
  /^\/policies\//,
  /^\/domains\b/,
  /^\/(users\/\{id\}|me)\/authentication\//,
  /^\/administrativeunits\/\{id\}\/scopedrolemembers\b/,
];

const MANAGEMENT_PLANE_WRITES: RegExp[] = [/^\/groups\/\{id\}\/(members|owners)\b/, /^\/groups\/\{id\}$/, /^\/users\/\{id\}$/, /^\/administrativeunits\/\{id\}\/members\b/];

/** Reads that reveal who holds privilege: at least management plane. */
const MANAGEMENT_PLANE_READS: RegExp[] = [/^\/rolemanagement\//, /^\/directoryroles\b/, /^\/oauth2permissiongrants\b/, /^\/identity\/conditionalaccess\//];

/** Raises (never lowers) the tier of the least permissions by what the call targets. */
export function raiseTier(base: Tier, template: string, action: Action, expand: string[]): Tier {
  let tier = base;
  if (action === 'read') {
    if (MANAGEMENT_PLANE_READS.some((r) => r.test(template))) tier = maxTier(tier, 'management-plane');
  } else if (CONTROL_PLANE_WRITES.some((r) => r.test(template))) {
    tier = 'control-plane';
  } else if (MANAGEMENT_PLANE_WRITES.some((r) => r.test(template))) {
    tier = maxTier(tier, 'management-plane');
  }
  // Expanding who is a member/owner reveals privilege structure.
  if (expand.some((e) => e === 'members' || e === 'owners' || e === 'transitivemembers' || e === '*')) tier = maxTier(tier, 'management-plane');
  return tier;
}
