/** Shared fixtures for approval tests: a settable clock, manual timers, a temp state dir, an audit recorder. */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { HoldRequest } from '../../../src/approval/hold.js';
import type { RequestKeyParts } from '../../../src/approval/model.js';
import type { ApprovalAuditEvent, ApprovalMetricEvent, Timers } from '../../../src/approval/ports.js';

export const TENANT = '11111111-1111-1111-1111-111111111111';
export const AGENT_APP = '22222222-2222-2222-2222-222222222222';
export const AGENT_SP = '33333333-3333-3333-3333-333333333333';
export const USER = '44444444-4444-4444-4444-444444444444';
export const T0 = Date.parse('2026-01-05T10:00:00Z');

export function fakeClock(start = T0): { now: () => number; advance(ms: number): void; set(ms: number): void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms), set: (ms) => void (t = ms) };
}

/** Timers that fire only when the test says so. */
export function manualTimers(): Timers & { pending(): number; delays(): number[]; fireAll(): void } {
  let next = 1;
  const map = new Map<number, () => void>();
  const ms = new Map<number, number>();
  return {
    setTimeout: (fn, delay) => {
      const id = next++;
      map.set(id, fn);
      ms.set(id, delay);
      return id;
    },
    clearTimeout: (h) => void map.delete(h as number),
    pending: () => map.size,
    delays: () => [...map.keys()].map((id) => ms.get(id)!).sort((a, b) => a - b),
    fireAll: () => {
      const fns = [...map.values()];
      map.clear();
      for (const f of fns) f();
    },
  };
}

export function tempDir(): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gw-approval-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function recorder(): { audit: { append(e: ApprovalAuditEvent): void }; events: ApprovalAuditEvent[]; metrics: ApprovalMetricEvent[]; metric(e: ApprovalMetricEvent): void } {
  const events: ApprovalAuditEvent[] = [];
  const metrics: ApprovalMetricEvent[] = [];
  return { audit: { append: (e) => void events.push(e) }, events, metrics, metric: (e) => void metrics.push(e) };
}

export function keyParts(over: Partial<RequestKeyParts> = {}): RequestKeyParts {
  return {
    tenantId: TENANT,
    appId: AGENT_APP,
    userId: null,
    method: 'POST',
    canonicalUrl: '/v1.0/roleManagement/directory/roleAssignments',
    bodyDigest: 'a'.repeat(64),
    ...over,
  };
}

export function holdRequest(decisionId: string, over: Partial<HoldRequest> = {}): HoldRequest {
  return {
    key: keyParts(),
    decisionId,
    narrative: 'Agent ops-bot asks to assign Global Administrator to user X; rule approve-role-assignments.',
    agent: { appId: AGENT_APP, displayName: 'ops-bot', servicePrincipalId: AGENT_SP },
    principal: { kind: 'app' },
    operation: { method: 'POST', template: '/roleManagement/directory/roleAssignments', summary: 'assign a directory role' },
    waitMs: 60_000,
    ...over,
  };
}
