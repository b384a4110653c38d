import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createGraphClient, createLimiter, GraphRequestError } from '../../../src/directory/connector/graph-client.js';

let server: Server | undefined;

async function serve(handler: (req: IncomingMessage, res: ServerResponse, base: string) => void): Promise<string> {
  let base = '';
  server = createServer((req, res) => handler(req, res, base));
  await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return base;
}

afterEach(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
};

describe('graph client', () => {
  it('follows nextLink pages and returns the deltaLink', async () => {
    const base = await serve((req, res, b) => {
      if (req.url === '/v1.0/users') return json(res, 200, { value: [{ id: '1' }], '@odata.nextLink': `${b}/v1.0/users?$skiptoken=2` });
      return json(res, 200, { value: [{ id: '2' }], '@odata.deltaLink': `${b}/v1.0/users/delta?$deltatoken=x` });
    });
    const c = createGraphClient({ baseUrl: base, getToken: () => Promise.resolve('t') });
    const r = await c.list('/v1.0/users');
    expect(r.items.map((i) => i.id)).toEqual(['1', '2']);
    expect(r.deltaLink).toBe(`${base}/v1.0/users/delta?$deltatoken=x`);
    await c.close();
  });

  it('never sends the token to another origin named by a nextLink', async () => {
    const seen: string[] = [];
    const base = await serve((req, res) => {
      seen.push(req.headers.authorization ?? '');
      json(res, 200, { value: [], '@odata.nextLink': 'https://evil.example/v1.0/users?$skiptoken=1' });
    });
    const c = createGraphClient({ baseUrl: base, getToken: () => Promise.resolve('secret-token') });
    await expect(c.list('/v1.0/users')).rejects.toThrow(/another origin/);
    expect(seen).toHaveLength(1);
    await c.close();
  });

  it('retries 429/503 honouring Retry-After, else backs off with jitter, and gives up after maxRetries', async () => {
    let n = 0;
    let busy = false;
    const base = await serve((_req, res) => {
      n++;
      if (busy) return json(res, 503, { error: { code: 'serviceNotAvailable', message: '' } });
      if (n === 1) return json(res, 429, { error: { code: 'TooManyRequests', message: 'slow down' } }, { 'retry-after': '3' });
      if (n === 2) return json(res, 503, { error: { code: 'serviceNotAvailable', message: '' } });
      return json(res, 200, { value: [{ id: 'ok' }] });
    });
    const sleeps: number[] = [];
    const c = createGraphClient({ baseUrl: base, getToken: () => Promise.resolve('t'), sleep: (ms) => {
        sleeps.push(ms);
        return Promise.resolve();
      }, random: () => 0.5, baseDelayMs: 100 });
    expect((await c.list('/v1.0/x')).items).toEqual([{ id: 'ok' }]);
    // 3 s from Retry-After; then 0.5 × 100 × 2^1 = 100 ms of jittered backoff.
    expect(sleeps).toEqual([3000, 100]);
    await c.close();

    busy = true;
    n = 0;
    const c2 = createGraphClient({ baseUrl: base, getToken: () => Promise.resolve('t'), sleep: () => Promise.resolve(), maxRetries: 2 });
    const err = await c2.get('/v1.0/x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GraphRequestError);
    expect((err as GraphRequestError).status).toBe(503);
    expect((err as GraphRequestError).message).toMatch(/after 3 attempts/);
    expect(n).toBe(3);
    await c2.close();
  });

  it('refreshes the token once on 401 and surfaces Graph error codes without retrying 403', async () => {
    const auths: string[] = [];
    const base = await serve((req, res) => {
      auths.push(req.headers.authorization ?? '');
      if (req.url === '/v1.0/denied') return json(res, 403, { error: { code: 'Authorization_RequestDenied', message: 'Insufficient privileges to complete the operation.' } });
      if (req.headers.authorization === 'Bearer old') return json(res, 401, { error: { code: 'InvalidAuthenticationToken', message: 'expired' } });
      return json(res, 200, { value: [] });
    });
    let calls = 0;
    const c = createGraphClient({ baseUrl: base, getToken: (force) => Promise.resolve(force || calls++ > 0 ? 'new' : 'old') });
    await c.get('/v1.0/ok');
    expect(auths).toEqual(['Bearer old', 'Bearer new']);
    const err = (await c.get('/v1.0/denied').catch((e: unknown) => e)) as GraphRequestError;
    expect(err.graphCode).toBe('Authorization_RequestDenied');
    expect(auths.filter((a) => a !== '').length).toBe(3);
    await c.close();
  });

  it('the limiter never runs more than n tasks at once', async () => {
    const limit = createLimiter(2);
    let active = 0;
    let peak = 0;
    const release: Array<() => void> = [];
    const tasks = Array.from({ length: 5 }, () =>
      limit(
        () =>
          new Promise<void>((done) => {
            active++;
            peak = Math.max(peak, active);
            release.push(() => {
              active--;
              done();
            });
          }),
      ),
    );
    // Release one task at a time; each release lets exactly one waiter in.
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setImmediate(r));
      expect(active).toBeLessThanOrEqual(2);
      release.shift()?.();
    }
    await Promise.all(tasks);
    expect(peak).toBe(2);
    expect(active).toBe(0);
  });
});
