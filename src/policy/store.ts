/**
 * The policy store, the effectful edge of policy/: reads the rules directory, compiles it, swaps the
 * compiled policy atomically (one reference assignment), watches for changes (fs.watch + debounce, or an
 * explicit `reload()`), keeps the last good set when a change is invalid, and persists every revision's
 * sources in the state directory so any past decision can be replayed. Does not evaluate rules.
 */
import { watch as fsWatch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { mkdir, readFile, rename, writeFile, access } from 'node:fs/promises';
import path from 'node:path';
import { GraphwardenError } from '../errors.js';
import { compilePolicy, readRuleSources, revisionOf } from './compile.js';
import type { CompiledPolicy, RuleSource } from './compile.js';

export interface PolicyEvents {
  reloaded?(revision: string, rules: number): void;
  reloadFailed?(errors: string[]): void;
}

export interface PolicyStoreOptions {
  /** The rules directory (top-level *.yaml plus controls.yaml). */
  dir: string;
  /** State directory: revisions are kept under `<stateDir>/rules-revisions/`. Omit to keep none (tests, CLI). */
  stateDir?: string;
  /** Watch the directory and reload on change. Default true. */
  watch?: boolean;
  /** Quiet time after the last change before reloading (editors write files in several steps). Default 250 ms. */
  debounceMs?: number;
  events?: PolicyEvents;
}

export interface PolicyStatus {
  /** false when the last reload attempt failed (the previous good revision is still in force). */
  ok: boolean;
  revision: string;
  rules: number;
  mode: CompiledPolicy['settings']['mode'];
  loadedAt: string;
  lastError?: { at: string; errors: string[] };
}

export type ReloadResult = { ok: true; revision: string; changed: boolean } | { ok: false; errors: string[] };

export interface PolicyStore {
  /** The policy in force now. Read it once per request and use that object for the whole decision. */
  current(): CompiledPolicy;
  reload(): Promise<ReloadResult>;
  status(): PolicyStatus;
  /** A compiled policy by revision (the current one, or one persisted in the state directory). */
  byRevision(revision: string): Promise<CompiledPolicy | undefined>;
  close(): void;
}

export const REVISIONS_DIR = 'rules-revisions';

/** Saves a revision's sources once (write to a temporary file, then rename: never a half-written file). */
export async function persistRevision(stateDir: string, policy: CompiledPolicy): Promise<void> {
  const dir = path.join(stateDir, REVISIONS_DIR);
  const file = path.join(dir, `${policy.revision}.json`);
  try {
    await access(file);
    return;
  } catch {
    // not saved yet
  }
  await mkdir(dir, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify({ revision: policy.revision, sources: policy.sources }, null, 1));
  await rename(tmp, file);
}

/** Loads and recompiles a persisted revision; refuses a file whose content does not hash to its name. */
export async function loadRevision(stateDir: string, revision: string): Promise<CompiledPolicy | undefined> {
  if (!/^[0-9a-f]{64}$/.test(revision)) return undefined;
  let raw: string;
  try {
    raw = await readFile(path.join(stateDir, REVISIONS_DIR, `${revision}.json`), 'utf8');
  } catch {
    return undefined;
  }
  const doc = JSON.parse(raw) as { sources?: RuleSource[] };
  const sources = doc.sources ?? [];
  if (revisionOf(sources) !== revision) throw new Error(`rules revision ${revision} was altered on disk (its content hashes differently)`);
  const r = compilePolicy(sources);
  if (!r.ok) throw new Error(`rules revision ${revision} no longer compiles: ${r.errors.join('; ')}`);
  return r.policy;
}

class Store implements PolicyStore {
  #policy: CompiledPolicy;
  #loadedAt: string;
  #lastError: { at: string; errors: string[] } | undefined;
  #opts: PolicyStoreOptions;
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #inflight: Promise<ReloadResult> | undefined;
  #again = false;
  #cache = new Map<string, CompiledPolicy>();

  constructor(policy: CompiledPolicy, opts: PolicyStoreOptions) {
    this.#policy = policy;
    this.#loadedAt = new Date().toISOString();
    this.#opts = opts;
    this.#cache.set(policy.revision, policy);
    if (opts.watch !== false) {
      this.#watcher = fsWatch(opts.dir, { persistent: false }, (_event, name) => {
        if (name === null || /\.ya?ml$/i.test(String(name))) this.#schedule();
      });
      this.#watcher.on('error', (err) => this.#fail([`watching ${opts.dir} failed: ${err.message}`]));
    }
  }

  current(): CompiledPolicy {
    return this.#policy;
  }

  status(): PolicyStatus {
    return {
      ok: this.#lastError === undefined,
      revision: this.#policy.revision,
      rules: this.#policy.rules.length,
      mode: this.#policy.settings.mode,
      loadedAt: this.#loadedAt,
      ...(this.#lastError ? { lastError: this.#lastError } : {}),
    };
  }

  #schedule(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.reload();
    }, this.#opts.debounceMs ?? 250);
    this.#timer.unref();
  }

  #fail(errors: string[]): ReloadResult {
    this.#lastError = { at: new Date().toISOString(), errors };
    this.#opts.events?.reloadFailed?.(errors);
    return { ok: false, errors };
  }

  reload(): Promise<ReloadResult> {
    // One reload at a time; a change during a reload triggers one more afterwards.
    if (this.#inflight) {
      this.#again = true;
      return this.#inflight;
    }
    const run = async (): Promise<ReloadResult> => {
      let result: ReloadResult;
      do {
        this.#again = false;
        result = await this.#reloadOnce();
      } while (this.#again);
      return result;
    };
    this.#inflight = run().finally(() => {
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  async #reloadOnce(): Promise<ReloadResult> {
    let sources: RuleSource[];
    try {
      sources = await readRuleSources(this.#opts.dir);
    } catch (e) {
      return this.#fail([`cannot read ${this.#opts.dir}: ${(e as Error).message}`]);
    }
    const r = compilePolicy(sources);
    if (!r.ok) return this.#fail(r.errors);
    const changed = r.policy.revision !== this.#policy.revision;
    if (this.#opts.stateDir) {
      try {
        await persistRevision(this.#opts.stateDir, r.policy);
      } catch (e) {
        // Without the persisted sources decisions could not be replayed: keep the last good set.
        return this.#fail([`cannot persist rules revision: ${(e as Error).message}`]);
      }
    }
    this.#cache.set(r.policy.revision, r.policy);
    this.#policy = r.policy;
    this.#loadedAt = new Date().toISOString();
    this.#lastError = undefined;
    this.#opts.events?.reloaded?.(r.policy.revision, r.policy.rules.length);
    return { ok: true, revision: r.policy.revision, changed };
  }

  async byRevision(revision: string): Promise<CompiledPolicy | undefined> {
    const hit = this.#cache.get(revision);
    if (hit) return hit;
    if (!this.#opts.stateDir) return undefined;
    const p = await loadRevision(this.#opts.stateDir, revision);
    if (p) this.#cache.set(revision, p);
    return p;
  }

  close(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#watcher?.close();
  }
}

/** Loads the rules once (an invalid rule set at startup is fatal: there is no last good set yet). */
export async function createPolicyStore(opts: PolicyStoreOptions): Promise<PolicyStore> {
  const sources = await readRuleSources(opts.dir).catch((e: Error) => {
    throw new GraphwardenError('GW_ERR_POLICY_INVALID', `cannot read rules directory ${opts.dir}: ${e.message}`);
  });
  const r = compilePolicy(sources);
  if (!r.ok) throw new GraphwardenError('GW_ERR_POLICY_INVALID', `rules in ${opts.dir} are invalid:\n  ${r.errors.join('\n  ')}`);
  if (opts.stateDir) await persistRevision(opts.stateDir, r.policy);
  opts.events?.reloaded?.(r.policy.revision, r.policy.rules.length);
  return new Store(r.policy, opts);
}
