/**
 * The directory service: loads the last good snapshot at start, refreshes it off the request path
 * (delta when possible, full otherwise), persists and diffs each new one, and swaps the view by one
 * reference assignment. Owns scheduling and the state directory; emits events for metrics (no prom-client).
 */
import { readFile, writeFile, rename, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createGraphClient, type GraphClient } from './connector/graph-client.js';
import { createTokenProvider, type TenantCredentials, type TokenProvider } from './connector/auth.js';
import { DeltaExpiredError, deltaSyncTenant, fullSyncTenant, type DeltaLinks, type SyncProgress, type TenantSyncResult } from './connector/sync.js';
import { appendDrift, diffSnapshots, type DriftEvent } from './drift.js';
import { createDirectoryView, type SnapshotView } from './effective.js';
import { countObjects, type TenantData } from './model.js';
import { loadReferenceData, type ReferenceData } from './reference.js';
import { createSnapshot, loadSnapshot, saveSnapshot, type Snapshot } from './snapshot.js';
import type { DirectoryView } from './view.js';

export { directoryConfigSchema, validateDirectoryConfig, loadDirectoryConfigFile, type DirectoryConfig, type DirectoryTenantConfig } from './config.js';
export type { DirectoryView } from './view.js';
export type { DriftEvent } from './drift.js';
export type { SnapshotView } from './effective.js';
export { createDirectoryView } from './effective.js';
export { createSnapshot, loadSnapshot, saveSnapshot, type Snapshot } from './snapshot.js';
export { loadReferenceData, type ReferenceData } from './reference.js';
export { buildReport, renderReportHtml, renderReportText, type PostureReport } from './report.js';

export const DELTA_FILE = 'directory-delta.json';

export interface DirectoryTenantOptions {
  tenantId: string;
  authorityHost?: string;
  graphBaseUrl?: string;
  scope?: string;
  credentials: TenantCredentials;
}

export type DirectoryEvent =
  | { type: 'snapshot-loaded'; snapshotId: string; takenAt: string; objects: number }
  | { type: 'snapshot-load-failed'; error: string }
  | { type: 'sync-started'; tenantId: string; mode: 'full' | 'delta' }
  | { type: 'sync-progress'; tenantId: string; stage: string; count: number }
  | { type: 'sync-retry'; tenantId: string; status: number | 'network'; delayMs: number }
  | { type: 'sync-finished'; tenantId: string; mode: 'full' | 'delta'; durationMs: number; objects: number; warnings: string[] }
  | { type: 'sync-failed'; tenantId: string; durationMs: number; error: string }
  | { type: 'snapshot-swapped'; snapshotId: string; takenAt: string; objects: number; driftEvents: number };

export interface TenantSyncSummary {
  tenantId: string;
  ok: boolean;
  mode?: 'full' | 'delta';
  objects: number;
  durationMs: number;
  warnings: string[];
  error?: string;
}

export interface SyncSummary {
  ok: boolean;
  snapshotId?: string;
  takenAt?: string;
  durationMs: number;
  tenants: TenantSyncSummary[];
  driftEvents: number;
}

export interface DirectoryOptions {
  stateDir: string;
  tenants: DirectoryTenantOptions[];
  refreshIntervalMs?: number;
  fullSyncIntervalMs?: number;
  concurrency?: number;
  maxRetries?: number;
  requestTimeoutMs?: number;
  delta?: boolean;
  pim?: 'required' | 'optional';
  agentIdentities?: boolean;
  expiringWithinDays?: number;
  /** Clock (ms); defaults to Date.now. */
  now?: () => number;
  events?: (e: DirectoryEvent) => void;
  refs?: ReferenceData;
  /** Test seams: replace token acquisition, the Graph client, or the retry sleep. */
  tokenProvider?: (t: DirectoryTenantOptions) => TokenProvider;
  graphClient?: (t: DirectoryTenantOptions, getToken: (force: boolean) => Promise<string>) => GraphClient;
  sleep?: (ms: number) => Promise<void>;
}

export interface Directory {
  /** The current snapshot's view, or undefined before the first snapshot exists. */
  view(): (DirectoryView & SnapshotView) | undefined;
  start(): Promise<void>;
  syncNow(): Promise<SyncSummary>;
  snapshotAgeMs(): number | undefined;
  close(): Promise<void>;
}

interface DeltaState {
  [tenantId: string]: { links: DeltaLinks; lastFullAt: string; snapshotId: string };
}

async function readDeltaState(stateDir: string): Promise<DeltaState> {
  try {
    return JSON.parse(await readFile(join(stateDir, DELTA_FILE), 'utf8')) as DeltaState;
  } catch {
    return {};
  }
}

async function writeDeltaState(stateDir: string, s: DeltaState): Promise<void> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const target = join(stateDir, DELTA_FILE);
  const tmp = `${target}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(s), { mode: 0o600 });
  await rename(tmp, target);
}

export function createDirectory(opts: DirectoryOptions): Directory {
  const now = opts.now ?? Date.now;
  const emit = (e: DirectoryEvent): void => {
    try {
      opts.events?.(e);
    } catch {
      // A metrics listener must never break the directory.
    }
  };
  const refs = opts.refs ?? loadReferenceData();
  let current: SnapshotView | undefined;
  let timer: NodeJS.Timeout | undefined;
  let inflight: Promise<SyncSummary> | undefined;
  let closed = false;
  const clients = new Map<string, GraphClient>();

  const clientFor = (t: DirectoryTenantOptions): GraphClient => {
    let c = clients.get(t.tenantId);
    if (c) return c;
    const tp = opts.tokenProvider
      ? opts.tokenProvider(t)
      : createTokenProvider({
          tenantId: t.tenantId,
          authorityHost: t.authorityHost ?? 'https://login.microsoftonline.com',
          credentials: t.credentials,
          ...(t.scope ? { scope: t.scope } : {}),
        });
    const getToken = (force: boolean): Promise<string> => tp.getToken(force);
    c = opts.graphClient
      ? opts.graphClient(t, getToken)
      : createGraphClient({
          baseUrl: t.graphBaseUrl ?? 'https://graph.microsoft.com',
          getToken,
          ...(opts.concurrency !== undefined ? { concurrency: opts.concurrency } : {}),
          ...(opts.maxRetries !== undefined ? { maxRetries: opts.maxRetries } : {}),
          ...(opts.requestTimeoutMs !== undefined ? { requestTimeoutMs: opts.requestTimeoutMs } : {}),
          ...(opts.sleep ? { sleep: opts.sleep } : {}),
          onRetry: (r) => emit({ type: 'sync-retry', tenantId: t.tenantId, status: r.status, delayMs: r.delayMs }),
        });
    clients.set(t.tenantId, c);
    return c;
  };

  const install = (snap: Snapshot): void => {
    // One reference assignment: requests in flight keep the view they started with.
    current = createDirectoryView(snap, { refs, now });
  };

  const syncTenant = async (t: DirectoryTenantOptions, prev: TenantData | undefined, delta: DeltaState): Promise<TenantSyncResult> => {
    const client = clientFor(t);
    const syncedAt = new Date(now()).toISOString();
    const onProgress = (p: SyncProgress): void => emit({ type: 'sync-progress', ...p });
    const base = {
      client,
      tenantId: t.tenantId,
      syncedAt,
      onProgress,
      ...(opts.pim ? { pim: opts.pim } : {}),
      ...(opts.agentIdentities !== undefined ? { agentIdentities: opts.agentIdentities } : {}),
      ...(opts.delta !== undefined ? { delta: opts.delta } : {}),
    };
    const st = delta[t.tenantId];
    const fullDue = !st || now() - Date.parse(st.lastFullAt) >= (opts.fullSyncIntervalMs ?? 86_400_000);
    if (opts.delta !== false && prev && st && !fullDue && st.snapshotId === current?.snapshotId) {
      emit({ type: 'sync-started', tenantId: t.tenantId, mode: 'delta' });
      try {
        return await deltaSyncTenant(base, prev, st.links);
      } catch (err) {
        if (!(err instanceof DeltaExpiredError)) throw err;
        // Token expired (410 syncStateNotFound / resyncRequired): fall through to a full re-read.
      }
    }
    emit({ type: 'sync-started', tenantId: t.tenantId, mode: 'full' });
    return fullSyncTenant(base);
  };

  const runSync = async (): Promise<SyncSummary> => {
    const started = now();
    const prevView = current;
    const prevTenants = new Map((prevView?.snapshot.data.tenants ?? []).map((t) => [t.tenantId.toLowerCase(), t]));
    const delta = await readDeltaState(opts.stateDir);
    const results = await Promise.all(
      opts.tenants.map(async (t): Promise<{ summary: TenantSyncSummary; data?: TenantData; result?: TenantSyncResult }> => {
        const t0 = now();
        try {
          const result = await syncTenant(t, prevTenants.get(t.tenantId.toLowerCase()), delta);
          const objects = countObjects(result.data);
          const durationMs = now() - t0;
          emit({ type: 'sync-finished', tenantId: t.tenantId, mode: result.mode, durationMs, objects, warnings: result.warnings });
          return { summary: { tenantId: t.tenantId, ok: true, mode: result.mode, objects, durationMs, warnings: result.warnings }, data: result.data, result };
        } catch (err) {
          const durationMs = now() - t0;
          const error = err instanceof Error ? err.message : String(err);
          emit({ type: 'sync-failed', tenantId: t.tenantId, durationMs, error });
          // A failed tenant keeps its previous (complete) data; nothing partial is kept.
          const prev = prevTenants.get(t.tenantId.toLowerCase());
          return { summary: { tenantId: t.tenantId, ok: false, objects: prev ? countObjects(prev) : 0, durationMs, warnings: [], error }, ...(prev ? { data: prev } : {}) };
        }
      }),
    );
    const anyOk = results.some((r) => r.summary.ok);
    if (!anyOk || closed) {
      return { ok: false, durationMs: now() - started, tenants: results.map((r) => r.summary), driftEvents: 0 };
    }
    const takenAt = new Date(now()).toISOString();
    const snap = createSnapshot({ tenants: results.flatMap((r) => (r.data ? [r.data] : [])) }, takenAt);
    await saveSnapshot(opts.stateDir, snap);
    let drift: DriftEvent[] = [];
    if (prevView) {
      drift = diffSnapshots(prevView.snapshot.data, snap.data, {
        now: now(),
        prevAt: Date.parse(prevView.takenAt),
        ...(opts.expiringWithinDays ? { expiringWithinMs: opts.expiringWithinDays * 86_400_000 } : {}),
      });
      await appendDrift(opts.stateDir, drift, { at: takenAt, fromSnapshot: prevView.snapshotId, toSnapshot: snap.id });
    }
    const nextDelta: DeltaState = {};
    for (const r of results) {
      const tid = r.summary.tenantId;
      if (r.result) {
        const prevState = delta[tid];
        nextDelta[tid] = { links: r.result.deltaLinks, lastFullAt: r.result.mode === 'full' || !prevState ? takenAt : prevState.lastFullAt, snapshotId: snap.id };
      } else if (delta[tid]) {
        nextDelta[tid] = { ...(delta[tid] as DeltaState[string]), snapshotId: snap.id };
      }
    }
    await writeDeltaState(opts.stateDir, nextDelta);
    install(snap);
    const objects = snap.data.tenants.reduce((n, t) => n + countObjects(t), 0);
    emit({ type: 'snapshot-swapped', snapshotId: snap.id, takenAt, objects, driftEvents: drift.length });
    return { ok: results.every((r) => r.summary.ok), snapshotId: snap.id, takenAt, durationMs: now() - started, tenants: results.map((r) => r.summary), driftEvents: drift.length };
  };

  const syncNow = (): Promise<SyncSummary> => {
    // One sync at a time: concurrent callers share it.
    if (!inflight) {
      inflight = runSync().finally(() => {
        inflight = undefined;
      });
    }
    return inflight;
  };

  const schedule = (): void => {
    if (closed || !opts.refreshIntervalMs) return;
    timer = setTimeout(() => {
      syncNow()
        .catch(() => undefined)
        .finally(schedule);
    }, opts.refreshIntervalMs);
    timer.unref();
  };

  return {
    view: () => current,
    async start() {
      try {
        const snap = await loadSnapshot(opts.stateDir);
        if (snap) {
          install(snap);
          emit({ type: 'snapshot-loaded', snapshotId: snap.id, takenAt: snap.takenAt, objects: snap.data.tenants.reduce((n, t) => n + countObjects(t), 0) });
        }
      } catch (err) {
        emit({ type: 'snapshot-load-failed', error: err instanceof Error ? err.message : String(err) });
      }
      if (opts.tenants.length > 0) {
        // Background: serve from the loaded snapshot while Graph is read.
        syncNow()
          .catch(() => undefined)
          .finally(schedule);
      }
    },
    syncNow,
    snapshotAgeMs() {
      return current ? Math.max(0, now() - Date.parse(current.takenAt)) : undefined;
    },
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      await inflight?.catch(() => undefined);
      await Promise.all([...clients.values()].map((c) => c.close()));
      clients.clear();
    },
  };
}
