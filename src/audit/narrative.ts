/**
 * The narrative of one decision, in plain sentences an auditor can read without knowing graphwarden:
 * who → what → rule → reason → proof → control map, plus approvals and the replay check. Pure text
 * building from an audit record; finding the record and replaying it is the caller's (cli/explain.ts).
 */
import type { Control } from '../policy/compile.js';
import type { DecisionFacts, ProvenanceFact, RoleFact } from '../policy/inputs.js';
import type { Decision } from '../decision/decide.js';
import type { ReplayResult } from '../decision/replay.js';
import type { ApprovalEventV1, DecisionEventV1 } from './event.js';

export interface NarrativeInput {
  event: DecisionEventV1;
  /** Position of the record in the hash chain. */
  seq?: number;
  hash?: string;
  controls: ReadonlyMap<string, Control>;
  approvals?: ApprovalEventV1[];
  /** Result of replaying the decision with its recorded rules revision, or why it could not be done. */
  replay?: ReplayResult | { error: string };
}

export interface ExplainedControl {
  id: string;
  framework: string;
  ref: string;
  title: string;
  /** The rules of this decision that cite the control. */
  rules: string[];
}

const VERB: Record<Decision['enforced'], string> = { allow: 'ALLOWED', alert: 'ALLOWED WITH AN ALERT', block: 'BLOCKED', approve: 'HELD FOR HUMAN APPROVAL' };
const EFFECT_WORD: Record<Decision['effect'], string> = { allow: 'allow', alert: 'alert (let through and flag for review)', block: 'block', approve: 'require human approval' };
const ACTION_WORD: Record<DecisionFacts['operation']['action'], string> = { read: 'read', create: 'create', update: 'change', delete: 'delete', invoke: 'run an action on' };
const TIER_WORD: Record<DecisionFacts['operation']['tier'], string> = {
  'control-plane': 'the control plane (identity and privilege administration: whoever controls it controls the tenant)',
  'management-plane': 'the management plane (configuration of services and resources)',
  'user-data': "user data (people's mail, files, calendars, chats and profiles)",
  unknown: 'an unknown sensitivity tier',
};
const CLIENT_AUTH: Record<DecisionFacts['token']['clientAuth'], string> = {
  public: 'as a public client (no client secret or certificate)',
  secret: 'with a client secret',
  certificate: 'with a certificate',
  unknown: 'by an unrecorded method',
};

const iso = (epochSeconds: number): string => new Date(epochSeconds * 1000).toISOString();
const quote = (s: string | undefined): string => (s ? `"${s}"` : '');

function via(list: ProvenanceFact[]): string {
  if (list.length === 0) return 'no recorded assignment';
  return list.map((p) => `${p.description} (${p.kind} ${p.id})`).join('; ');
}

function role(r: RoleFact): string {
  const scope = r.directoryScopeId === '/' ? 'tenant-wide' : `scoped to ${r.directoryScopeId}`;
  const until = r.endDateTime ? `, until ${r.endDateTime}` : ', permanent';
  return `${r.displayName}${r.privileged ? ' (privileged)' : ''}, ${scope}${until}, via ${via(r.via)}`;
}

export function explainControls(decision: Decision, controls: ReadonlyMap<string, Control>): ExplainedControl[] {
  const out = new Map<string, ExplainedControl>();
  for (const m of decision.matches) {
    for (const id of m.controls) {
      const c = controls.get(id);
      const entry = out.get(id) ?? { id, framework: c?.framework ?? 'unknown framework', ref: c?.ref ?? id, title: c?.title ?? '(not in the control catalogue of this rules revision)', rules: [] };
      entry.rules.push(m.ruleId);
      out.set(id, entry);
    }
  }
  return [...out.values()].sort((a, b) => a.framework.localeCompare(b.framework) || a.ref.localeCompare(b.ref, 'en', { numeric: true }));
}

export function narrate(input: NarrativeInput): string {
  const { event } = input;
  const f = event.facts;
  const d = event.decision;
  const L: string[] = [];
  const a = f.agent;

  L.push(`Decision ${d.id}: ${VERB[d.enforced]}`);
  L.push(`Time: ${f.at}${event.requestId ? `; request ${event.requestId}` : ''}${event.batchItemId ? `, item ${event.batchItemId} of a $batch request` : ''}${event.clientRequestId ? `; the agent's client-request-id ${event.clientRequestId}` : ''}.`);
  L.push('');

  L.push('WHO');
  const name = a.displayName ? `${quote(a.displayName)} ` : '';
  L.push(`  The agent ${name}(application id ${a.appId}${a.servicePrincipalId ? `, service principal ${a.servicePrincipalId}` : ''}) in tenant ${a.tenantId} called Microsoft Graph.`);
  if (a.kind === 'app') L.push('  It used an app-only token: it acted as itself, with its own application permissions, not on behalf of a signed-in person.');
  else L.push(`  It used a delegated token: it acted on behalf of the signed-in user ${a.userPrincipalName ?? '(name not recorded)'} (user object id ${a.userId ?? 'unknown'}), within that user's own rights.`);
  if (a.disabled) L.push('  The directory shows this agent (or its signed-in user) as disabled: it holds no permissions.');
  if (!a.knownToDirectory) L.push('  The directory snapshot did not know this agent (it may be new since the last directory sync, or from outside the tenant), so its permissions could not be checked against the directory.');
  if (a.owners.length > 0) L.push(`  People and objects accountable for it (its owners in the directory): ${a.owners.map((o) => `${o.displayName ?? o.id} (${o.type} ${o.id})`).join(', ')}.`);
  else if (a.knownToDirectory) L.push('  It has no owners in the directory: nobody is named as accountable for it.');
  if (a.tags.length > 0) L.push(`  Its service principal tags: ${a.tags.join(', ')}.`);
  L.push('');

  L.push('WHAT');
  const o = f.operation;
  L.push(`  It asked to ${ACTION_WORD[o.action]} ${o.path} (HTTP ${o.method}, Graph ${o.version}${o.template ? `; operation ${o.template}` : ''})${o.isBatch ? ', as one item of a $batch request' : ''}.`);
  if (!o.known) L.push('  graphwarden does not know this operation: it is not in the Microsoft Graph permission map, so the permission it needs could not be determined.');
  L.push(`  This operation belongs to ${TIER_WORD[o.tier]}.`);
  const t = f.target;
  if (t.id !== undefined || t.viaMe) {
    const obj = t.objects[0];
    const label = obj?.displayName ? ` ${quote(obj.displayName)}` : '';
    L.push(`  The target is ${t.type}${label} ${t.viaMe ? '(the signed-in user, addressed as /me)' : t.id}${t.knownToDirectory ? '' : ' (not found in the directory snapshot)'}.`);
  }
  const tf: string[] = [];
  if (t.holdsControlPlane) tf.push('it holds control-plane permissions or a privileged role');
  if (t.roleAssignableGroup) tf.push('a role-assignable group is involved (its members receive directory roles)');
  if (t.privilegedRole) tf.push('a directory role Microsoft classifies as privileged is involved');
  if (t.callerOwnApp) tf.push("it is the agent's own application");
  else if (t.callerOwnsTarget) tf.push('the agent (or its user) owns it');
  if (tf.length > 0) L.push(`  About the target: ${tf.join('; ')}.`);
  if (o.expand.length > 0 || o.select.length > 0) L.push(`  Related data requested: ${[...o.expand.map((x) => `expand ${x}`), ...o.select.map((x) => `select ${x}`)].join(', ')}.`);
  if (o.needs.length > 0) L.push(`  For this kind of caller (${o.scheme === 'Application' ? 'application permissions' : 'delegated permissions'}) Microsoft lists these permissions as sufficient, any one of them, least privileged first: ${o.needs.join(', ')}.`);
  L.push('');

  L.push('RULE AND REASON');
  if (d.matches.length === 0) {
    L.push(`  No rule matched, so the default effect of the rule set applied: ${EFFECT_WORD[d.effect]} (reason code ${d.reasonCode}).`);
  } else {
    const decider = d.matches.find((m) => m.ruleId === d.ruleId);
    if (decider) L.push(`  Deciding rule: ${decider.ruleId}, which says ${EFFECT_WORD[decider.effect]}, reason code ${decider.reasonCode}: ${decider.reason}`);
    else L.push(`  No enforced rule matched, so the default effect applied: ${EFFECT_WORD[d.effect]}.`);
    const others = d.matches.filter((m) => m !== decider);
    for (const m of others) L.push(`  Also matched: rule ${m.ruleId}, which says ${EFFECT_WORD[m.effect]}${m.shadow ? ' (in shadow mode: recorded only)' : ''}, reason code ${m.reasonCode}: ${m.reason}`);
    L.push('  When several rules match, the strongest effect wins: block, then require approval, then alert, then allow.');
  }
  if (d.mode === 'shadow') L.push(`  The rule set was in shadow mode: every call is let through and the decision it would have had is recorded${d.wouldBe ? ` (here: ${EFFECT_WORD[d.wouldBe]})` : ''}.`);
  else if (d.wouldBe) L.push(`  Rules in shadow mode would have made it: ${EFFECT_WORD[d.wouldBe]}. They were only recorded.`);
  if (d.approval === 'fallback-block') L.push('  The rule asked for human approval; no approval workflow was available, so the call was blocked, as the rule set is configured to do.');
  else if (d.approval === 'fallback-alert') L.push('  The rule asked for human approval; no approval workflow was available, so the call was let through with an alert, as the rule set is configured to do.');
  else if (d.approval === 'hold') L.push('  The call was held until a person approved or denied it (see APPROVALS).');
  const CONSEQUENCE: Record<Decision['enforced'], string> = {
    allow: 'the call was forwarded to Microsoft Graph.',
    alert: 'the call was forwarded to Microsoft Graph and an alert was raised for review.',
    block: `the call was not forwarded; the agent received HTTP 403 with error code GraphwardenPolicyDenied and request-id ${d.id}.`,
    approve: 'the call was held for a person to approve or deny.',
  };
  L.push(`  Outcome: ${VERB[d.enforced].toLowerCase()}: ${CONSEQUENCE[d.enforced]}`);
  L.push('');

  L.push('PROOF');
  L.push(`  Token: identifier (uti) ${f.token.tokenId}; digest of the verified claims ${f.token.claimsDigest}; issued ${iso(f.token.issuedAt)}, expires ${iso(f.token.expiresAt)}; the client authenticated ${CLIENT_AUTH[f.token.clientAuth]}. The token itself is not kept.`);
  L.push(`  Permissions carried in the token: ${f.token.permissions.length > 0 ? f.token.permissions.join(', ') : 'none'}.`);
  if (f.directory) L.push(`  Directory snapshot: ${f.directory.snapshotId}, taken ${f.directory.takenAt}. It is graphwarden's copy of the tenant's assignments, groups and roles.`);
  else L.push('  Directory snapshot: none was available; nothing could be checked against the directory.');
  const p = f.permissions;
  if (p.held === true) L.push(`  The directory grants what the call needs: ${p.used ?? '(permission)'} through ${via(p.usedVia)}.`);
  else if (p.held === false) L.push(`  The directory does not currently grant any permission this call needs${p.revokedInToken.length > 0 ? `. The token still carries ${p.revokedInToken.join(', ')}, which the directory no longer grants (revoked after the token was issued)` : ''}.`);
  else L.push('  Whether the directory grants what the call needs could not be told (unknown operation, unknown agent, or no directory).');
  if (p.withheld.length > 0) L.push(`  The app was granted ${p.withheld.join(', ')} for this user, but the user's own directory roles do not allow it, so it cannot be used.`);
  if (p.firstUse === true) L.push(`  This was the first time the agent used ${p.used ?? 'this permission'} through graphwarden.`);
  if (p.activeRoles.length > 0) L.push(`  Directory roles active now: ${p.activeRoles.map(role).join(' | ')}.`);
  if (p.eligibleRoles.length > 0) L.push(`  Roles it may activate through Privileged Identity Management (latent privilege, not active): ${p.eligibleRoles.map(role).join(' | ')}.`);
  for (const obj of t.objects) {
    const bits = [obj.holdsControlPlane ? 'holds control-plane permissions' : '', obj.roleAssignable ? 'role-assignable' : '', obj.privileged ? 'privileged' : '', obj.owners?.length ? `owners ${obj.owners.join(', ')}` : ''].filter(Boolean);
    L.push(`  Directory object ${obj.id} (${obj.type}${obj.displayName ? ` ${quote(obj.displayName)}` : ''})${bits.length > 0 ? `: ${bits.join(', ')}` : ''}.`);
  }
  if (f.risk) L.push(`  Risk assessment: score ${f.risk.score}${f.risk.flags.length > 0 ? `, flags ${f.risk.flags.join(', ')}` : ''}.`);
  L.push(`  Rules revision: ${d.rulesRevision} (sha256 of the rule files in force; the files are kept so the decision can be re-run).`);
  L.push(`  Facts digest: ${d.factsDigest}.`);
  const r = input.replay;
  if (r && 'error' in r) L.push(`  Replay: not possible: ${r.error}.`);
  else if (r) {
    L.push(`  Replay: ${r.same ? 'running the same rules revision on the recorded facts gives the same decision.' : `the replayed decision DIFFERS in: ${r.differences.join(', ')}.`}`);
    L.push(`  Integrity of facts: ${r.factsIntact ? 'the recorded facts still match their digest.' : 'the recorded facts NO LONGER match their digest (edited after the decision).'}`);
  }
  if (input.seq !== undefined) L.push(`  Audit record: number ${input.seq} in the hash-chained log${input.hash ? `, hash ${input.hash}` : ''} (graphwarden audit verify checks the chain).`);
  L.push('');

  const controls = explainControls(d, input.controls);
  L.push('CONTROLS');
  if (controls.length === 0) L.push('  The matching rules cite no controls.');
  for (const c of controls) L.push(`  ${c.framework} ${c.ref}: ${c.title} (rule${c.rules.length > 1 ? 's' : ''} ${c.rules.join(', ')}).`);
  L.push('  Every call through graphwarden, allowed or not, is recorded in the audit log (EU AI Act Art. 12 record-keeping; ISO/IEC 27001:2022 A.8.15 logging).');

  if (input.approvals && input.approvals.length > 0) {
    L.push('');
    L.push('APPROVALS');
    for (const ap of input.approvals) {
      L.push(`  ${ap.at}: ${ap.action} by ${ap.actor} (approval ${ap.approvalId})${ap.justification ? `, justification: "${ap.justification}"` : ''}.`);
    }
  }
  return `${L.join('\n')}\n`;
}
