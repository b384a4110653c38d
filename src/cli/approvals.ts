/** `graphwarden approvals`: list, show, approve and deny held calls through the admin API. */
import { parseArgs } from 'node:util';
import { adminRequest, parseDuration, reportAdminResponse, withAdminTarget, type AdminResponse, type AdminTarget } from '../approval/admin-client.js';

export const usage = `Usage: graphwarden approvals <list|show|approve|deny> [options]

  list [--state pending|approved|denied|expired|used] [--json]
  show ID [--json]
  approve ID --justification TEXT [--uses N | --reusable] [--valid-for DURATION]
  deny ID --justification TEXT

Common options:
  --admin-url URL     admin API base (default $GRAPHWARDEN_ADMIN_URL or https://127.0.0.1:9443)
  --token-file FILE   file holding your approver bearer token (default $GRAPHWARDEN_ADMIN_TOKEN_FILE)

Trust for the admin listener's certificate comes from the system store and NODE_EXTRA_CA_CERTS.
Exit status: 0 done, 1 refused or failed (the API's error code is printed), 2 usage error.`;

interface ApprovalJson {
  id: string;
  state: string;
  agent: { appId: string; displayName?: string };
  operation: { summary: string };
  request: { method: string; canonicalUrl: string };
  createdAt: string;
  expiresAt: string;
  waiting: number;
  decidedBy: string | null;
  justification: string | null;
  narrative: string;
  uses: number | string | null;
  usesCount: number;
  validUntil: string | null;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

function describe(a: ApprovalJson): string {
  return [
    `${a.id}  ${a.state}`,
    `  agent:      ${a.agent.displayName ? `${a.agent.displayName} (${a.agent.appId})` : a.agent.appId}`,
    `  operation:  ${a.operation.summary} — ${a.request.method} ${a.request.canonicalUrl}`,
    `  created:    ${a.createdAt}   expires: ${a.expiresAt}   waiting: ${a.waiting}`,
    ...(a.decidedBy ? [`  decided by: ${a.decidedBy} — ${a.justification ?? ''}`] : []),
    ...(a.uses !== null ? [`  uses:       ${a.usesCount}/${a.uses}   valid until: ${a.validUntil ?? '-'}`] : []),
    `  narrative:  ${a.narrative}`,
  ].join('\n');
}

function report(r: AdminResponse, ok: (json: Record<string, unknown>) => void): number {
  return reportAdminResponse('approvals', r, ok, (line) => console.error(line));
}

export async function run(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        'admin-url': { type: 'string' },
        'token-file': { type: 'string' },
        state: { type: 'string' },
        justification: { type: 'string' },
        uses: { type: 'string' },
        reusable: { type: 'boolean', default: false },
        'valid-for': { type: 'string' },
        json: { type: 'boolean', default: false },
      },
    });
  } catch (err) {
    console.error(`graphwarden approvals: ${(err as Error).message}\n\n${usage}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [verb, id, ...extra] = positionals;
  const needsId = verb === 'show' || verb === 'approve' || verb === 'deny';
  if (!verb || !['list', 'show', 'approve', 'deny'].includes(verb) || (needsId && !id) || (!needsId && id) || extra.length) {
    console.error(usage);
    return 2;
  }
  if ((verb === 'approve' || verb === 'deny') && !values.justification?.trim()) {
    console.error('graphwarden approvals: --justification TEXT is required to approve or deny');
    return 2;
  }
  let uses: number | undefined;
  let validForSec: number | undefined;
  try {
    if (values.uses !== undefined) {
      uses = Number(values.uses);
      if (!Number.isInteger(uses) || uses < 1) throw new Error('--uses must be a positive integer');
      if (values.reusable) throw new Error('--uses and --reusable exclude each other');
    }
    if (values['valid-for'] !== undefined) validForSec = parseDuration(values['valid-for']);
  } catch (err) {
    console.error(`graphwarden approvals: ${(err as Error).message}`);
    return 2;
  }

  const path = (p: string) => `/api/v1/approvals${p}`;
  return withAdminTarget('approvals', values, send, (line) => console.error(line));
  async function send(target: AdminTarget): Promise<number> {
    switch (verb) {
      case 'list': {
        const r = await adminRequest(target, 'GET', path(values.state ? `?state=${encodeURIComponent(values.state)}` : ''));
        return report(r, (json) => {
          const list = json.approvals as ApprovalJson[];
          if (values.json) return console.log(JSON.stringify(list, null, 2));
          if (!list.length) return console.log('no approvals');
          console.log(table([['ID', 'STATE', 'AGENT', 'OPERATION', 'EXPIRES', 'WAITING'], ...list.map((a) => [a.id, a.state, a.agent.displayName ?? a.agent.appId, a.operation.summary, a.expiresAt, String(a.waiting)])]));
        });
      }
      case 'show': {
        const r = await adminRequest(target, 'GET', path(`/${encodeURIComponent(id!)}`));
        return report(r, (json) => console.log(values.json ? JSON.stringify(json, null, 2) : describe(json as unknown as ApprovalJson)));
      }
      default: {
        const body = {
          justification: values.justification!,
          ...(verb === 'approve' && uses !== undefined ? { uses } : {}),
          ...(verb === 'approve' && values.reusable ? { reusable: true } : {}),
          ...(verb === 'approve' && validForSec !== undefined ? { validForSec } : {}),
        };
        const r = await adminRequest(target, 'POST', path(`/${encodeURIComponent(id!)}/${verb}`), body);
        return report(r, (json) => {
          const a = json as unknown as ApprovalJson & { released: number };
          console.log(values.json ? JSON.stringify(json, null, 2) : `${a.id} ${verb === 'approve' ? 'approved' : 'denied'} by ${a.decidedBy ?? '?'} (now ${a.state}); released ${a.released} waiting call(s)`);
        });
      }
    }
  }
}
