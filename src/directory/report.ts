/**
 * Posture report over a snapshot: privileged role hygiene, ownerless apps, credential hygiene,
 * agents with control-plane power, multi-tenant apps with high privileges. Pure (time passed in);
 * renders text, JSON and a self-contained HTML page. Does not fetch or enforce anything.
 */
import { effectiveForServicePrincipal, rolesOf } from './effective.js';
import { MICROSOFT_GRAPH_APP_ID, type CredentialRecord } from './model.js';
import type { ReferenceData, Tier } from './reference.js';
import type { Snapshot, TenantIndex } from './snapshot.js';

const GLOBAL_ADMIN = '62e90394-69f5-4237-9190-012177145e10';
const DAY = 86_400_000;

export type Severity = 'high' | 'medium' | 'low' | 'info';

export interface Finding {
  check: string;
  severity: Severity;
  tenantId: string;
  subject: { id: string; type: string; displayName?: string };
  detail: string;
}

export interface AgentPosture {
  tenantId: string;
  servicePrincipalId: string;
  appId: string;
  displayName?: string;
  multiTenant: boolean;
  agentIdentity: boolean;
  graphPermissions: Array<{ permission: string; tier: Tier }>;
  activeRoles: string[];
  eligibleRoles: string[];
  capabilities: string[];
  controlPlane: boolean;
}

export interface PostureReport {
  generatedAt: string;
  snapshotId: string;
  snapshotTakenAt: string;
  counts: Record<string, number>;
  findings: Finding[];
  agents: AgentPosture[];
}

export interface ReportOptions {
  now: number;
  refs: ReferenceData;
  expiringWithinDays?: number;
  longLivedDays?: number;
  maxGlobalAdmins?: number;
}

const SEVERITY_RANK: Record<Severity, number> = { high: 0, medium: 1, low: 2, info: 3 };

function label(t: TenantIndex, id: string): { id: string; type: string; displayName?: string } {
  const u = t.users.get(id);
  if (u) return { id, type: u.userType === 'Guest' ? 'guest user' : 'user', ...(u.displayName ? { displayName: u.displayName } : {}) };
  const s = t.servicePrincipals.get(id);
  if (s) return { id, type: 'servicePrincipal', ...(s.displayName ? { displayName: s.displayName } : {}) };
  const a = t.applications.get(id);
  if (a) return { id, type: 'application', ...(a.displayName ? { displayName: a.displayName } : {}) };
  const g = t.groups.get(id);
  if (g) return { id, type: 'group', ...(g.displayName ? { displayName: g.displayName } : {}) };
  return { id, type: 'object' };
}

function credentialFindings(t: TenantIndex, o: Required<Omit<ReportOptions, 'refs'>>, out: Finding[]): void {
  const check = (ownerId: string, c: CredentialRecord): void => {
    const tenantId = t.data.tenantId;
    const subject = label(t, ownerId);
    const what = `${c.kind === 'password' ? 'client secret' : 'certificate'}${c.displayName ? ` "${c.displayName}"` : ''} (keyId ${c.keyId})`;
    const end = c.endDateTime ? Date.parse(c.endDateTime) : NaN;
    const start = c.startDateTime ? Date.parse(c.startDateTime) : NaN;
    if (!Number.isNaN(end) && end <= o.now) {
      out.push({ check: 'credential-expired', severity: 'low', tenantId, subject, detail: `${what} expired ${c.endDateTime}; remove it` });
    } else if (!Number.isNaN(end) && end - o.now <= o.expiringWithinDays * DAY) {
      out.push({ check: 'credential-expiring', severity: 'medium', tenantId, subject, detail: `${what} expires ${c.endDateTime} (within ${o.expiringWithinDays} days)` });
    }
    if (!Number.isNaN(end) && !Number.isNaN(start) && end - start > o.longLivedDays * DAY) {
      out.push({ check: 'credential-long-lived', severity: c.kind === 'password' ? 'medium' : 'low', tenantId, subject, detail: `${what} is valid for ${Math.round((end - start) / DAY)} days (more than ${o.longLivedDays})` });
    }
  };
  for (const a of t.data.applications) for (const c of a.credentials) check(a.id, c);
  for (const s of t.data.servicePrincipals) for (const c of s.credentials) check(s.id, c);
}

/** Builds the posture report; deterministic for a given snapshot and `now`. */
export function buildReport(snap: Snapshot, opts: ReportOptions): PostureReport {
  const o = { now: opts.now, expiringWithinDays: opts.expiringWithinDays ?? 30, longLivedDays: opts.longLivedDays ?? 365, maxGlobalAdmins: opts.maxGlobalAdmins ?? 4 };
  const findings: Finding[] = [];
  const agents: AgentPosture[] = [];
  const counts: Record<string, number> = { tenants: 0, users: 0, guests: 0, groups: 0, applications: 0, servicePrincipals: 0, appRoleAssignments: 0, grants: 0, roleAssignments: 0, eligibleSchedules: 0 };
  for (const t of snap.tenants.values()) {
    const d = t.data;
    const tenantId = d.tenantId;
    counts.tenants = (counts.tenants ?? 0) + 1;
    counts.users = (counts.users ?? 0) + d.users.length;
    counts.guests = (counts.guests ?? 0) + d.users.filter((u) => u.userType === 'Guest').length;
    counts.groups = (counts.groups ?? 0) + d.groups.length;
    counts.applications = (counts.applications ?? 0) + d.applications.length;
    counts.servicePrincipals = (counts.servicePrincipals ?? 0) + d.servicePrincipals.length;
    counts.appRoleAssignments = (counts.appRoleAssignments ?? 0) + d.appRoleAssignments.length;
    counts.grants = (counts.grants ?? 0) + d.grants.length;
    counts.roleAssignments = (counts.roleAssignments ?? 0) + d.roleAssignments.length;
    counts.eligibleSchedules = (counts.eligibleSchedules ?? 0) + d.roleEligibilitySchedules.length;

    // Privileged role hygiene, per user and SP (group-held roles count for their members).
    const globalAdmins = new Set<string>();
    const principals = [...d.users.map((u) => ({ id: u.id, sp: false })), ...d.servicePrincipals.map((s) => ({ id: s.id, sp: true }))];
    for (const p of principals) {
      const hasAny = t.roleAssignmentsByPrincipal.has(p.id) || t.assignmentSchedulesByPrincipal.has(p.id) || t.eligibilityByPrincipal.has(p.id) || t.memberOf.has(p.id);
      if (!hasAny) continue;
      const roles = rolesOf(t, opts.refs, p.id, o.now);
      const subject = label(t, p.id);
      const guest = subject.type === 'guest user';
      for (const r of roles.active) {
        if (r.roleTemplateId === GLOBAL_ADMIN && r.directoryScopeId === '/') globalAdmins.add(p.id);
        const how = r.via.map((v) => v.description).join('; ');
        if (p.sp && r.privileged) {
          findings.push({ check: 'privileged-role-service-principal', severity: 'high', tenantId, subject, detail: `service principal holds privileged role ${r.displayName} (${how})` });
        } else if (!p.sp && r.privileged && r.endDateTime === undefined) {
          findings.push({ check: 'privileged-role-permanent', severity: 'medium', tenantId, subject, detail: `permanent privileged role ${r.displayName}; make it PIM-eligible (${how})` });
        }
        if (guest) findings.push({ check: 'guest-with-role', severity: r.privileged ? 'high' : 'medium', tenantId, subject, detail: `guest holds role ${r.displayName} (${how})` });
      }
      for (const r of roles.eligible) {
        if (guest) findings.push({ check: 'guest-with-role', severity: r.privileged ? 'medium' : 'low', tenantId, subject, detail: `guest is eligible for role ${r.displayName}` });
        if (p.sp && r.privileged) findings.push({ check: 'privileged-role-service-principal', severity: 'medium', tenantId, subject, detail: `service principal is eligible for privileged role ${r.displayName}` });
      }
    }
    if (globalAdmins.size > o.maxGlobalAdmins) {
      findings.push({ check: 'too-many-global-admins', severity: 'medium', tenantId, subject: { id: tenantId, type: 'tenant' }, detail: `${globalAdmins.size} principals hold Global Administrator now (more than ${o.maxGlobalAdmins})` });
    }

    // Ownerless applications, and service principals of apps this tenant registered.
    for (const a of d.applications) if (a.owners.length === 0) findings.push({ check: 'app-without-owners', severity: 'low', tenantId, subject: label(t, a.id), detail: 'application has no owners: nobody is accountable for it' });
    for (const s of d.servicePrincipals) {
      const own = s.appOwnerOrganizationId?.toLowerCase() === tenantId.toLowerCase() || t.appByAppId.has(s.appId.toLowerCase());
      if (own && s.owners.length === 0 && (t.appByAppId.get(s.appId.toLowerCase())?.owners.length ?? 0) === 0) {
        findings.push({ check: 'sp-without-owners', severity: 'low', tenantId, subject: label(t, s.id), detail: 'service principal (and its application) has no owners' });
      }
    }

    credentialFindings(t, o, findings);

    // Agents: every SP holding Graph permissions, roles, or flagged as an Agent ID.
    for (const s of d.servicePrincipals) {
      if (s.appId === MICROSOFT_GRAPH_APP_ID) continue;
      const e = effectiveForServicePrincipal(t, opts.refs, s, o.now);
      if (e.graph.size === 0 && e.activeRoles.length === 0 && e.eligibleRoles.length === 0 && !s.agentIdentity) continue;
      const app = t.appByAppId.get(s.appId.toLowerCase());
      const multiTenant = app ? app.signInAudience !== undefined && app.signInAudience !== 'AzureADMyOrg' : s.appOwnerOrganizationId !== undefined && s.appOwnerOrganizationId.toLowerCase() !== tenantId.toLowerCase();
      const graphPermissions = [...e.graph.values()].map((p) => ({ permission: p.permission, tier: opts.refs.appRoleTier.get(p.permission) ?? ('Unclassified' as Tier) })).sort((a, b) => a.permission.localeCompare(b.permission));
      const cp = graphPermissions.filter((p) => p.tier === 'ControlPlane');
      const controlPlane = cp.length > 0 || e.activeRoles.some((r) => r.privileged);
      agents.push({
        tenantId,
        servicePrincipalId: s.id,
        appId: s.appId,
        ...(s.displayName ? { displayName: s.displayName } : {}),
        multiTenant,
        agentIdentity: s.agentIdentity === true,
        graphPermissions,
        activeRoles: e.activeRoles.map((r) => r.displayName),
        eligibleRoles: e.eligibleRoles.map((r) => r.displayName),
        capabilities: (e.capabilities ?? []).filter((c) => c.action !== 'graph-permission').map((c) => `${c.latent ? '(latent) ' : ''}${c.description}`),
        controlPlane,
      });
      const subject = label(t, s.id);
      if (cp.length > 0) {
        findings.push({ check: 'agent-control-plane', severity: 'high', tenantId, subject, detail: `holds control-plane Graph permissions: ${cp.map((p) => p.permission).join(', ')}` });
      }
      const high = graphPermissions.filter((p) => p.tier === 'ControlPlane' || p.tier === 'ManagementPlane');
      if (multiTenant && (high.length > 0 || e.activeRoles.some((r) => r.privileged))) {
        findings.push({ check: 'multi-tenant-high-privilege', severity: 'high', tenantId, subject, detail: `multi-tenant app with high privileges: ${[...high.map((p) => p.permission), ...e.activeRoles.filter((r) => r.privileged).map((r) => r.displayName)].join(', ')}` });
      }
    }
  }
  findings.sort((a, b) => SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] || a.check.localeCompare(b.check) || (a.subject.displayName ?? a.subject.id).localeCompare(b.subject.displayName ?? b.subject.id));
  agents.sort((a, b) => Number(b.controlPlane) - Number(a.controlPlane) || (a.displayName ?? a.appId).localeCompare(b.displayName ?? b.appId));
  return { generatedAt: new Date(opts.now).toISOString(), snapshotId: snap.id, snapshotTakenAt: snap.takenAt, counts, findings, agents };
}

const name = (s: { id: string; displayName?: string }): string => (s.displayName ? `${s.displayName} (${s.id})` : s.id);

export function renderReportText(r: PostureReport): string {
  const lines: string[] = [];
  lines.push(`graphwarden posture report — ${r.generatedAt}`);
  lines.push(`snapshot ${r.snapshotId.slice(0, 16)} taken ${r.snapshotTakenAt}`);
  lines.push(Object.entries(r.counts).map(([k, v]) => `${k}: ${v}`).join(', '));
  lines.push('');
  const bySev = (s: Severity): number => r.findings.filter((f) => f.severity === s).length;
  lines.push(`Findings: ${r.findings.length} (high ${bySev('high')}, medium ${bySev('medium')}, low ${bySev('low')}, info ${bySev('info')})`);
  for (const f of r.findings) lines.push(`  [${f.severity.toUpperCase()}] ${f.check}: ${name(f.subject)} — ${f.detail}`);
  lines.push('');
  lines.push(`Agents: ${r.agents.length}`);
  for (const a of r.agents) {
    lines.push(`  ${a.controlPlane ? '!' : ' '} ${a.displayName ?? a.appId} (appId ${a.appId})${a.multiTenant ? ' [multi-tenant]' : ''}${a.agentIdentity ? ' [agent identity]' : ''}`);
    if (a.graphPermissions.length) lines.push(`      Graph: ${a.graphPermissions.map((p) => `${p.permission}${p.tier === 'ControlPlane' ? '*' : ''}`).join(', ')}`);
    if (a.activeRoles.length) lines.push(`      roles: ${a.activeRoles.join(', ')}`);
    if (a.eligibleRoles.length) lines.push(`      eligible: ${a.eligibleRoles.join(', ')}`);
    for (const c of a.capabilities) lines.push(`      can: ${c}`);
  }
  lines.push('');
  lines.push('* control-plane permission (Enterprise Access Model tier 0)');
  return lines.join('\n') + '\n';
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

/** One self-contained page: inline CSS, no scripts, no external assets; every value HTML-escaped. */
export function renderReportHtml(r: PostureReport): string {
  const rows = r.findings
    .map((f) => `<tr class="${f.severity}"><td>${esc(f.severity)}</td><td>${esc(f.check)}</td><td>${esc(name(f.subject))}<br><small>${esc(f.subject.type)} · ${esc(f.tenantId)}</small></td><td>${esc(f.detail)}</td></tr>`)
    .join('\n');
  const agents = r.agents
    .map(
      (a) =>
        `<tr${a.controlPlane ? ' class="high"' : ''}><td>${esc(a.displayName ?? a.appId)}<br><small>${esc(a.appId)}${a.multiTenant ? ' · multi-tenant' : ''}${a.agentIdentity ? ' · agent identity' : ''}</small></td><td>${a.graphPermissions.map((p) => `<span class="tier-${esc(p.tier)}">${esc(p.permission)}</span>`).join(' ')}</td><td>${esc(a.activeRoles.join(', '))}</td><td>${esc(a.eligibleRoles.join(', '))}</td><td>${a.capabilities.map((c) => esc(c)).join('<br>')}</td></tr>`,
    )
    .join('\n');
  const counts = Object.entries(r.counts).map(([k, v]) => `<li><b>${esc(String(v))}</b> ${esc(k)}</li>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>graphwarden posture report</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#1b1b1b}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:2em}
table{border-collapse:collapse;width:100%}th,td{border:1px solid #ccc;padding:4px 8px;vertical-align:top;text-align:left}
th{background:#f0f0f0}tr.high td:first-child{background:#f8d7da}tr.medium td:first-child{background:#fff3cd}tr.low td:first-child{background:#e2e3e5}
ul.counts{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:1em}small{color:#555}
.tier-ControlPlane{color:#a00;font-weight:bold}.tier-ManagementPlane{color:#a60}
</style></head><body>
<h1>graphwarden posture report</h1>
<p>Generated ${esc(r.generatedAt)} from snapshot <code>${esc(r.snapshotId.slice(0, 16))}</code> taken ${esc(r.snapshotTakenAt)}.</p>
<ul class="counts">${counts}</ul>
<h2>Findings (${r.findings.length})</h2>
<table><thead><tr><th>Severity</th><th>Check</th><th>Subject</th><th>Detail</th></tr></thead><tbody>
${rows}
</tbody></table>
<h2>Agents (${r.agents.length})</h2>
<table><thead><tr><th>Agent</th><th>Graph permissions</th><th>Active roles</th><th>Eligible roles</th><th>Can</th></tr></thead><tbody>
${agents}
</tbody></table>
</body></html>
`;
}
