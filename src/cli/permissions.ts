/**
 * `graphwarden permissions AGENT`: what an agent can do right now according to the saved directory
 * snapshot, with the assignment, grant, role, group or ownership behind each power.
 */
import { parseArgs } from 'node:util';
import { DIRECTORY_CLI_OPTIONS, DIRECTORY_CLI_USAGE, directoryConfigFromArgs } from '../directory/cli-options.js';
import { createDirectoryView } from '../directory/effective.js';
import { loadReferenceData } from '../directory/reference.js';
import { loadSnapshot } from '../directory/snapshot.js';
import type { EffectivePermissions } from '../directory/view.js';
import type { Principal } from '../identity/principal.js';

export const usage = `Usage: graphwarden permissions AGENT [--user USER] [--at ISO-TIME] [--json] [--state-dir DIR | --config FILE]

AGENT is an appId, a service principal object id or a display name. Without --user the agent's
app-only power is shown; with --user (object id or userPrincipalName) its delegated power for that user.

${DIRECTORY_CLI_USAGE}
  --user USER                 delegated: the signed-in user
  --at ISO-TIME               evaluate PIM windows at this time instead of now
  --json                      machine-readable output`;

function toJson(e: EffectivePermissions): unknown {
  return {
    subject: e.subject,
    disabled: e.disabled ?? false,
    graph: [...e.graph.values()],
    withheld: e.withheld ?? [],
    activeRoles: e.activeRoles,
    eligibleRoles: e.eligibleRoles,
    owns: [...e.owns],
    capabilities: e.capabilities ?? [],
  };
}

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { ...DIRECTORY_CLI_OPTIONS, user: { type: 'string' }, at: { type: 'string' }, json: { type: 'boolean' } },
    allowPositionals: true,
  });
  const agentKey = positionals.join(' ').trim();
  if (!agentKey) {
    console.error(usage);
    return 2;
  }
  const cfg = await directoryConfigFromArgs(values);
  const snap = await loadSnapshot(cfg.stateDir);
  if (!snap) {
    console.error(`graphwarden permissions: no directory snapshot in ${cfg.stateDir}; run 'graphwarden sync' first`);
    return 1;
  }
  const at = values.at ? Date.parse(values.at) : Date.now();
  if (Number.isNaN(at)) {
    console.error('graphwarden permissions: --at is not a valid time');
    return 2;
  }
  const view = createDirectoryView(snap, { refs: loadReferenceData(), now: () => at });
  const tenantIds = values.tenant ? [values.tenant] : [...snap.tenants.values()].map((t) => t.data.tenantId);
  const matches = tenantIds.flatMap((tid) => {
    const sp = view.findServicePrincipal(tid, agentKey);
    return sp ? [{ tid, sp }] : [];
  });
  if (matches.length === 0) {
    console.error(`graphwarden permissions: no service principal matches '${agentKey}' in the snapshot (an agent unknown to the directory)`);
    return 1;
  }
  const out: unknown[] = [];
  for (const { tid, sp } of matches) {
    let principal: Principal = { kind: 'app', tenantId: tid, appId: sp.appId, servicePrincipalId: sp.id, roles: [], scopes: [], wids: [], tokenId: 'cli', clientAuth: 'unknown', tokenVersion: '1.0', issuedAt: 0, expiresAt: 0 };
    if (values.user) {
      const t = snap.tenants.get(tid.toLowerCase());
      const key = values.user.toLowerCase();
      const user = t?.users.get(values.user) ?? t?.data.users.find((u) => u.userPrincipalName?.toLowerCase() === key);
      if (!user) {
        console.error(`graphwarden permissions: no user '${values.user}' in tenant ${tid}`);
        return 1;
      }
      principal = { ...principal, kind: 'delegated', userId: user.id };
      delete principal.servicePrincipalId;
    }
    const e = view.effectiveAt(principal, at);
    const agent = view.agent(tid, sp.appId);
    if (!e) {
      console.error(`graphwarden permissions: no effective permissions for '${agentKey}'`);
      return 1;
    }
    if (values.json) {
      out.push({ tenantId: tid, agent, at: new Date(at).toISOString(), snapshotId: snap.id, effective: toJson(e) });
      continue;
    }
    console.log(`${agent?.displayName ?? sp.appId}  appId ${sp.appId}  SP ${sp.id}  tenant ${tid}`);
    if (principal.kind === 'delegated') console.log(`delegated, signed-in user ${e.subject?.displayName ?? ''} (${e.subject?.id ?? ''})`);
    console.log(`as of ${new Date(at).toISOString()}, snapshot ${snap.id.slice(0, 16)} taken ${snap.takenAt}`);
    if (agent?.owners.length) console.log(`owners: ${agent.owners.map((o) => o.displayName ?? o.id).join(', ')}`);
    if (e.disabled) console.log('DISABLED in the directory: holds nothing');
    console.log(`\nGraph ${principal.kind === 'app' ? 'application permissions' : 'delegated scopes'} (${e.graph.size}):`);
    for (const p of e.graph.values()) {
      console.log(`  ${p.permission}${p.limitedTo ? `  (only on ${p.limitedTo.length} objects: ${p.limitedTo.join(', ')})` : ''}`);
      for (const v of p.via) console.log(`      ← ${v.description} [${v.kind} ${v.id}]`);
    }
    if (e.withheld?.length) {
      console.log('\nGranted but not usable by this user (no role backs them):');
      for (const w of e.withheld) console.log(`  ${w.permission}  ← ${w.via.map((v) => v.description).join('; ')}`);
    }
    console.log(`\nActive directory roles (${e.activeRoles.length}):`);
    for (const r of e.activeRoles) {
      console.log(`  ${r.displayName}${r.privileged ? ' [privileged]' : ''} on ${r.directoryScopeId}${r.endDateTime ? ` until ${r.endDateTime}` : ' (permanent)'}`);
      for (const v of r.via) console.log(`      ← ${v.description} [${v.kind} ${v.id}]`);
    }
    if (e.eligibleRoles.length) {
      console.log(`\nEligible (PIM, latent) roles (${e.eligibleRoles.length}):`);
      for (const r of e.eligibleRoles) console.log(`  ${r.displayName}${r.privileged ? ' [privileged]' : ''} on ${r.directoryScopeId}${r.endDateTime ? ` until ${r.endDateTime}` : ''}`);
    }
    const caps = (e.capabilities ?? []).filter((c) => c.action !== 'graph-permission');
    if (caps.length) {
      console.log('\nWhat on which resources:');
      for (const c of caps) {
        console.log(`  ${c.latent ? '(latent) ' : ''}${c.description} [${c.tier}]${Array.isArray(c.resources) && c.resources.length <= 10 ? `: ${c.resources.join(', ')}` : ''}`);
        for (const v of c.via.slice(0, 5)) console.log(`      ← ${v.description}`);
        if (c.via.length > 5) console.log(`      ← … ${c.via.length - 5} more`);
      }
    }
    console.log('');
  }
  if (values.json) console.log(JSON.stringify(out.length === 1 ? out[0] : out, null, 2));
  return 0;
}
