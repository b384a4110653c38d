import { describe, it, expect, afterEach } from 'vitest';
import { mkdtemp, writeFile, rm, readFile, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createPolicyStore, REVISIONS_DIR } from '../../../src/policy/store.js';
import type { PolicyStore } from '../../../src/policy/store.js';
import { createUsageStore } from '../../../src/policy/usage-store.js';
import { agentKey } from '../../../src/policy/inputs.js';
import { compilePolicy, readRuleSources, SHIPPED_RULES_DIR } from '../../../src/policy/compile.js';
import { GraphwardenError } from '../../../src/errors.js';

const rules = (id: string) => `rules:\n  - id: ${id}\n    effect: alert\n    reasonCode: x\n    reason: y\n    when: {}\n`;
const dirs: string[] = [];
const stores: PolicyStore[] = [];
async function tmp(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'gw-policy-'));
  dirs.push(d);
  return d;
}
afterEach(async () => {
  for (const s of stores.splice(0)) s.close();
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe('shipped rules', () => {
  it('rules/ validates and compiles, and every rule cites known controls', async () => {
    const sources = await readRuleSources(SHIPPED_RULES_DIR.pathname);
    const r = compilePolicy(sources);
    expect(r.ok ? [] : r.errors).toEqual([]);
    if (!r.ok) return;
    expect(r.policy.rules.length).toBeGreaterThan(10);
    for (const rule of r.policy.rules) expect(rule.controls.length).toBeGreaterThan(0);
  });
});

describe('policy store', () => {
  it('an invalid rule set at startup is fatal with GW_ERR_POLICY_INVALID', async () => {
    const dir = await tmp();
    await writeFile(path.join(dir, 'a.yaml'), 'rules: [ { id: x } ]');
    await expect(createPolicyStore({ dir, watch: false })).rejects.toSatisfy((e) => e instanceof GraphwardenError && e.code === 'GW_ERR_POLICY_INVALID');
  });

  it('reload swaps to a new revision; an invalid change keeps the last good set and is reported', async () => {
    const dir = await tmp();
    const state = await tmp();
    await writeFile(path.join(dir, 'a.yaml'), rules('first'));
    const reloaded: string[] = [];
    const failed: string[][] = [];
    const store = await createPolicyStore({ dir, stateDir: state, watch: false, events: { reloaded: (r) => reloaded.push(r), reloadFailed: (e) => failed.push(e) } });
    stores.push(store);
    const first = store.current();
    expect(first.rules[0]!.id).toBe('first');

    await writeFile(path.join(dir, 'a.yaml'), rules('second'));
    const ok = await store.reload();
    expect(ok).toMatchObject({ ok: true, changed: true });
    expect(store.current().rules[0]!.id).toBe('second');
    expect(store.status().ok).toBe(true);

    await writeFile(path.join(dir, 'a.yaml'), 'rules: [ { id: broken } ]');
    const bad = await store.reload();
    expect(bad.ok).toBe(false);
    expect(store.current().rules[0]!.id).toBe('second');
    const st = store.status();
    expect(st.ok).toBe(false);
    expect(st.lastError!.errors.join()).toMatch(/a\.yaml/);
    expect(failed).toHaveLength(1);
    expect(reloaded).toEqual([first.revision, store.current().revision]);

    // Both revisions are persisted and come back by revision, also from a fresh store.
    const fresh = await createPolicyStore({ dir: SHIPPED_RULES_DIR.pathname, stateDir: state, watch: false });
    stores.push(fresh);
    expect((await fresh.byRevision(first.revision))!.rules[0]!.id).toBe('first');
    expect(await fresh.byRevision('0'.repeat(64))).toBeUndefined();
  });

  it('a persisted revision whose content was altered is refused', async () => {
    const dir = await tmp();
    const state = await tmp();
    await writeFile(path.join(dir, 'a.yaml'), rules('orig'));
    const s = await createPolicyStore({ dir, stateDir: state, watch: false });
    s.close();
    const rev = s.current().revision;
    const file = path.join(state, REVISIONS_DIR, `${rev}.json`);
    await writeFile(file, (await readFile(file, 'utf8')).replace('orig', 'evil'));
    const other = await createPolicyStore({ dir: SHIPPED_RULES_DIR.pathname, stateDir: state, watch: false });
    stores.push(other);
    await expect(other.byRevision(rev)).rejects.toThrow(/altered/);
  });

  it('watches the directory: a saved change is picked up without an explicit reload', async () => {
    const dir = await tmp();
    await writeFile(path.join(dir, 'a.yaml'), rules('before'));
    let onReload!: (rev: string) => void;
    const next = new Promise<string>((resolve) => (onReload = resolve));
    let initial = true;
    const store = await createPolicyStore({
      dir,
      debounceMs: 10,
      events: {
        reloaded: (rev) => {
          if (initial) initial = false;
          else onReload(rev);
        },
      },
    });
    stores.push(store);
    await copyFile(path.join(dir, 'a.yaml'), path.join(dir, 'b.yaml.tmp')); // not a rules file: ignored
    await writeFile(path.join(dir, 'a.yaml'), rules('after'));
    const rev = await next;
    expect(rev).toBe(store.current().revision);
    expect(store.current().rules[0]!.id).toBe('after');
  });
});

describe('usage store', () => {
  it('remembers (agent, permission) pairs across restarts, case-insensitively on the permission', async () => {
    const state = await tmp();
    const a = await createUsageStore({ stateDir: state });
    expect(a.has('t/app', 'Mail.Read')).toBe(false);
    await a.record('t/app', 'Mail.Read');
    await a.record('t/app', 'Mail.Read');
    expect(a.has('t/app', 'mail.read')).toBe(true);
    const b = await createUsageStore({ stateDir: state });
    expect(b.has('t/app', 'Mail.Read')).toBe(true);
    expect(b.has('t/other', 'Mail.Read')).toBe(false);
    expect(b.size()).toBe(1);
    await b.record('t/app', 'User.Read.All');
    await b.record('t/other', 'MAIL.READ');
    expect([b.has('t/app', 'user.read.all'), b.has('t/other', 'Mail.Read'), b.has('t/other', 'User.Read.All')]).toEqual([true, true, false]);
    expect(b.size()).toBe(3);
    expect((await createUsageStore({ stateDir: state })).size()).toBe(3);
  });

  it("an agent's key follows its tenant and app: made once for a frozen (verified) principal, afresh for any other object", () => {
    const frozen = Object.freeze({ tenantId: 't1', appId: 'a1' });
    expect(agentKey(frozen)).toBe('t1/a1');
    expect(agentKey(frozen)).toBe('t1/a1');
    const open = { tenantId: 't1', appId: 'a1' };
    expect(agentKey(open)).toBe('t1/a1');
    open.appId = 'a2';
    expect(agentKey(open)).toBe('t1/a2');
  });
});
