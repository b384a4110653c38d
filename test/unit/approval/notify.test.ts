import { createServer as createHttpsServer } from 'node:https';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { createApproval } from '../../../src/approval/model.js';
import { createNotifier, formatNotice, type ApprovalNotice } from '../../../src/approval/notify.js';
import type { ApprovalMetricEvent } from '../../../src/approval/ports.js';
import { testPki } from '../../support/pki.js';
import { T0, holdRequest } from './helpers.js';

interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
}

function notice(event: ApprovalNotice['event'] = 'requested', narrative?: string): ApprovalNotice {
  const h = holdRequest('d1');
  const approval = createApproval({ id: 'apr_00000000-0000-0000-0000-000000000001', keyParts: h.key, decisionId: 'd1', summary: { agent: h.agent, principal: h.principal, operation: h.operation, narrative: narrative ?? h.narrative } }, T0, 60_000);
  return { event, approval };
}

/** A webhook receiver that answers with the given statuses in turn (then 200). */
async function receiver(statuses: number[] = [], tls = false): Promise<{ server: Server; url: string; got: Received[]; next(): Promise<Received> }> {
  const got: Received[] = [];
  const waiting: Array<(r: Received) => void> = [];
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    let data = '';
    req.on('data', (c: Buffer) => (data += c.toString()));
    req.on('end', () => {
      res.statusCode = statuses.shift() ?? 200;
      res.end();
      const r = { path: req.url ?? '', headers: req.headers, body: JSON.parse(data) as Record<string, unknown> };
      got.push(r);
      waiting.shift()?.(r);
    });
  };
  const pki = testPki();
  const server = tls ? createHttpsServer({ key: pki.server.keyPem, cert: pki.server.certPem }, handler) : createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    got,
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}/hook/secret-part`,
    next: () => new Promise<Received>((r) => waiting.push(r)),
  };
}

describe('approval notifications', () => {
  const servers: Server[] = [];
  afterEach(() => {
    for (const s of servers.splice(0)) s.close();
  });

  it('posts the narrative as JSON, a Teams Adaptive Card and Slack blocks', async () => {
    const json = await receiver();
    const teams = await receiver([], true);
    const slack = await receiver();
    servers.push(json.server, teams.server, slack.server);
    const metrics: ApprovalMetricEvent[] = [];
    const n = createNotifier({
      config: {
        targets: [
          { name: 'soc', url: json.url, format: 'json', headers: { 'x-signature': 'abc' } },
          { name: 'teams', url: teams.url, format: 'teams' },
          { name: 'slack', url: slack.url, format: 'slack' },
        ],
        adminUrl: 'https://gw.example:9443/',
      },
      clock: () => T0,
      metric: (e) => void metrics.push(e),
    });
    n.notify(notice());
    await n.idle();
    const j = json.got[0]!;
    expect(j.headers['content-type']).toBe('application/json');
    expect(j.headers['x-signature']).toBe('abc');
    expect(j.body).toMatchObject({
      type: 'graphwarden.approval.requested',
      narrative: expect.stringContaining('Global Administrator'),
      approval: { id: 'apr_00000000-0000-0000-0000-000000000001', state: 'pending', operation: { canonicalUrl: '/v1.0/roleManagement/directory/roleAssignments' } },
      link: 'https://gw.example:9443/api/v1/approvals/apr_00000000-0000-0000-0000-000000000001',
    });

    const t = teams.got[0]!.body as { type: string; attachments: Array<{ contentType: string; content: { type: string; version: string; body: Array<Record<string, unknown>> } }> };
    expect(t.type).toBe('message');
    expect(t.attachments[0]!.contentType).toBe('application/vnd.microsoft.card.adaptive');
    expect(t.attachments[0]!.content.type).toBe('AdaptiveCard');
    expect(t.attachments[0]!.content.body.some((b) => b.type === 'FactSet')).toBe(true);
    expect(JSON.stringify(t)).toContain('Global Administrator');

    const s = slack.got[0]!.body as { text: string; blocks: Array<{ type: string; text?: { type: string; text: string } }> };
    expect(s.text).toContain('Approval requested');
    expect(s.blocks[0]).toMatchObject({ type: 'header', text: { type: 'plain_text' } });
    expect(s.blocks.some((b) => b.type === 'section' && b.text?.text.includes('Global Administrator'))).toBe(true);
    expect(metrics.filter((m) => m.type === 'notify-sent')).toHaveLength(3);
  });

  it('respects Slack limits and escapes its control characters', () => {
    const body = formatNotice('slack', notice('expiring', `<!channel> & ${'x'.repeat(5000)}`), T0) as { blocks: Array<{ type: string; text?: { text: string } }> };
    const section = body.blocks.find((b) => b.type === 'section' && b.text)!;
    expect(section.text!.text.length).toBeLessThanOrEqual(3000);
    expect(section.text!.text.startsWith('&lt;!channel&gt; &amp; ')).toBe(true);
    expect((body.blocks[0]!.text as { text: string }).text.length).toBeLessThanOrEqual(150);
  });

  it('retries with exponential backoff, then reports a failure without the URL', async () => {
    const flaky = await receiver([503, 500]);
    const dead = await receiver([500, 500, 500]);
    const bad = await receiver([400]);
    servers.push(flaky.server, dead.server, bad.server);
    const delays: number[] = [];
    const metrics: ApprovalMetricEvent[] = [];
    const n = createNotifier({
      config: {
        targets: [
          { name: 'flaky', url: flaky.url, format: 'json' },
          { name: 'dead', url: dead.url, format: 'json' },
          { name: 'bad', url: bad.url, format: 'json' },
        ],
        maxAttempts: 3,
        backoffMs: 100,
      },
      clock: () => T0,
      metric: (e) => void metrics.push(e),
      sleep: (ms) => {
        delays.push(ms);
        return Promise.resolve();
      },
    });
    n.notify(notice('expired'));
    await n.idle();
    expect(flaky.got).toHaveLength(3);
    expect(dead.got).toHaveLength(3);
    expect(bad.got).toHaveLength(1);
    expect(delays.sort((a, b) => a - b)).toEqual([100, 100, 200, 200]);
    expect(metrics).toContainEqual({ type: 'notify-sent', target: 'flaky', attempts: 3 });
    expect(metrics).toContainEqual({ type: 'notify-failed', target: 'dead', attempts: 3, error: 'HTTP 500' });
    expect(metrics).toContainEqual({ type: 'notify-failed', target: 'bad', attempts: 1, error: 'HTTP 400' });
    expect(JSON.stringify(metrics)).not.toContain('secret-part');
  });

  it('an unreachable webhook never blocks: notify returns at once and the failure is an event', async () => {
    const gone = await receiver();
    const url = gone.url;
    gone.server.close();
    await once(gone.server, 'close');
    const metrics: ApprovalMetricEvent[] = [];
    const n = createNotifier({ config: { targets: [{ name: 'gone', url, format: 'teams' }], maxAttempts: 2, backoffMs: 1 }, clock: () => T0, metric: (e) => void metrics.push(e), sleep: () => Promise.resolve() });
    const before = metrics.length;
    n.notify(notice());
    expect(metrics.length).toBe(before);
    await n.idle();
    expect(metrics).toEqual([{ type: 'notify-failed', target: 'gone', attempts: 2, error: 'ECONNREFUSED' }]);
  });

  it('filters events per target', async () => {
    const r = await receiver();
    servers.push(r.server);
    const n = createNotifier({ config: { targets: [{ name: 'r', url: r.url, format: 'json', events: ['expiring'] }] }, clock: () => T0 });
    n.notify(notice('requested'));
    n.notify(notice('expiring'));
    await n.idle();
    expect(r.got.map((g) => g.body.type)).toEqual(['graphwarden.approval.expiring']);
  });
});
