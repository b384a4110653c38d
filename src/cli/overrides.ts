/** `graphwarden overrides`: list, create, second-approve and revoke governed overrides through the admin API. */
import { parseArgs } from 'node:util';
import { adminRequest, parseDuration, reportAdminResponse, withAdminTarget, type AdminResponse, type AdminTarget } from '../approval/admin-client.js';

export const usage = `Usage: graphwarden overrides <list|create|approve|revoke> [options]

  list [--state active|awaiting-second-approver|revoked|expired] [--json]
  create --agent APPID (--rule RULE_ID | --template TEMPLATE)... (--until ISO8601 | --for DURATION)
         --justification TEXT [--break-glass]
  approve ID          second approver of a break-glass override
  revoke ID --justification TEXT

Common options:
  --admin-url URL     admin API base (default $GRAPHWARDEN_ADMIN_URL or https://127.0.0.1:9443)
  --token-file FILE   file holding your approver bearer token (default $GRAPHWARDEN_ADMIN_TOKEN_FILE)

DURATION is 90s, 15m, 2h or 1d. Exit status: 0 done, 1 refused or failed, 2 usage error.`;

interface OverrideJson {
  id: string;
  agent: string;
  state: string;
  until: string;
  breakGlass: boolean;
  approvedBy: string[];
  justification: string;
  operations: Array<{ ruleId?: string; template?: string }>;
}

function line(o: OverrideJson): string {
  const ops = o.operations.map((op) => (op.ruleId ? `rule:${op.ruleId}` : `template:${op.template ?? ''}`)).join(',');
  return `${o.id}  ${o.state}${o.breakGlass ? ' (break-glass)' : ''}  agent ${o.agent}  ${ops}  until ${o.until}  approved by ${o.approvedBy.join(', ')}`;
}

function report(r: AdminResponse, ok: (json: Record<string, unknown>) => void): number {
  return reportAdminResponse('overrides', r, ok, (line) => console.error(line));
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
        agent: { type: 'string' },
        rule: { type: 'string', multiple: true },
        template: { type: 'string', multiple: true },
        until: { type: 'string' },
        for: { type: 'string' },
        justification: { type: 'string' },
        'break-glass': { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
      },
    });
  } catch (err) {
    console.error(`graphwarden overrides: ${(err as Error).message}\n\n${usage}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [verb, id, ...extra] = positionals;
  const needsId = verb === 'approve' || verb === 'revoke';
  if (!verb || !['list', 'create', 'approve', 'revoke'].includes(verb) || (needsId && !id) || (!needsId && id) || extra.length) {
    console.error(usage);
    return 2;
  }
  const fail = (msg: string): number => {
    console.error(`graphwarden overrides: ${msg}`);
    return 2;
  };
  if ((verb === 'create' || verb === 'revoke') && !values.justification?.trim()) return fail('--justification TEXT is required');

  let body: Record<string, unknown> | undefined;
  if (verb === 'create') {
    if (!values.agent) return fail('--agent APPID is required');
    const operations = [...(values.rule ?? []).map((ruleId) => ({ ruleId })), ...(values.template ?? []).map((template) => ({ template }))];
    if (!operations.length) return fail('give at least one --rule or --template');
    if ((values.until === undefined) === (values.for === undefined)) return fail('give exactly one of --until or --for');
    body = { agent: values.agent, operations, justification: values.justification, ...(values['break-glass'] ? { breakGlass: true } : {}) };
    if (values.until !== undefined) {
      if (Number.isNaN(Date.parse(values.until))) return fail(`--until is not a date: ${values.until}`);
      body.until = new Date(values.until).toISOString();
    } else {
      try {
        body.forSec = parseDuration(values.for!);
      } catch (err) {
        return fail((err as Error).message);
      }
    }
  }

  return withAdminTarget('overrides', values, send, (line) => console.error(line));
  async function send(target: AdminTarget): Promise<number> {
    switch (verb) {
      case 'list': {
        const r = await adminRequest(target, 'GET', `/api/v1/overrides${values.state ? `?state=${encodeURIComponent(values.state)}` : ''}`);
        return report(r, (json) => {
          const list = json.overrides as OverrideJson[];
          if (values.json) return console.log(JSON.stringify(list, null, 2));
          console.log(list.length ? list.map(line).join('\n') : 'no overrides');
        });
      }
      case 'create': {
        const r = await adminRequest(target, 'POST', '/api/v1/overrides', body);
        return report(r, (json) => {
          const o = json as unknown as OverrideJson;
          console.log(values.json ? JSON.stringify(o, null, 2) : line(o));
          if (o.state === 'awaiting-second-approver') console.log(`break-glass: a second approver must run: graphwarden overrides approve ${o.id}`);
        });
      }
      case 'approve': {
        const r = await adminRequest(target, 'POST', `/api/v1/overrides/${encodeURIComponent(id!)}/approve`);
        return report(r, (json) => console.log(values.json ? JSON.stringify(json, null, 2) : line(json as unknown as OverrideJson)));
      }
      default: {
        const r = await adminRequest(target, 'DELETE', `/api/v1/overrides/${encodeURIComponent(id!)}`, { justification: values.justification });
        return report(r, (json) => console.log(values.json ? JSON.stringify(json, null, 2) : line(json as unknown as OverrideJson)));
      }
    }
  }
}
