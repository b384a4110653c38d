import { describe, it, expect, beforeAll, afterAll, beforeEach } from 'vitest';
import zlib from 'node:zlib';
import net from 'node:net';
import { Readable } from 'node:stream';
import { Client, request } from 'undici';
import { createProxyHandler, type AuthOutcome, type ProxyDeps } from '../../../src/server/proxy.js';
import { createForwarder } from '../../../src/forward/index.js';
import { listen, type Listener } from '../../../src/server/listen.js';
import { createMetrics } from '../../../src/metrics/index.js';
import { createLogger } from '../../../src/log.js';
import { startFakeUpstream, type FakeUpstream } from '../../support/upstream.js';
import type { Principal } from '../../../src/identity/principal.js';

const principal: Principal = {
  kind: 'app', tenantId: 't', appId: 'app-1', servicePrincipalId: 'sp-1', roles: ['User.Read.All'], scopes: [], wids: [],
  tokenId: 'uti', clientAuth: 'secret', tokenVersion: '1.0', issuedAt: 0, expiresAt: 9e9,
};
const okAuth = async (h: string | undefined): Promise<AuthOutcome> =>
  h === 'Bearer good' ? { ok: true, principal, tokenDigest: 'd', claimsDigest: 'c', cached: false } : { ok: false, code: 'GW_ERR_TOKEN_SIGNATURE', message: 'The token signature is invalid.' };

async function startProxy(upstreamUrl: string, extra: Partial<ProxyDeps> = {}, fwd: Partial<Parameters<typeof createForwarder>[0]> = {}) {
  const metrics = createMetrics({ processMetrics: false });
  const forwarder = createForwarder({ upstreamUrl, connections: 4, connectTimeoutMs: 1000, headersTimeoutMs: 2000, bodyTimeoutMs: 2000, ...fwd });
  let n = 0;
  const handler = createProxyHandler({
    authenticate: okAuth, forwarder, metrics, logger: createLogger({ level: 'silent' }), now: () => Date.parse('2026-01-01T00:00:00Z'),
    newId: () => `req-${++n}`, limits: { maxBodyBytes: 1024, maxUrlLength: 2048 }, publicUrl: 'https://proxy.test:8443', tlsEnabled: true, accessLog: false, ...extra,
  });
  const l = await listen({ host: '127.0.0.1', port: 0 }, handler);
  return { l, metrics, forwarder };
}

let up: FakeUpstream;
let proxy: { l: Listener; metrics: ReturnType<typeof createMetrics>; forwarder: ReturnType<typeof createForwarder> };
beforeAll(async () => {
  up = await startFakeUpstream();
  proxy = await startProxy(up.url);
});
afterAll(async () => {
  await proxy.l.close(0);
  await proxy.forwarder.close();
  await up.close();
});
beforeEach(() => {
  up.requests.length = 0;
  up.handler = (_r, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"value":[]}');
  };
});

describe('proxy request path', () => {
  it('refuses a call without a valid token with a Graph 401 and never forwards it', async () => {
    const res = await request(`${proxy.l.url}/v1.0/users`, { headers: { authorization: 'Bearer bad', 'client-request-id': 'abc-123' } });
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer /);
    expect(res.headers['client-request-id']).toBe('abc-123');
    const body = (await res.body.json()) as { error: { code: string; innerError: Record<string, string> } };
    expect(body.error.code).toBe('InvalidAuthenticationToken');
    expect(body.error.innerError['request-id']).toBe(res.headers['request-id']);
    expect(body.error.innerError['graphwarden-code']).toBe('GW_ERR_TOKEN_SIGNATURE');
    expect(up.requests).toHaveLength(0);
  });

  it('forwards the original request target, token and client-request-id; strips hop-by-hop and method overrides', async () => {
    const res = await request(`${proxy.l.url}/v1.0/Users('A%40b.com')?$select=id`, {
      headers: { authorization: 'Bearer good', 'client-request-id': 'cr-1', 'x-http-method-override': 'DELETE', 'accept-encoding': 'gzip' },
    });
    expect(res.statusCode).toBe(200);
    await res.body.text();
    // HTTP clients refuse to send custom Connection tokens, so speak raw HTTP/1.1 for that part.
    const port = new URL(proxy.l.url).port;
    const raw = await new Promise<string>((resolve, reject) => {
      const sock = net.connect(Number(port), '127.0.0.1', () => {
        sock.write(`GET /v1.0/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer good\r\nConnection: close, x-secret-hop\r\nX-Secret-Hop: 1\r\nKeep-Alive: timeout=5\r\n\r\n`);
      });
      let text = '';
      sock.on('data', (d) => (text += d.toString()));
      sock.on('end', () => resolve(text));
      sock.on('error', reject);
    });
    expect(raw).toMatch(/^HTTP\/1.1 200/);
    expect(up.requests[1]!.headers['x-secret-hop']).toBeUndefined();
    expect(up.requests[1]!.headers['keep-alive']).toBeUndefined();
    const got = up.requests[0]!;
    expect(got.method).toBe('GET');
    expect(got.url).toBe("/v1.0/Users('A%40b.com')?$select=id");
    expect(got.headers.authorization).toBe('Bearer good');
    expect(got.headers['client-request-id']).toBe('cr-1');
    expect(got.headers['x-http-method-override']).toBeUndefined();
    expect(got.headers['accept-encoding']).toBe('identity');
  });

  it('streams a request body through and the answer back', async () => {
    up.handler = (r, res) => {
      res.writeHead(201, { 'content-type': 'application/json', location: `${up.url}/v1.0/groups/g1` });
      res.end(JSON.stringify({ echoed: r.body.toString() }));
    };
    const res = await request(`${proxy.l.url}/v1.0/groups`, { method: 'POST', headers: { authorization: 'Bearer good', 'content-type': 'application/json' }, body: '{"displayName":"x"}' });
    expect(res.statusCode).toBe(201);
    expect(res.headers.location).toBe('https://proxy.test:8443/v1.0/groups/g1');
    expect(await res.body.json()).toEqual({ echoed: '{"displayName":"x"}' });
  });

  it('rewrites paging links to the proxy, also when Graph compresses the body', async () => {
    const page = JSON.stringify({ value: [{ id: '1' }], '@odata.nextLink': 'https://graph.microsoft.com/v1.0/users?$skiptoken=X' });
    up.handler = (_r, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      res.end(zlib.gzipSync(page));
    };
    const res = await request(`${proxy.l.url}/v1.0/users`, { headers: { authorization: 'Bearer good' } });
    const body = (await res.body.json()) as Record<string, string>;
    expect(body['@odata.nextLink']).toBe('https://proxy.test:8443/v1.0/users?$skiptoken=X');
    expect(res.headers['content-encoding']).toBeUndefined();
  });

  it('rewrites paging links in a large chunked page too (streaming path past the small-body buffer)', async () => {
    const big = JSON.stringify({ value: Array.from({ length: 4000 }, (_, i) => ({ id: `user-${i}`, note: 'x'.repeat(80) })), '@odata.nextLink': 'https://graph.microsoft.com/v1.0/users?$skiptoken=BIG' });
    expect(big.length).toBeGreaterThan(256 * 1024);
    up.handler = (_r, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      // Chunked, in pieces, no content-length: as Graph sends large pages.
      for (let i = 0; i < big.length; i += 50_000) res.write(big.slice(i, i + 50_000));
      res.end();
    };
    const res = await request(`${proxy.l.url}/v1.0/users`, { headers: { authorization: 'Bearer good' } });
    const body = (await res.body.json()) as { value: unknown[]; '@odata.nextLink': string };
    expect(body.value).toHaveLength(4000);
    expect(body['@odata.nextLink']).toBe('https://proxy.test:8443/v1.0/users?$skiptoken=BIG');
  });

  it('an agent that goes away while Graph is still answering abandons the upstream call', async () => {
    let upstreamClosed!: () => void;
    const closed = new Promise<void>((r) => (upstreamClosed = r));
    let answering!: () => void;
    const reached = new Promise<void>((r) => (answering = r));
    up.handler = (_r, res) => {
      res.on('close', () => upstreamClosed());
      answering(); // never answers: only the proxy giving up ends this call
    };
    const sock = net.connect(Number(new URL(proxy.l.url).port), '127.0.0.1');
    sock.write('GET /v1.0/users HTTP/1.1\r\nhost: x\r\nauthorization: Bearer good\r\n\r\n');
    await reached;
    sock.destroy();
    await closed;
    const text = await proxy.metrics.registry.metrics();
    expect(text).toMatch(/graphwarden_requests_total\{method="GET",status="499",outcome="client-gone"\} [1-9]/);
  });

  it('an upstream that dies mid-body cuts the agent off and is counted, on the small-page path too', async () => {
    up.handler = (_r, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      // Headers and half a page reach the proxy, then the connection drops.
      res.write('{"value":[{"id":"1"}', () => res.socket?.destroy());
    };
    const before = await proxy.metrics.registry.getSingleMetricAsString('graphwarden_upstream_errors_total');
    const res = await request(`${proxy.l.url}/v1.0/users`, { headers: { authorization: 'Bearer good' } }).then(
      (r) => r.body.text().then(() => 'complete'),
      () => 'cut off',
    );
    expect(res).toBe('cut off');
    const after = await proxy.metrics.registry.getSingleMetricAsString('graphwarden_upstream_errors_total');
    const count = (t: string) => Number(/kind="body"\} (\d+)/.exec(t)?.[1] ?? 0);
    expect(count(after)).toBe(count(before) + 1);
  });

  it('passes bodiless answers (HEAD, 204) with Graph\'s own headers and no length of its own', async () => {
    up.handler = (r, res) => {
      if (r.method === 'HEAD') res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1234' }).end();
      else res.writeHead(204, { 'request-id': 'g-1' }).end();
    };
    const head = await request(`${proxy.l.url}/v1.0/users`, { method: 'HEAD', headers: { authorization: 'Bearer good' } });
    expect(head.statusCode).toBe(200);
    expect(head.headers['content-length']).toBe('1234');
    await head.body.text();
    const del = await request(`${proxy.l.url}/v1.0/groups/g/members/u/$ref`, { method: 'DELETE', headers: { authorization: 'Bearer good' } });
    expect(del.statusCode).toBe(204);
    expect(del.headers['content-length']).toBeUndefined();
    expect(del.headers['request-id']).toBe('g-1');
    await del.body.text();
  });

  it('streams a large binary answer byte for byte through a small client buffer (backpressure towards Graph)', async () => {
    const blob = Buffer.alloc(6 * 1024 * 1024);
    for (let i = 0; i < blob.length; i++) blob[i] = (i * 31 + (i >> 9)) & 0xff;
    up.handler = (_r, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      // Pieces, honouring backpressure, as a photo or file download from Graph would arrive.
      let at = 0;
      const pump = () => {
        while (at < blob.length) {
          const piece = blob.subarray(at, at + 64 * 1024);
          at += piece.length;
          if (!res.write(piece)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    };
    const res = await request(`${proxy.l.url}/v1.0/users/u/photo/$value`, { headers: { authorization: 'Bearer good' }, highWaterMark: 16 * 1024 });
    expect(res.statusCode).toBe(200);
    const got: Buffer[] = [];
    for await (const c of res.body) got.push(c as Buffer);
    expect(Buffer.concat(got).equals(blob)).toBe(true);
  });

  it('an agent that leaves in the middle of a large streamed page abandons the upstream call', async () => {
    let upstreamClosed!: () => void;
    const closed = new Promise<void>((r) => (upstreamClosed = r));
    up.handler = (_r, res) => {
      res.on('close', () => upstreamClosed());
      res.writeHead(200, { 'content-type': 'application/json' });
      // More than the small-page buffer, then nothing more: only the proxy giving up ends this call.
      res.write(`{"value":[${'{"id":"x"},'.repeat(40_000)}`);
    };
    const res = await request(`${proxy.l.url}/v1.0/users`, { headers: { authorization: 'Bearer good' } });
    expect(res.statusCode).toBe(200);
    const first = await res.body[Symbol.asyncIterator]().next();
    expect(first.done).toBe(false);
    res.body.destroy();
    await closed;
  });

  it('refuses a declared body over the limit without forwarding', async () => {
    const res = await request(`${proxy.l.url}/v1.0/groups`, { method: 'POST', headers: { authorization: 'Bearer good', 'content-type': 'application/json' }, body: 'x'.repeat(5000) });
    expect(res.statusCode).toBe(413);
    await res.body.text();
    expect(up.requests).toHaveLength(0);
  });

  it('refuses a chunked body that grows over the limit', async () => {
    async function* gen() {
      for (let i = 0; i < 10; i++) yield Buffer.alloc(300, 97);
    }
    const res = await request(`${proxy.l.url}/v1.0/groups`, { method: 'POST', headers: { authorization: 'Bearer good' }, body: Readable.from(gen()) });
    expect(res.statusCode).toBe(413);
    await res.body.text();
    // If the upstream saw anything, it was cut short; it never got a complete oversize body.
    for (const r of up.requests) expect(r.body.length).toBeLessThanOrEqual(1024);
  });

  it('refuses an overlong URL with 414', async () => {
    const res = await request(`${proxy.l.url}/v1.0/users?$filter=${'a'.repeat(3000)}`, { headers: { authorization: 'Bearer good' } });
    expect(res.statusCode).toBe(414);
    await res.body.text();
    expect(up.requests).toHaveLength(0);
  });

  it('tells authentication which connection a call came on: the same for calls on one keep-alive connection, another for a new one', async () => {
    const seen: object[] = [];
    const p = await startProxy(up.url, {
      authenticate: async (h, connection) => {
        seen.push(connection);
        return okAuth(h);
      },
    });
    const clients = [new Client(p.l.url), new Client(p.l.url)];
    try {
      for (const c of [clients[0]!, clients[0]!, clients[1]!]) {
        const res = await c.request({ path: '/v1.0/users', method: 'GET', headers: { authorization: 'Bearer good' } });
        expect(res.statusCode).toBe(200);
        await res.body.text();
      }
    } finally {
      await Promise.all(clients.map((c) => c.close()));
      await p.l.close(0);
      await p.forwarder.close();
    }
    expect(seen).toHaveLength(3);
    expect(seen[1]).toBe(seen[0]);
    expect(seen[2]).not.toBe(seen[0]);
  });

  it('counts requests by outcome in metrics', async () => {
    await (await request(`${proxy.l.url}/v1.0/users`, { headers: { authorization: 'Bearer bad' } })).body.text();
    const text = await proxy.metrics.registry.metrics();
    expect(text).toMatch(/graphwarden_requests_total\{method="GET",status="401",outcome="rejected"\} \d+/);
    expect(text).toMatch(/graphwarden_token_rejections_total\{code="GW_ERR_TOKEN_SIGNATURE"\} \d+/);
  });
});

describe('answers graphwarden must merge ($batch with items answered locally)', () => {
  const merging = { inspect: async () => ({ kind: 'forward' as const, rewriteResponse: (status: number, body: Buffer) => ({ status, body: Buffer.from(`{"merged":${body.toString()}}`) }) }) };

  it('decodes a compressed answer before merging and sends it plain', async () => {
    const p = await startProxy(up.url, merging);
    up.handler = (_r, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      res.end(zlib.gzipSync('{"responses":[]}'));
    };
    try {
      const res = await request(`${p.l.url}/v1.0/$batch`, { headers: { authorization: 'Bearer good' } });
      expect(res.headers['content-encoding']).toBeUndefined();
      expect(await res.body.json()).toEqual({ merged: { responses: [] } });
    } finally {
      await p.l.close(0);
      await p.forwarder.close();
    }
  });

  it.each([
    ['an unknown content-coding', 'compress', Buffer.from('\x1f\x9d opaque')],
    ['a corrupt gzip body', 'gzip', Buffer.from('not gzip at all')],
  ])('refuses %s with a 502 instead of passing it on mislabelled', async (_name, coding, bytes) => {
    const p = await startProxy(up.url, merging);
    up.handler = (_r, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': coding });
      res.end(bytes);
    };
    try {
      const res = await request(`${p.l.url}/v1.0/$batch`, { headers: { authorization: 'Bearer good' } });
      expect(res.statusCode).toBe(502);
      const body = (await res.body.json()) as { error: { code: string; innerError: Record<string, string> } };
      expect(body.error.code).toBe('BadGateway');
      expect(body.error.innerError['graphwarden-code']).toBe('GW_ERR_UPSTREAM_RESPONSE_INVALID');
      expect(await p.metrics.registry.getSingleMetricAsString('graphwarden_upstream_errors_total')).toMatch(/kind="encoding"\} 1/);
    } finally {
      await p.l.close(0);
      await p.forwarder.close();
    }
  });
});

describe('upstream failures become Graph errors', () => {
  it('connection refused → 502 BadGateway envelope', async () => {
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as net.AddressInfo).port;
    await new Promise<void>((r) => srv.close(() => r()));
    const p = await startProxy(`http://127.0.0.1:${port}`);
    try {
      const res = await request(`${p.l.url}/v1.0/users`, { headers: { authorization: 'Bearer good' } });
      expect(res.statusCode).toBe(502);
      const body = (await res.body.json()) as { error: { code: string } };
      expect(body.error.code).toBe('BadGateway');
    } finally {
      await p.l.close(0);
      await p.forwarder.close();
    }
  });

  it('no response headers in time → 504 GatewayTimeout', async () => {
    const stalled = await startFakeUpstream();
    let release: () => void = () => {};
    const released = new Promise<void>((r) => (release = r));
    stalled.handler = (_r, res) => {
      void released.then(() => res.end());
    };
    const p = await startProxy(stalled.url, {}, { headersTimeoutMs: 200 });
    try {
      const res = await request(`${p.l.url}/v1.0/users`, { headers: { authorization: 'Bearer good' } });
      expect(res.statusCode).toBe(504);
      const body = (await res.body.json()) as { error: { code: string } };
      expect(body.error.code).toBe('GatewayTimeout');
    } finally {
      release();
      await p.l.close(0);
      await p.forwarder.close();
      await stalled.close();
    }
  });
});
