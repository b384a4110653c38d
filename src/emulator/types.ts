/**
 * Shared shapes between the emulator's HTTP front, its Entra side and its Graph side.
 * Owns no behaviour.
 */
import type { TenantDirectory } from './directory.js';
import type { EmulatorTenant } from './seed.js';
import type { TenantKeys } from './tokens.js';

export interface Resp {
  status: number;
  headers?: Record<string, string>;
  /** JSON body (serialised by the HTTP layer). */
  body?: unknown;
  /** Raw text body (e.g. `$count`), sent as text/plain. */
  text?: string;
}

export interface TenantState {
  tenant: EmulatorTenant;
  directory: TenantDirectory;
  keys: TenantKeys;
}

export interface RefreshGrant { tenantId: string; clientAppId: string; userId: string; scopes: string[]; expiresAt: number }

export interface EmulatorState {
  /** Origin the server listens on (https://host:port). */
  url: string;
  /** Base used in absolute links (@odata.nextLink, deltaLink, @odata.context). */
  publicUrl: string;
  tenants: Map<string, TenantState>;
  byDomain: Map<string, string>;
  now(): number;
  tokenLifetimeSec: number;
  refreshTokens: Map<string, RefreshGrant>;
  /** Client assertion `jti`s already used (replay protection), with their expiry. */
  usedAssertions: Map<string, number>;
}

export function tenantByKey(state: EmulatorState, key: string): TenantState | undefined {
  const lower = key.toLowerCase();
  return state.tenants.get(lower) ?? state.tenants.get(state.byDomain.get(lower) ?? '');
}
