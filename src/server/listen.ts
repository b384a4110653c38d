/**
 * Creates and starts HTTP/HTTPS listeners with the timeouts the proxy needs, and stops
 * them gracefully. Owns sockets, not request semantics.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';

export interface Listener {
  server: http.Server;
  /** Origin clients use, e.g. https://127.0.0.1:8443. */
  url: string;
  port: number;
  close(graceMs: number): Promise<void>;
}

export interface ListenOptions {
  host: string;
  port: number;
  tls?: { keyPem: string; certPem: string };
  requestTimeoutMs?: number;
  keepAliveTimeoutMs?: number;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>;

export async function listen(opts: ListenOptions, handler: Handler): Promise<Listener> {
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    void handler(req, res);
  };
  const common: http.ServerOptions = {
    requestTimeout: opts.requestTimeoutMs ?? 60_000,
    keepAliveTimeout: opts.keepAliveTimeoutMs ?? 65_000,
    headersTimeout: Math.min(opts.requestTimeoutMs ?? 60_000, 30_000),
    // Graph URLs with long $filter values are legitimate; the proxy enforces its own URL limit.
    maxHeaderSize: 32 * 1024,
  };
  const server = opts.tls
    ? https.createServer({ ...common, key: opts.tls.keyPem, cert: opts.tls.certPem, minVersion: 'TLSv1.2' }, onRequest)
    : http.createServer(common, onRequest);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = opts.host === '0.0.0.0' || opts.host === '::' ? '127.0.0.1' : opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    server,
    port,
    url: `${opts.tls ? 'https' : 'http'}://${host}:${port}`,
    close: (graceMs) =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        const t = setTimeout(() => server.closeAllConnections(), graceMs);
        t.unref();
      }),
  };
}
