/**
 * Checks the claim docs/approvals.md relies on: the official JS Graph SDK (3.x) RetryHandler
 * retries a 503 with Retry-After on its own, replaying the same method and JSON body, so a held
 * call answered "pending" passes on the SDK's own retry once approved; a 403 denial is not retried.
 * The server here is a minimal stand-in for the proxy's approve path, not the proxy.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { Client } from '@microsoft/microsoft-graph-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApprovalService, type ApprovalService } from '../../../src/approval/hold.js';
import { createApprovalStore, type ApprovalStore } from '../../../src/approval/store.js';
import { graphErrorBody, errorStatus } from '../../../src/errors.js';
import { AGENT_APP, TENANT, holdRequest, recorder, tempDir } from './helpers.js';

const approver = { name: 'alice', ids: [] };

describe('Graph JS SDK retry against a held call', () => {
  let tmp: ReturnType<typeof tempDir>;
  let store: ApprovalStore;
  let svc: ApprovalService;
  let server: Server;
  let client: Client;
  let seen: Array<{ method: string; retryAttempt: string | undefined; digest: string }>;
  /** What the "approver" does when the first answer is pending. */
  let onPending: (approvalId: string) => void;

  beforeEach(async () => {
    tmp = tempDir();
    store = createApprovalStore({ stateDir: tmp.dir });
    // Real timers: waitMs 0 answers "pending" on the next tick.
    svc = createApprovalService({ store, audit: recorder().audit, clock: Date.now });
    seen = [];
    server = createServer((req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const digest = createHash('sha256').update(body).digest('hex');
        const retry = req.headers['retry-attempt'];
        seen.push({ method: req.method ?? '', retryAttempt: typeof retry === 'string' ? retry : undefined, digest });
        const h = holdRequest(`dec-${seen.length}`, {
          key: { tenantId: TENANT, appId: AGENT_APP, userId: null, method: req.method ?? '', canonicalUrl: req.url ?? '', bodyDigest: digest },
          waitMs: 0,
        });
        void svc.hold(h, new AbortController().signal).then((o) => {
          if (o.kind === 'approved') {
            res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 'created' }));
          } else if (o.kind === 'pending') {
            onPending(o.approvalId);
            // Retry-After 0 keeps the test fast; the proxy sends the configured seconds.
            res.writeHead(errorStatus('GW_ERR_APPROVAL_PENDING'), { 'content-type': 'application/json', 'retry-after': '0' });
            res.end(JSON.stringify(graphErrorBody('GW_ERR_APPROVAL_PENDING', 'held for approval', h.decisionId, new Date())));
          } else {
            res.writeHead(errorStatus('GW_ERR_APPROVAL_DENIED'), { 'content-type': 'application/json' });
            res.end(JSON.stringify(graphErrorBody('GW_ERR_APPROVAL_DENIED', 'denied', h.decisionId, new Date())));
          }
        });
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    client = Client.initWithMiddleware({
      authProvider: { getAccessToken: () => Promise.resolve('not-a-real-token') },
      baseUrl: `http://127.0.0.1:${port}/`,
      customHosts: new Set(['127.0.0.1']),
    });
  });

  afterEach(async () => {
    server.close();
    server.closeAllConnections();
    await once(server, 'close');
    store.close();
    tmp.cleanup();
  });

  it('POST with a JSON body: 503 pending, approval, the SDK retry with the same body passes', async () => {
    onPending = (id) => {
      expect(svc.approve(id, approver, { justification: 'ok' }).ok).toBe(true);
    };
    const result = (await client.api('/roleManagement/directory/roleAssignments').post({ principalId: 'x', roleDefinitionId: 'y', directoryScopeId: '/' })) as { id: string };
    expect(result).toEqual({ id: 'created' });
    expect(seen.map((s) => s.retryAttempt)).toEqual([undefined, '1']);
    expect(seen[0]!.digest).toBe(seen[1]!.digest);
    expect(seen.every((s) => s.method === 'POST')).toBe(true);
  });

  it('a denial is a 403 the SDK does not retry', async () => {
    onPending = (id) => {
      svc.deny(id, approver, { justification: 'no' });
    };
    const err = (await client.api('/roleManagement/directory/roleAssignments').post({ a: 1 }).catch((e: unknown) => e)) as { statusCode: number; code: string };
    expect(err.statusCode).toBe(403);
    expect(err.code).toBe('GraphwardenApprovalDenied');
    expect(seen).toHaveLength(2);
  });

  it('without a decision the SDK gives up after its retries with the pending code', async () => {
    onPending = () => {};
    const err = (await client.api('/users/x').patch({ a: 1 }).catch((e: unknown) => e)) as { statusCode: number; code: string };
    expect(err.statusCode).toBe(503);
    expect(err.code).toBe('GraphwardenApprovalPending');
    // Default RetryHandlerOptions: 3 retries after the first attempt.
    expect(seen).toHaveLength(4);
    expect(svc.list({ state: 'pending' })).toHaveLength(1);
  });
});
