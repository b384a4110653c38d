/**
 * The admin listener, on its own port: /metrics (Prometheus), /healthz (the process
 * is alive), /readyz (every readiness check passes, with details), and the admin API
 * mounted under /api/. Keep it off the agents' network.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import type { Logger } from '../log.js';

export interface ReadinessCheck {
  name: string;
  /** ready: the proxy may take traffic; detail: shown in /readyz for humans. */
  check(): { ready: boolean; detail?: string | Record<string, unknown> };
}

export interface AdminDeps {
  registry: Registry;
  checks: ReadinessCheck[];
  logger: Logger;
  /** Admin API (approvals, overrides); returns true when it handled the request. */
  api?: (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;
}

export function createAdminHandler(deps: AdminDeps) {
  return async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://admin.invalid');
    try {
      if (req.method === 'GET' && url.pathname === '/metrics') {
        const text = await deps.registry.metrics();
        res.writeHead(200, { 'content-type': deps.registry.contentType });
        res.end(text);
        return;
      }
      if (req.method === 'GET' && url.pathname === '/healthz') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ status: 'ok' }));
        return;
      }
      if (req.method === 'GET' && url.pathname === '/readyz') {
        const results = deps.checks.map((c) => {
          try {
            return { name: c.name, ...c.check() };
          } catch (err) {
            return { name: c.name, ready: false, detail: `check failed: ${err instanceof Error ? err.message : String(err)}` };
          }
        });
        const ready = results.every((r) => r.ready);
        res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' });
        res.end(JSON.stringify({ status: ready ? 'ready' : 'not-ready', checks: results }));
        return;
      }
      if (url.pathname.startsWith('/api/') && deps.api && (await deps.api(req, res, url))) return;
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'NotFound', message: `no admin route for ${req.method} ${url.pathname}` } }));
    } catch (err) {
      deps.logger.error({ err: err instanceof Error ? err.message : String(err), path: url.pathname }, 'admin request failed');
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 'InternalError', message: 'admin request failed' } }));
      } else res.destroy();
    }
  };
}
