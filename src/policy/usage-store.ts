/**
 * The first-use store: a persisted set of (agent, permission) pairs seen through graphwarden, so "first
 * use of a permission" is a fact the caller passes into gatherFacts(). Append-only JSONL in the state
 * directory, loaded at start. Does not decide anything; best effort by design (see docs/policy.md).
 */
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { UsageLookup } from './inputs.js';

export interface UsageStoreEvents {
  usageWriteFailed?(error: Error): void;
}

export interface UsageStore extends UsageLookup {
  /** Marks the pair as used; persisted in the background (resolves when written). */
  record(agentKey: string, permission: string): Promise<void>;
  size(): number;
  /** Resolves when every pending write has been attempted. */
  flush(): Promise<void>;
}

export const USAGE_FILE = 'permission-usage.jsonl';

// Permission names compare case-insensitively. Their lowercase forms are remembered (the names come from a
// small vocabulary; bounded all the same), so a lookup, which runs for every call, allocates nothing.
const folded = new Map<string, string>();
function fold(permission: string): string {
  let f = folded.get(permission);
  if (f === undefined) {
    f = permission.toLowerCase();
    if (folded.size >= 4096) folded.clear();
    folded.set(permission, f);
  }
  return f;
}

export async function createUsageStore(opts: { stateDir?: string; events?: UsageStoreEvents }): Promise<UsageStore> {
  // Per agent, the (folded) permissions it has used.
  const seen = new Map<string, Set<string>>();
  let pairs = 0;
  const add = (agent: string, permission: string): boolean => {
    let used = seen.get(agent);
    if (!used) seen.set(agent, (used = new Set()));
    const f = fold(permission);
    if (used.has(f)) return false;
    used.add(f);
    pairs++;
    return true;
  };
  const file = opts.stateDir ? path.join(opts.stateDir, USAGE_FILE) : undefined;
  if (file) {
    await mkdir(path.dirname(file), { recursive: true });
    let text = '';
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    for (const line of text.split('\n')) {
      if (!line) continue;
      try {
        const { a, p } = JSON.parse(line) as { a: string; p: string };
        add(a, p);
      } catch {
        // A torn last line after a crash: that pair is simply "first used" again.
      }
    }
  }
  let chain: Promise<void> = Promise.resolve();
  return {
    has: (agent, permission) => seen.get(agent)?.has(fold(permission)) ?? false,
    size: () => pairs,
    record(agent, permission) {
      if (!add(agent, permission) || !file) return Promise.resolve();
      const line = `${JSON.stringify({ a: agent, p: permission })}\n`;
      chain = chain.then(() =>
        appendFile(file, line).catch((e: Error) => {
          opts.events?.usageWriteFailed?.(e);
        }),
      );
      return chain;
    },
    flush: () => chain,
  };
}
