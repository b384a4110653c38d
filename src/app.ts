/**
 * The composition root: builds each module from its config slice, connects their
 * events to metrics and logs, starts and stops them. Wiring only; logic lives in modules.
 */
import { readFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import { Agent } from 'undici';
import type { Config } from './config/types.js';
import { createLogger, type Logger } from './log.js';
import { createMetrics, type Metrics } from './metrics/index.js';
import { createForwarder } from './forward/index.js';
import { createTokenVerifier, toVerifierOptions } from './token/index.js';
import { createProxyHandler } from './server/proxy.js';
import { createAdminHandler, type ReadinessCheck } from './server/admin.js';
import { listen, type Listener } from './server/listen.js';

export interface App {
  start(): Promise<{ proxyUrl: string; adminUrl: string }>;
  stop(): Promise<void>;
  readonly metrics: Metrics;
  readonly logger: Logger;
}

export interface AppOptions {
  logger?: Logger;
  now?: () => number;
}

async function readPem(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${what} at ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'}); run \`npm run certs\` or mount your certificate`);
  }
}

export async function createApp(config: Readonly<Config>, opts: AppOptions = {}): Promise<App> {
  const logger = opts.logger ?? createLogger({ level: config.log.level });
  const now = opts.now ?? Date.now;
  const metrics = createMetrics();

  const identityCa = config.identity.ca ? await readPem(config.identity.ca, 'identity.ca') : undefined;
  const upstreamCa = config.upstream.ca ? await readPem(config.upstream.ca, 'upstream.ca') : undefined;
  const authorityDispatcher = identityCa ? new Agent({ connect: { ca: [...rootCertificates, identityCa] } }) : undefined;

  const tokens = createTokenVerifier(
    toVerifierOptions(config.identity, {
      dispatcher: authorityDispatcher,
      now,
      events: {
        cacheHit: () => metrics.tokenCache.inc({ result: 'hit' }),
        cacheMiss: () => metrics.tokenCache.inc({ result: 'miss' }),
        jwksFetch: (tenant, outcome, reason) => {
          metrics.jwksRefreshes.inc({ tenant, reason, outcome });
          if (outcome === 'error') logger.warn({ tenant, reason }, 'signing keys could not be fetched; keeping the last good keys');
        },
      },
    }),
  );

  const forwarder = createForwarder({
    upstreamUrl: config.upstream.url,
    ca: upstreamCa,
    connections: config.upstream.connections,
    connectTimeoutMs: config.upstream.connectTimeoutMs,
    headersTimeoutMs: config.upstream.headersTimeoutMs,
    bodyTimeoutMs: config.upstream.bodyTimeoutMs,
  });

  const proxyHandler = createProxyHandler({
    authenticate: (h) => tokens.verify(h),
    forwarder,
    metrics,
    logger,
    now,
    newId: randomUUID,
    limits: { maxBodyBytes: config.server.maxBodyBytes, maxUrlLength: config.server.maxUrlLength },
    publicUrl: config.server.publicUrl,
    tlsEnabled: config.server.tls.enabled,
    accessLog: config.log.accessLog,
  });

  const checks: ReadinessCheck[] = [
    { name: 'config', check: () => ({ ready: true }) },
    {
      name: 'signing-keys',
      check: () => {
        const ages = Object.fromEntries(config.identity.allowedTenants.map((t) => [t, tokens.keysAgeMs(t)]));
        return { ready: tokens.ready(), detail: { keysAgeMs: ages } };
      },
    },
  ];
  const adminHandler = createAdminHandler({ registry: metrics.registry, checks, logger });

  let proxyListener: Listener | undefined;
  let adminListener: Listener | undefined;

  return {
    metrics,
    logger,
    async start() {
      const tls = config.server.tls.enabled
        ? { certPem: await readPem(config.server.tls.cert, 'server.tls.cert'), keyPem: await readPem(config.server.tls.key, 'server.tls.key') }
        : undefined;
      if (!tls) logger.warn('TLS is off on the proxy listener: only run it like this behind a TLS-terminating sidecar');
      adminListener = await listen({ host: config.admin.listen.host, port: config.admin.listen.port }, adminHandler);
      proxyListener = await listen(
        { host: config.server.listen.host, port: config.server.listen.port, tls, requestTimeoutMs: config.server.requestTimeoutMs, keepAliveTimeoutMs: config.server.keepAliveTimeoutMs },
        proxyHandler,
      );
      // Keys load in the background; /readyz stays not-ready until they are in.
      tokens.preload().then(
        () => logger.info({ tenants: config.identity.allowedTenants.length }, 'signing keys loaded'),
        (err: unknown) => logger.error({ err: err instanceof Error ? err.message : String(err) }, 'signing keys could not be loaded; calls are refused until they are'),
      );
      logger.info({ proxy: proxyListener.url, admin: adminListener.url, upstream: config.upstream.url }, 'graphwarden listening');
      return { proxyUrl: proxyListener.url, adminUrl: adminListener.url };
    },
    async stop() {
      const grace = config.server.shutdownGraceMs;
      await Promise.all([proxyListener?.close(grace), adminListener?.close(0)]);
      tokens.close();
      await forwarder.close();
      await authorityDispatcher?.close();
    },
  };
}
