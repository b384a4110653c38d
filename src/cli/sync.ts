/**
 * `graphwarden sync`: reads every configured tenant through Graph once, saves the snapshot and the
 * drift since the previous one, and prints a summary. Progress bar on a terminal, JSON lines otherwise.
 */
import { parseArgs } from 'node:util';
import { createDirectory, type DirectoryEvent } from '../directory/index.js';
import { DIRECTORY_CLI_OPTIONS, DIRECTORY_CLI_USAGE, directoryConfigFromArgs } from '../directory/cli-options.js';

export const usage = `Usage: graphwarden sync [--config FILE | --tenant GUID --client-id GUID (--client-secret-env VAR | --certificate FILE)] [--json]

Reads each tenant (users, groups and memberships, applications, service principals, owners,
app role assignments, delegated grants, role definitions and assignments, PIM schedules, Agent ID
objects), builds the directory snapshot in the state directory and records drift.

${DIRECTORY_CLI_USAGE}
  --full                      ignore delta tokens and re-read everything
  --json                      print the summary as JSON`;

export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { ...DIRECTORY_CLI_OPTIONS, json: { type: 'boolean' }, full: { type: 'boolean' } }, allowPositionals: false });
  const cfg = await directoryConfigFromArgs(values);
  if (cfg.tenants.length === 0) {
    console.error('graphwarden sync: no tenants configured (use --config FILE or --tenant/--client-id)');
    return 2;
  }
  const tty = process.stderr.isTTY;
  const counts = new Map<string, { stage: string; count: number }>();
  const draw = (): void => {
    const parts = [...counts.entries()].map(([t, c]) => `${t.slice(0, 8)} ${c.stage} ${c.count}`);
    process.stderr.write(`\r\x1b[2K⟳ ${parts.join(' | ')}`.slice(0, (process.stderr.columns || 100) + 8));
  };
  const onEvent = (e: DirectoryEvent): void => {
    if (tty) {
      if (e.type === 'sync-progress') {
        counts.set(e.tenantId, { stage: e.stage, count: e.count });
        draw();
      } else if (e.type === 'sync-failed' || e.type === 'sync-finished') {
        process.stderr.write('\r\x1b[2K');
      }
      return;
    }
    // Structured log lines for pipes and CI; errors carry messages, never credentials.
    if (e.type !== 'sync-progress' || e.count % 500 === 0) console.error(JSON.stringify({ time: new Date().toISOString(), ...e }));
  };
  const directory = createDirectory({
    stateDir: cfg.stateDir,
    tenants: cfg.tenants,
    concurrency: cfg.concurrency,
    maxRetries: cfg.maxRetries,
    requestTimeoutMs: cfg.requestTimeoutMs,
    delta: cfg.delta,
    pim: cfg.pim,
    agentIdentities: cfg.agentIdentities,
    expiringWithinDays: cfg.expiringWithinDays,
    ...(values.full ? { fullSyncIntervalMs: 0 } : { fullSyncIntervalMs: cfg.fullSyncIntervalMs }),
    events: onEvent,
  });
  try {
    await directory.start().catch(() => undefined);
    const summary = await directory.syncNow();
    if (tty) process.stderr.write('\r\x1b[2K');
    if (values.json) {
      console.log(JSON.stringify(summary, null, 2));
    } else {
      for (const t of summary.tenants) {
        console.log(`${t.ok ? '✓' : '✗'} tenant ${t.tenantId}: ${t.ok ? `${t.mode} sync, ${t.objects} objects in ${(t.durationMs / 1000).toFixed(1)} s` : `failed: ${t.error ?? 'unknown error'} (previous data kept)`}`);
        for (const w of t.warnings) console.log(`  warning: ${w}`);
      }
      if (summary.snapshotId) console.log(`snapshot ${summary.snapshotId.slice(0, 16)} saved in ${cfg.stateDir} (${summary.driftEvents} drift events)`);
      else console.log('no new snapshot: the previous one stays in use');
    }
    return summary.ok ? 0 : 1;
  } finally {
    await directory.close();
  }
}
