/**
 * `graphwarden report`: the directory posture report from the saved snapshot, as text, JSON or a
 * self-contained HTML page.
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { DIRECTORY_CLI_OPTIONS, DIRECTORY_CLI_USAGE, directoryConfigFromArgs } from '../directory/cli-options.js';
import { loadReferenceData } from '../directory/reference.js';
import { buildReport, renderReportHtml, renderReportText } from '../directory/report.js';
import { loadSnapshot } from '../directory/snapshot.js';

export const usage = `Usage: graphwarden report [--format text|json|html] [--out FILE] [--state-dir DIR | --config FILE]

Posture of the directory snapshot: privileged role hygiene (permanent vs PIM, privileged roles held
by service principals, guests with roles, too many Global Administrators), apps and service principals
without owners, expired / expiring / long-lived secrets and certificates, agents holding control-plane
permissions, multi-tenant apps with high privileges.

${DIRECTORY_CLI_USAGE}
  --format FORMAT             text (default), json or html
  --out FILE                  write to FILE instead of standard output`;

export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { ...DIRECTORY_CLI_OPTIONS, format: { type: 'string', default: 'text' }, out: { type: 'string' } }, allowPositionals: false });
  const format = values.format ?? 'text';
  if (!['text', 'json', 'html'].includes(format)) {
    console.error(`graphwarden report: unknown --format '${format}' (text, json or html)`);
    return 2;
  }
  const cfg = await directoryConfigFromArgs(values);
  const snap = await loadSnapshot(cfg.stateDir);
  if (!snap) {
    console.error(`graphwarden report: no directory snapshot in ${cfg.stateDir}; run 'graphwarden sync' first`);
    return 1;
  }
  const report = buildReport(snap, {
    now: Date.now(),
    refs: loadReferenceData(),
    expiringWithinDays: cfg.expiringWithinDays,
    longLivedDays: cfg.longLivedDays,
    maxGlobalAdmins: cfg.maxGlobalAdmins,
  });
  const text = format === 'json' ? JSON.stringify(report, null, 2) + '\n' : format === 'html' ? renderReportHtml(report) : renderReportText(report);
  if (values.out) {
    await writeFile(values.out, text);
    console.error(`report written to ${values.out}`);
  } else {
    process.stdout.write(text);
  }
  return 0;
}
