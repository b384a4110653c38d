import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApprovalModule, tokenDigest, type ApprovalModule } from '../../../src/approval/index.js';
import { AGENT_APP, AGENT_SP, holdRequest, manualTimers, recorder, tempDir } from './helpers.js';

const TOKENS = { alice: 'alice-token-0123456789abcdef', bob: 'bob-token-0123456789abcdef', bot: 'ops-bot-token-0123456789abcdef', robot: 'robot-token-0123456789abcdef' };

describe('approvals admin API over loopback HTTP', () => {
  let tmp: ReturnType<typeof tempDir>;
  let mod: ApprovalModule;
  let server: Server;
  let base: string;
  let rec: ReturnType<typeof recorder>;

  beforeEach(async () => {
    tmp = tempDir();
    rec = recorder();
    mod = createApprovalModule(
      {
        stateDir: tmp.dir,
        approvers: [
          { name: 'alice', ids: ['aaaaaaaa-0000-0000-0000-000000000001'], tokenSha256: tokenDigest(TOKENS.alice) },
          { name: 'bob', ids: [], tokenSha256: tokenDigest(TOKENS.bob) },
          // The agent's own service principal was (wrongly) made an approver: it still cannot approve itself.
          { name: 'ops-bot', ids: [AGENT_SP, AGENT_APP], tokenSha256: tokenDigest(TOKENS.bot) },
          { name: 'robot', ids: [], automation: true, tokenSha256: tokenDigest(TOKENS.robot) },
        ],
        adminMaxBodyBytes: 1024,
      },
      {
        audit: rec.audit,
        metric: rec.metric,
        timers: manualTimers(),
        // Stands in for the admin listener's verified client certificate.
        authenticate: (req) => (req.headers['x-test-client-cert'] === 'CN=carol' ? { name: 'carol', ids: [] } : null),
      },
    );
    mod.start();
    server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      void mod.adminApi(req, res, url).then((handled) => {
        if (!handled) {
          res.statusCode = 418;
          res.end();
        }
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterEach(async () => {
    server.close();
    await mod.stop();
    tmp.cleanup();
  });

  async function call(method: 'GET' | 'POST' | 'DELETE', path: string, opts: { token?: string; body?: unknown; headers?: Record<string, string>; raw?: string } = {}) {
    const res = await request(base + path, {
      method,
      headers: {
        ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
        ...(opts.body !== undefined || opts.raw !== undefined ? { 'content-type': 'application/json' } : {}),
        ...opts.headers,
      },
      ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : opts.raw !== undefined ? { body: opts.raw } : {}),
    });
    const text = await res.body.text();
    return { status: res.statusCode, headers: res.headers, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  }

  const heldId = (): string => mod.approvals.list({ state: 'pending' })[0]!.id;

  it('requires authentication and answers with a consistent JSON error', async () => {
    for (const token of [undefined, 'wrong-token-0123456789abcdef', TOKENS.alice + 'x']) {
      const r = await call('GET', '/api/v1/approvals', token ? { token } : {});
      expect(r.status).toBe(401);
      expect(r.headers['www-authenticate']).toBe('Bearer');
      expect(r.json).toEqual({ error: { code: 'unauthenticated', message: expect.any(String) } });
    }
    expect((await call('GET', '/api/v1/approvals', { token: TOKENS.alice })).status).toBe(200);
    expect((await call('GET', '/api/v1/approvals', { headers: { 'x-test-client-cert': 'CN=carol' } })).status).toBe(200);
    expect((await call('GET', '/api/v1/other', { token: TOKENS.alice })).status).toBe(418);
  });

  it('lists, shows and approves a held call, releasing it with the approver and justification recorded', async () => {
    const held = mod.approvals.hold(holdRequest('d1'), new AbortController().signal);
    const id = heldId();
    const list = await call('GET', '/api/v1/approvals?state=pending', { token: TOKENS.bob });
    expect(list.json.approvals).toEqual([expect.objectContaining({ id, state: 'pending', waiting: 1, narrative: expect.stringContaining('Global Administrator') })]);
    expect((await call('GET', `/api/v1/approvals/${id}`, { token: TOKENS.bob })).json).toMatchObject({ id, agent: { appId: AGENT_APP } });
    expect((await call('GET', '/api/v1/approvals?state=bogus', { token: TOKENS.bob })).status).toBe(400);

    expect((await call('POST', `/api/v1/approvals/${id}/approve`, { token: TOKENS.alice, body: {} })).json).toMatchObject({ error: { code: 'justification-required' } });
    const ok = await call('POST', `/api/v1/approvals/${id}/approve`, { token: TOKENS.alice, body: { justification: 'CHG-1001', uses: 2, validForSec: 600 } });
    expect(ok.status).toBe(200);
    expect(ok.json).toMatchObject({ state: 'approved', decidedBy: 'alice', justification: 'CHG-1001', released: 1, usesCount: 1 });
    expect(await held).toEqual({ kind: 'approved', approvalId: id });
    expect(rec.events.find((e) => e.action === 'approved')).toMatchObject({ approvalId: id, actor: 'alice', justification: 'CHG-1001' });
    expect((await call('POST', `/api/v1/approvals/${id}/deny`, { token: TOKENS.bob, body: { justification: 'late' } })).status).toBe(409);
  });

  it('refuses self-approval and automation approvers, then a human denial reaches the agent', async () => {
    const held = mod.approvals.hold(holdRequest('d1'), new AbortController().signal);
    const id = heldId();
    const self = await call('POST', `/api/v1/approvals/${id}/approve`, { token: TOKENS.bot, body: { justification: 'I am sure' } });
    expect(self.status).toBe(403);
    expect(self.json).toMatchObject({ error: { code: 'self-approval' } });
    const auto = await call('POST', `/api/v1/approvals/${id}/approve`, { token: TOKENS.robot, body: { justification: 'auto' } });
    expect(auto.json).toMatchObject({ error: { code: 'automation-approver' } });
    expect(mod.approvals.get(id)!.state).toBe('pending');
    const denied = await call('POST', `/api/v1/approvals/${id}/deny`, { headers: { 'x-test-client-cert': 'CN=carol' }, body: { justification: 'no ticket' } });
    expect(denied.json).toMatchObject({ state: 'denied', decidedBy: 'carol' });
    expect(await held).toEqual({ kind: 'denied', approvalId: id, by: 'carol', justification: 'no ticket' });
  });

  it('validates bodies: size limit, media type, JSON, unknown fields, ids', async () => {
    void mod.approvals.hold(holdRequest('d1'), new AbortController().signal);
    const id = heldId();
    const big = await call('POST', `/api/v1/approvals/${id}/approve`, { token: TOKENS.alice, body: { justification: 'x'.repeat(2000) } });
    expect(big.status).toBe(413);
    expect((await call('POST', `/api/v1/approvals/${id}/approve`, { token: TOKENS.alice, raw: '{nope' })).json).toMatchObject({ error: { code: 'invalid-json' } });
    expect((await call('POST', `/api/v1/approvals/${id}/approve`, { token: TOKENS.alice, body: { justification: 'x', admin: true } })).json).toMatchObject({ error: { code: 'unknown-field' } });
    const plain = await request(`${base}/api/v1/approvals/${id}/approve`, { method: 'POST', headers: { authorization: `Bearer ${TOKENS.alice}`, 'content-type': 'text/plain' }, body: 'justification=x' });
    expect(plain.statusCode).toBe(415);
    await plain.body.dump();
    expect((await call('GET', '/api/v1/approvals/apr_../../etc', { token: TOKENS.alice })).status).toBe(404);
    expect((await call('DELETE', `/api/v1/approvals/${id}`, { token: TOKENS.alice })).status).toBe(405);
    expect(mod.approvals.get(id)!.state).toBe('pending');
    mod.approvals.close();
  });

  it('break-glass overrides need two approvers through the API; revocation is audited', async () => {
    const created = await call('POST', '/api/v1/overrides', { token: TOKENS.alice, body: { agent: AGENT_APP, operations: [{ ruleId: 'approve-role-assignments' }], forSec: 3600, justification: 'INC-77 outage', breakGlass: true } });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ state: 'awaiting-second-approver', approvedBy: ['alice'], breakGlass: true });
    const id = created.json.id as string;
    expect(mod.overrides.activeOverridesFor(AGENT_APP, ['approve-role-assignments'], undefined, Date.now())).toHaveLength(0);
    expect((await call('POST', `/api/v1/overrides/${id}/approve`, { token: TOKENS.alice })).json).toMatchObject({ error: { code: 'same-approver' } });
    expect((await call('POST', `/api/v1/overrides/${id}/approve`, { token: TOKENS.robot })).json).toMatchObject({ error: { code: 'automation-approver' } });
    expect((await call('POST', `/api/v1/overrides/${id}/approve`, { token: TOKENS.bot })).json).toMatchObject({ error: { code: 'self-override' } });
    const second = await call('POST', `/api/v1/overrides/${id}/approve`, { token: TOKENS.bob });
    expect(second.json).toMatchObject({ state: 'active', approvedBy: ['alice', 'bob'] });
    expect(mod.overrides.activeOverridesFor(AGENT_APP, ['approve-role-assignments'], undefined, Date.now())).toHaveLength(1);
    expect((await call('GET', '/api/v1/overrides?state=active', { token: TOKENS.bob })).json.overrides).toHaveLength(1);

    expect((await call('DELETE', `/api/v1/overrides/${id}`, { token: TOKENS.bob })).json).toMatchObject({ error: { code: 'justification-required' } });
    expect((await call('DELETE', `/api/v1/overrides/${id}`, { token: TOKENS.bob, body: { justification: 'resolved' } })).json).toMatchObject({ state: 'revoked', revokedBy: 'bob' });
    expect(mod.overrides.activeOverridesFor(AGENT_APP, ['approve-role-assignments'], undefined, Date.now())).toHaveLength(0);
    expect(rec.events.filter((e) => e.approvalId === id).map((e) => e.action)).toEqual(['override-created', 'override-approved', 'override-activated', 'override-revoked']);
  });

  it('two approvers racing: exactly one decision wins, the other gets 409', async () => {
    const held = mod.approvals.hold(holdRequest('d1'), new AbortController().signal);
    const id = heldId();
    const [a, b] = await Promise.all([
      call('POST', `/api/v1/approvals/${id}/approve`, { token: TOKENS.alice, body: { justification: 'yes' } }),
      call('POST', `/api/v1/approvals/${id}/deny`, { token: TOKENS.bob, body: { justification: 'no' } }),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 409]);
    const winner = a.status === 200 ? 'approved' : 'denied';
    expect((await held).kind).toBe(winner);
    expect(mod.approvals.get(id)!.decidedBy).toBe(winner === 'approved' ? 'alice' : 'bob');
    expect(rec.events.filter((e) => e.action === 'approved' || e.action === 'denied')).toHaveLength(1);
  });

  it('an agent cannot grant itself an override', async () => {
    const r = await call('POST', '/api/v1/overrides', { token: TOKENS.bot, body: { agent: AGENT_APP, operations: [{ template: 'POST /users' }], until: new Date(Date.now() + 60_000).toISOString(), justification: 'me' } });
    expect(r.status).toBe(403);
    expect(r.json).toMatchObject({ error: { code: 'self-override' } });
  });
});
