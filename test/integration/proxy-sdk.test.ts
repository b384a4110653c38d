import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { PageIterator, type PageCollection } from '@microsoft/microsoft-graph-client';
import { request } from 'undici';
import { startStack, type Stack } from '../support/stack.js';
import { appToken, userToken, graphClient } from '../support/agents.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ emulator: { size: 400 } });
});
afterAll(async () => {
  await stack?.close();
});

describe('official Graph SDK agents through graphwarden', () => {
  it('pages through users; every next link points at the proxy and every page is fetched through it', async () => {
    const client = graphClient(stack, appToken(stack, 'provisioning-bot'));
    stack.emulator.clearGraphRequests();
    const first = (await client.api('/users').select('id,displayName').top(25).get()) as PageCollection;
    expect(first['@odata.nextLink']).toMatch(new RegExp(`^${stack.proxyUrl}/v1.0/users\\?`));
    const ids = new Set<string>();
    const it = new PageIterator(client, first, (u: { id: string }) => {
      ids.add(u.id);
      return ids.size < 100;
    });
    await it.iterate();
    expect(ids.size).toBe(100);
    // Four pages of 25, each one a request that graphwarden forwarded.
    const reached = stack.emulator.graphRequests().filter((r) => r.path.startsWith('/v1.0/users'));
    expect(reached.length).toBeGreaterThanOrEqual(4);
    for (const r of reached) expect(r.authorized).toBe(true);
  });

  it('works with a certificate credential and with a delegated (user) token', async () => {
    const tenant = stack.emulator.tenants[0]!;
    const viaCert = graphClient(stack, appToken(stack, 'cert-agent'));
    const alice = (await viaCert.api(`/users/${tenant.users['alice']!.id}`).get()) as { userPrincipalName: string };
    expect(alice.userPrincipalName).toBe(tenant.users['alice']!.userPrincipalName);

    const copilot = graphClient(stack, userToken(stack, 'copilot-assistant', 'carol'));
    const me = (await copilot.api('/me').get()) as { id: string };
    expect(me.id).toBe(tenant.users['carol']!.id);
  });

  it("passes Graph's own errors through unchanged", async () => {
    const client = graphClient(stack, appToken(stack, 'provisioning-bot'));
    const err = await client.api('/users/00000000-0000-0000-0000-00000000abcd').get().catch((e: unknown) => e);
    expect(err).toMatchObject({ statusCode: 404, code: 'Request_ResourceNotFound' });
  });

  it('blocks a call beyond the agent’s permissions with graphwarden’s own 403 that the SDK surfaces', async () => {
    const client = graphClient(stack, appToken(stack, 'mail-summarizer'));
    stack.emulator.clearGraphRequests();
    const err = (await client.api('/groups').get().catch((e: unknown) => e)) as { statusCode: number; code: string; message: string; requestId: string; body: string };
    expect(err).toMatchObject({ statusCode: 403, code: 'GraphwardenPolicyDenied' });
    expect(err.message).toMatch(/rule 'block-permission-not-held' \(permission-not-held\)/);
    // The SDK keeps Graph's error object (not the envelope) as body, and innerError.request-id as requestId.
    const inner = (JSON.parse(err.body) as { innerError: Record<string, string> }).innerError;
    expect(inner['graphwarden-code']).toBe('GW_ERR_POLICY_BLOCKED');
    expect(err.message).toContain(err.requestId);
    expect(stack.emulator.graphRequests()).toHaveLength(0);
  });

  it('forwards $batch and returns Graph’s batch answer', async () => {
    const client = graphClient(stack, appToken(stack, 'provisioning-bot'));
    const tenant = stack.emulator.tenants[0]!;
    const res = (await client.api('/$batch').post({
      requests: [
        { id: '1', method: 'GET', url: `/users/${tenant.users['alice']!.id}` },
        { id: '2', method: 'GET', url: 'users?$top=2' },
      ],
    })) as { responses: Array<{ id: string; status: number }> };
    expect(res.responses.map((r) => [r.id, r.status]).sort()).toEqual([['1', 200], ['2', 200]]);
  });

  it('keeps client-request-id and returns Graph’s throttling answer with Retry-After', async () => {
    const token = await appToken(stack, 'provisioning-bot')();
    stack.emulator.setThrottle({ retryAfterSec: 7, paths: ['users'] });
    try {
      const res = await request(`${stack.proxyUrl}/v1.0/users?$top=1`, { headers: { authorization: `Bearer ${token}`, 'client-request-id': 'agent-trace-1' } });
      expect(res.statusCode).toBe(429);
      expect(res.headers['retry-after']).toBe('7');
      expect(res.headers['client-request-id']).toBe('agent-trace-1');
      await res.body.text();
    } finally {
      stack.emulator.setThrottle(null);
    }
  });

  it('picks up rotated signing keys (unknown kid → JWKS refetch)', async () => {
    const tenant = stack.emulator.tenants[0]!;
    stack.emulator.rotateKeys(tenant.id, { graceSec: 0 });
    const token = await stack.emulator.issueToken({ tenantId: tenant.id, appId: tenant.agents['provisioning-bot']!.appId, kind: 'app' });
    const res = await request(`${stack.proxyUrl}/v1.0/users?$top=1`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.statusCode).toBe(200);
    await res.body.text();
  });
});

describe('admin listener', () => {
  it('is ready once keys are loaded and exposes request, latency and token-cache metrics', async () => {
    const ready = await request(`${stack.adminUrl}/readyz`);
    const body = (await ready.body.json()) as { status: string; checks: Array<{ name: string; ready: boolean }> };
    expect(ready.statusCode).toBe(200);
    expect(body.checks.find((c) => c.name === 'signing-keys')?.ready).toBe(true);
    const metrics = await (await request(`${stack.adminUrl}/metrics`)).body.text();
    expect(metrics).toMatch(/graphwarden_requests_total\{method="GET",status="200",outcome="forwarded"\} [1-9]/);
    expect(metrics).toMatch(/graphwarden_request_duration_seconds_bucket/);
    expect(metrics).toMatch(/graphwarden_upstream_duration_seconds_bucket/);
    expect(metrics).toMatch(/graphwarden_token_cache_lookups_total\{result="hit"\} [1-9]/);
    expect(metrics).toMatch(/graphwarden_jwks_refreshes_total\{tenant="[0-9a-f-]+",reason="[a-z-]+",outcome="ok"\}/);
    expect(metrics).toMatch(/graphwarden_process_cpu_seconds_total/);
  });
});
