/**
 * The first-use store: a persisted set of (agent, permission) pairs seen through graphwarden, so "first
 * use of a permission" is a fact the caller passes into gatherFacts(). Append-only JSONL in the state
 * directory, loaded at start. Does not decide anything; best effort by design (see docs/policy.md).
 */
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { UsageLookup } from './inputs.js';
import { lowerCased } from './lower.js';

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

export async function createUsageStore(opts: { stateDir?: string; events?: UsageStoreEvents }): Promise<UsageStore> {
  // Per agent, the permissions it has used, lower-cased (names compare case-insensitively); the shared
  // memo gives the same lower-cased string each time, so a lookup, made for every call, allocates nothing.
  const seen = new Map<string, Set<string>>();
  let pairs = 0;
  const add = (agent: string, permission: string): boolean => {
    let used = seen.get(agent);
    if (!used) seen.set(agent, (used = new Set()));
    const f = lowerCased(permission);
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
    has: (agent, permission) => seen.get(agent)?.has(lowerCased(permission)) ?? false,
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
