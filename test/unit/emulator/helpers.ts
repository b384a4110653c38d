// Builds an in-process emulator state (no listener) for unit tests of the Entra and Graph handlers.
import { seedTenant } from '../../../src/emulator/seed.js';
import { TenantKeys, newSigningKey, type SigningKey } from '../../../src/emulator/tokens.js';

let sharedKey: SigningKey | undefined;
import type { EmulatorState, TenantState } from '../../../src/emulator/types.js';
import type { Caller, GraphRequest } from '../../../src/emulator/graph.js';

export const BASE = 'https://127.0.0.1:9443';

export function makeState(size = 300, now: () => number = () => Date.UTC(2026, 0, 15, 12)): { state: EmulatorState; ts: TenantState } {
  const { directory, tenant } = seedTenant({ seed: 'unit', index: 0, size, now });
  // One signing key per test file: RSA generation is the slow part of a fresh state.
  const ts: TenantState = { tenant, directory, keys: new TenantKeys((sharedKey ??= newSigningKey())) };
  const state: EmulatorState = {
    url: BASE, publicUrl: BASE, tenants: new Map([[tenant.id, ts]]), byDomain: new Map([[tenant.primaryDomain, tenant.id]]),
    now, tokenLifetimeSec: 3600, refreshTokens: new Map(), usedAssertions: new Map(),
  };
  return { state, ts };
}

export function appCaller(ts: TenantState, agent: string, perms?: string[]): Caller {
  const a = ts.tenant.agents[agent]!;
  return { tenant: ts, kind: 'app', appId: a.appId, spId: a.servicePrincipalId, perms: new Set(perms ?? a.appRoles) };
}

export function get(path: string, headers: Record<string, string> = {}): GraphRequest {
  const u = new URL(path, `${BASE}/v1.0/`);
  const segs = u.pathname.split('/').slice(2).map(decodeURIComponent);
  return { method: 'GET', version: 'v1.0', segments: segs, query: u.searchParams, headers, body: undefined };
}
