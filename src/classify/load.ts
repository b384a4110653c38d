/**
 * Loads the shipped permission data from data/graph-permissions/ and compiles it once per process
 * (about a tenth of a second; the compiled index is kept in memory, no cache file is written).
 * The effectful edge of classify/; the compiler itself (map.ts) is pure.
 */
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { COMPILER_VERSION, compileIndex } from './map.js';
import type { CompiledIndex, PermissionsDocument, SupplementDocument, TierTable } from './map.js';
import type { Tier } from './operation.js';

/** data/ sits two levels above both src/classify/ (tests) and dist/classify/ (the built binary). */
export const DATA_DIR = fileURLToPath(new URL('../../data/graph-permissions/', import.meta.url));

const FILES = {
  permissions: 'permissions.json',
  supplement: 'supplement.json',
  appRoles: 'Classification_MsGraphAppRoles.json',
  scopes: 'Classification_MsGraphScopes.json',
} as const;

const TIER_NAMES: Record<string, Tier> = {
  ControlPlane: 'control-plane',
  ManagementPlane: 'management-plane',
  UserAccess: 'user-data',
};

interface ClassificationRow {
  AppRoleDisplayName?: string;
  ScopeDisplayName?: string;
  EAMTierLevelName?: string;
}

function tierMap(rows: ClassificationRow[], field: 'AppRoleDisplayName' | 'ScopeDisplayName'): Map<string, Tier> {
  const m = new Map<string, Tier>();
  for (const r of rows) {
    const name = r[field];
    const tier = r.EAMTierLevelName ? TIER_NAMES[r.EAMTierLevelName] : undefined;
    if (name && tier) m.set(name, tier);
  }
  return m;
}

/** Reads and compiles the index from a data directory (default: the shipped one). */
export function loadIndex(dir: string = DATA_DIR): CompiledIndex {
  const raw = Object.fromEntries(Object.entries(FILES).map(([k, f]) => [k, readFileSync(dir + f)])) as Record<keyof typeof FILES, Buffer>;
  const hash = createHash('sha256').update(COMPILER_VERSION);
  for (const k of Object.keys(FILES) as Array<keyof typeof FILES>) hash.update(`\0${k}\0`).update(raw[k]);
  const version = 'sha256:' + hash.digest('hex').slice(0, 16);
  const doc = JSON.parse(raw.permissions.toString('utf8')) as PermissionsDocument;
  const supplement = JSON.parse(raw.supplement.toString('utf8')) as SupplementDocument;
  const tiers: TierTable = {
    Application: tierMap(JSON.parse(raw.appRoles.toString('utf8')) as ClassificationRow[], 'AppRoleDisplayName'),
    DelegatedWork: tierMap(JSON.parse(raw.scopes.toString('utf8')) as ClassificationRow[], 'ScopeDisplayName'),
  };
  return compileIndex(doc, supplement, tiers, version);
}

let cached: CompiledIndex | null = null;

/** The shipped index, compiled on first use and shared by every classifier in the process. */
export function defaultIndex(): CompiledIndex {
  cached ??= loadIndex();
  return cached;
}
