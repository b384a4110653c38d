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
import { createInspector } from './server/inspect.js';
import { createClassifier } from './classify/index.js';
import { createPolicyStore } from './policy/store.js';
import { SHIPPED_RULES_DIR } from './policy/compile.js';
import { createUsageStore } from './policy/usage-store.js';
import { createAuditLog, rejectingAppender } from './audit/log.js';
import { createDecider } from './decision/decider.js';
import { createDirectory, type SyncSummary } from './directory/index.js';
import { createApprovalModule, approvalModuleConfig } from './approval/index.js';
import { createHoldPort, createOverridePort } from './server/approval-ports.js';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAdminHandler, type ReadinessCheck } from './server/admin.js';
import { listen, type Listener } from './server/listen.js';

export interface App {
  start(): Promise<{ proxyUrl: string; adminUrl: string }>;
  /** Syncs the directory now (tests, the demo, `graphwarden sync`); undefined when no tenant is configured. */
  syncDirectory(): Promise<SyncSummary | undefined>;
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

  const stateDir = config.state.dir;
  const classifier = createClassifier({ maxUrlLength: config.server.maxUrlLength, maxBatchBytes: config.server.maxBodyBytes });

  const audit = await createAuditLog({
    dir: path.join(stateDir, 'audit'),
    failMode: config.audit.failMode,
    fsync: config.audit.fsync,
    headIntervalMs: config.audit.headIntervalMs,
    commitIntervalMs: config.audit.commitIntervalMs,
    syncIntervalMs: config.audit.syncIntervalMs,
    events: {
      auditWriteFailed: (error) => {
        metrics.auditWriteFailures.inc();
        logger.error({ error }, 'audit record could not be written');
      },
      auditFailOpen: () => {
        metrics.failOpen.inc({ setting: 'audit.failMode' });
        logger.warn('sensitive call let through without its audit record (audit.failMode: open)');
      },
    },
  });
  const policy = await createPolicyStore({
    dir: config.policy.rulesDir ?? fileURLToPath(SHIPPED_RULES_DIR),
    stateDir,
    watch: config.policy.watch,
    debounceMs: config.policy.debounceMs,
    events: {
      reloaded: (revision, rules) => {
        metrics.ruleReloads.inc({ outcome: 'ok' });
        logger.info({ revision, rules }, 'rules loaded');
        // The chain records which rule revision was in force from when.
        void audit.append({ type: 'rules', v: 1, action: 'loaded', revision, at: new Date(now()).toISOString() });
      },
      reloadFailed: (errors) => {
        metrics.ruleReloads.inc({ outcome: 'failed' });
        logger.error({ errors }, 'rules change refused; the last good rule set stays in force');
        void audit.append({ type: 'rules', v: 1, action: 'reload-failed', errors, at: new Date(now()).toISOString() });
      },
    },
  });
  const usage = await createUsageStore({ stateDir, events: { usageWriteFailed: (e) => logger.warn({ err: e.message }, 'permission-usage record could not be written') } });
  const decider = createDecider({
    policy,
    holdApprovals: true,
    usage,
    audit,
    privacy: { includeToken: config.audit.include.token, includeBody: config.audit.include.body, pseudonymiseUserPrincipalName: config.audit.pseudonymiseUserPrincipalName },
    events: {
      decision: (e) => {
        metrics.decisions.inc({ effect: e.effect, enforced: e.enforced, reason: e.reasonCode });
        if (e.shadow && e.wouldBe) metrics.shadowDecisions.inc({ would_be: e.wouldBe, reason: e.reasonCode });
      },
      decisionLatency: (sec) => metrics.decisionDuration.observe(sec),
    },
  });

  const directory =
    config.directory.tenants.length > 0
      ? createDirectory({
          ...config.directory,
          stateDir: path.join(stateDir, 'directory'),
          tenants: config.directory.tenants.map((t) => ({ ...t })),
          now,
          events: (e) => {
            if (e.type === 'sync-finished') metrics.directorySyncs.inc({ tenant: e.tenantId, mode: e.mode, outcome: 'ok' });
            if (e.type === 'sync-failed') {
              metrics.directorySyncs.inc({ tenant: e.tenantId, mode: 'full', outcome: 'failed' });
              logger.error({ tenant: e.tenantId, error: e.error }, 'directory sync failed; the last good snapshot stays in force');
            }
            if (e.type === 'snapshot-swapped' || e.type === 'snapshot-loaded') {
              metrics.directoryObjects.set(e.objects);
              logger.info({ snapshot: e.snapshotId, takenAt: e.takenAt, objects: e.objects }, 'directory snapshot in force');
            }
          },
        })
      : undefined;
  if (!directory) logger.warn('no directory tenants configured: every agent is unknown to the directory and the rules treat it so');
  metrics.sources.snapshotAgeMs = () => directory?.snapshotAgeMs();

  // Approvals hold `approve` calls for a human; overrides are governed exceptions (approval/).
  const { module: approvalConfig, waitMs } = approvalModuleConfig(path.join(stateDir, 'approvals'), config.approvals, config.overrides);
  const approvalModule = createApprovalModule(approvalConfig, {
    audit: rejectingAppender(audit),
    metric: (e) => {
      switch (e.type) {
        case 'approvals-pending':
          metrics.approvalsPending.set(e.count);
          break;
        case 'approval-outcome':
          metrics.approvalOutcomes.inc({ outcome: e.outcome });
          break;
        case 'approval-time-to-decision':
          metrics.approvalTimeToDecision.observe({ outcome: e.outcome }, e.seconds);
          break;
        case 'hold-outcome':
          metrics.holdOutcomes.inc({ outcome: e.outcome });
          break;
        case 'overrides-active':
          metrics.overridesActive.set(e.count);
          break;
        case 'notify-failed':
          metrics.notifications.inc({ outcome: 'failed' });
          logger.warn({ target: e.target, attempts: e.attempts, error: e.error }, 'approval notification failed');
          break;
        case 'notify-sent':
          metrics.notifications.inc({ outcome: 'sent' });
          break;
        case 'audit-failed':
          metrics.auditWriteFailures.inc();
          break;
      }
    },
  });

  const inspect = createInspector({
    classifier,
    view: () => directory?.view(),
    requireDirectory: directory !== undefined,
    decider,
    now,
    approvals: createHoldPort({ approvals: approvalModule.approvals, waitMs, now }),
    overrides: createOverridePort({
      overrides: approvalModule.overrides,
      now,
      record: (event) => {
        metrics.overridesApplied.inc();
        void audit.append(event);
      },
    }),
  });

  const proxyHandler = createProxyHandler({
    authenticate: (h, connection) => tokens.verify(h, connection),
    inspect,
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
    {
      name: 'rules',
      check: () => {
        const st = policy.status();
        // A refused change keeps the last good set in force: still ready, but say so.
        return { ready: true, detail: { revision: st.revision, rules: st.rules, mode: st.mode, lastChangeRefused: !st.ok, ...(st.lastError ? { lastError: st.lastError } : {}) } };
      },
    },
    {
      name: 'directory',
      check: () => {
        if (!directory) return { ready: true, detail: 'not configured: agents are unknown to the directory' };
        const v = directory.view();
        const age = directory.snapshotAgeMs();
        return { ready: v !== undefined, detail: v ? { snapshot: v.snapshotId, takenAt: v.takenAt, ageSeconds: Math.round((age ?? 0) / 1000) } : 'no snapshot yet' };
      },
    },
    {
      name: 'audit',
      check: () => {
        const st = audit.status();
        return { ready: st.ok || config.audit.failMode === 'open', detail: { seq: st.seq, failures: st.failures, ...(st.lastError ? { lastError: st.lastError } : {}) } };
      },
    },
  ];
  const adminHandler = createAdminHandler({ registry: metrics.registry, checks, logger, api: approvalModule.adminApi });

  let proxyListener: Listener | undefined;
  let adminListener: Listener | undefined;

  return {
    metrics,
    logger,
    syncDirectory: async () => directory?.syncNow(),
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
      const { abandoned } = approvalModule.start();
      if (abandoned > 0) logger.warn({ abandoned }, 'calls held when graphwarden last stopped were recorded as abandoned; their approvals stay usable by a retry');
      // The last persisted snapshot serves at once; the first sync runs in the background.
      await directory?.start();
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
      await approvalModule.stop();
      policy.close();
      await directory?.close();
      await audit.close();
      await forwarder.close();
      await authorityDispatcher?.close();
    },
  };
}
