/**
 * Holding calls for a human, end to end: the official Graph SDK is the agent, an approver acts
 * only through the documented admin API, and notifications arrive on a loopback webhook.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { startStack, type Stack } from '../support/stack.js';
import { appToken, graphClient } from '../support/agents.js';

const USER_READ_ALL = 'df021288-bdef-4463-88db-98f22de89214'; // Graph app role id (GraphAppRoles.json)

interface Notice { type: string; approval: { id: string; state: string; operation: { canonicalUrl: string } } }

/** A webhook receiver that hands out notifications as they arrive (no polling). */
async function startWebhook() {
  const queue: Notice[] = [];
  const waiters: Array<{ pred: (n: Notice) => boolean; resolve: (n: Notice) => void }> = [];
  const server = http.createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      res.end();
      const n = JSON.parse(text) as Notice;
      const w = waiters.findIndex((x) => x.pred(n));
      if (w >= 0) waiters.splice(w, 1)[0]!.resolve(n);
      else queue.push(n);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    next(pred: (n: Notice) => boolean): Promise<Notice> {
      const i = queue.findIndex(pred);
      if (i >= 0) return Promise.resolve(queue.splice(i, 1)[0]!);
      return new Promise((resolve) => waiters.push({ pred, resolve }));
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

const alice = randomBytes(24).toString('hex');
const selfApprover = randomBytes(24).toString('hex');
const sha = (t: string) => createHash('sha256').update(t).digest('hex');

async function admin(stack: Stack, token: string, method: 'GET' | 'POST', path: string, body?: unknown) {
  const res = await request(`${stack.adminUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
}

async function startApprovalStack(webhookUrl: string, waitSec: number): Promise<Stack> {
  let overprivilegedAppId = '';
  const stack = await startStack({
    emulator: { size: 200 },
    config: {
      approvals: {
        waitSec,
        retryAfterSec: 1,
        approvers: [
          { name: 'alice@contoso.example', tokenSha256: sha(alice) },
          // An approver whose identity is the agent itself: may never approve its own call.
          { name: 'overprivileged-agent-owner-bot', ids: ['PLACEHOLDER'], tokenSha256: sha(selfApprover) },
        ],
        notify: { backoffMs: 0, targets: [{ name: 'test-hook', url: webhookUrl, format: 'json', events: ['requested'] }] },
      },
    },
    beforeConfig: (emulator) => {
      overprivilegedAppId = emulator.tenants[0]!.agents['overprivileged-agent']!.appId;
    },
    mapConfig: (doc) => {
      const a = doc.approvals as { approvers: Array<{ ids?: string[] }> };
      a.approvers[1]!.ids = [overprivilegedAppId];
      return doc;
    },
  });
  return stack;
}

function grant(stack: Stack, principalKey: string) {
  const t = stack.emulator.tenants[0]!;
  return {
    url: `/servicePrincipals/${t.graphServicePrincipalId}/appRoleAssignedTo`,
    body: { principalId: t.agents[principalKey]!.servicePrincipalId, resourceId: t.graphServicePrincipalId, appRoleId: USER_READ_ALL },
  };
}

describe('approvals through graphwarden (held calls, official SDK agent)', () => {
  let hook: Awaited<ReturnType<typeof startWebhook>>;
  let stack: Stack;
  beforeAll(async () => {
    hook = await startWebhook();
    stack = await startApprovalStack(hook.url, 30);
  });
  afterAll(async () => {
    await stack?.close();
    await hook?.close();
  });

  it('holds an app role grant until a human approves it, then forwards it and the agent gets Graph’s answer', async () => {
    const client = graphClient(stack, appToken(stack, 'overprivileged-agent'));
    const g = grant(stack, 'mail-summarizer');
    stack.emulator.clearGraphRequests();
    const call = client.api(g.url).post(g.body);
    const notice = await hook.next((n) => n.type === 'graphwarden.approval.requested' && n.approval.operation.canonicalUrl.toLowerCase().includes('approleassignedto'));
    // Nothing reached Graph while the call was held.
    expect(stack.emulator.graphRequests().filter((r) => r.method === 'POST')).toHaveLength(0);
    const approved = await admin(stack, alice, 'POST', `/api/v1/approvals/${notice.approval.id}/approve`, { justification: 'CHG-1234: reporting agent needs directory read' });
    expect(approved.status).toBe(200);
    const result = (await call) as { appRoleId: string; principalId: string };
    expect(result.appRoleId).toBe(USER_READ_ALL);
    expect(stack.emulator.graphRequests().filter((r) => r.method === 'POST' && r.path.includes('appRoleAssignedTo'))).toHaveLength(1);
    const after = await admin(stack, alice, 'GET', `/api/v1/approvals/${notice.approval.id}`);
    expect(after.body).toMatchObject({ state: 'used' });
  });

  it('answers a denial with graphwarden’s 403, which the SDK does not retry', async () => {
    const client = graphClient(stack, appToken(stack, 'overprivileged-agent'));
    const g = grant(stack, 'cert-agent');
    const call = client.api(g.url).post(g.body).catch((e: unknown) => e);
    const notice = await hook.next((n) => n.type === 'graphwarden.approval.requested');
    const denied = await admin(stack, alice, 'POST', `/api/v1/approvals/${notice.approval.id}/deny`, { justification: 'not approved by the app owner' });
    expect(denied.status).toBe(200);
    const err = (await call) as { statusCode: number; code: string; message: string };
    expect(err).toMatchObject({ statusCode: 403, code: 'GraphwardenApprovalDenied' });
    expect(err.message).toContain('not approved by the app owner');
  });

  it('refuses an approver acting as the agent itself, and one without a valid token', async () => {
    const client = graphClient(stack, appToken(stack, 'overprivileged-agent'));
    const g = grant(stack, 'provisioning-bot');
    const call = client.api(g.url).post(g.body).catch((e: unknown) => e);
    const notice = await hook.next((n) => n.type === 'graphwarden.approval.requested');
    const self = await admin(stack, selfApprover, 'POST', `/api/v1/approvals/${notice.approval.id}/approve`, { justification: 'approving myself' });
    expect(self.status).toBe(403);
    const anon = await admin(stack, 'not-a-configured-token', 'POST', `/api/v1/approvals/${notice.approval.id}/approve`, { justification: 'x' });
    expect(anon.status).toBe(401);
    const still = await admin(stack, alice, 'GET', `/api/v1/approvals/${notice.approval.id}`);
    expect(still.body).toMatchObject({ state: 'pending' });
    await admin(stack, alice, 'POST', `/api/v1/approvals/${notice.approval.id}/deny`, { justification: 'cleanup' });
    expect(await call).toMatchObject({ statusCode: 403 });
  });

  it('shares one approval request between identical concurrent calls and releases them together', async () => {
    const client = graphClient(stack, appToken(stack, 'overprivileged-agent'));
    const g = grant(stack, 'copilot-assistant');
    const calls = [client.api(g.url).post(g.body).catch((e: unknown) => e), client.api(g.url).post(g.body).catch((e: unknown) => e)];
    const notice = await hook.next((n) => n.type === 'graphwarden.approval.requested');
    const pending = await admin(stack, alice, 'GET', '/api/v1/approvals?state=pending');
    const items = (pending.body.approvals ?? pending.body.value) as Array<{ id: string }>;
    expect(items.map((a) => a.id)).toEqual([notice.approval.id]);
    await admin(stack, alice, 'POST', `/api/v1/approvals/${notice.approval.id}/approve`, { justification: 'both calls are the same change', uses: 2 });
    const results = await Promise.all(calls);
    // The emulator accepts the first grant and refuses a duplicate assignment: both reached Graph.
    const statuses = results.map((r) => ((r as { statusCode?: number }).statusCode ?? 201));
    expect(statuses.sort()).toEqual([201, 400].sort());
  });
});

describe('approval after the hold wait ended: the SDK’s own retry goes through', () => {
  let hook: Awaited<ReturnType<typeof startWebhook>>;
  let stack: Stack;
  beforeAll(async () => {
    hook = await startWebhook();
    stack = await startApprovalStack(hook.url, 0);
  });
  afterAll(async () => {
    await stack?.close();
    await hook?.close();
  });

  it('answers 503 + Retry-After while pending; once approved, the SDK retry (same call) is forwarded', async () => {
    const client = graphClient(stack, appToken(stack, 'overprivileged-agent'));
    const g = grant(stack, 'mail-summarizer');
    const call = client.api(g.url).post(g.body);
    const notice = await hook.next((n) => n.type === 'graphwarden.approval.requested');
    await admin(stack, alice, 'POST', `/api/v1/approvals/${notice.approval.id}/approve`, { justification: 'approved after the first wait ended' });
    const result = (await call) as { appRoleId: string };
    expect(result.appRoleId).toBe(USER_READ_ALL);
    const metrics = await (await request(`${stack.adminUrl}/metrics`)).body.text();
    expect(metrics).toMatch(/graphwarden_held_calls_total\{outcome="pending"\} [1-9]/);
  });
});
