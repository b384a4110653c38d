import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import Database from 'better-sqlite3';
import ts from 'typescript';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApprovalService } from '../../../src/approval/hold.js';
import { createOverrides } from '../../../src/approval/overrides.js';
import { createApprovalStore, SCHEMA_VERSION, STORE_FILE } from '../../../src/approval/store.js';
import { AGENT_APP, fakeClock, holdRequest, keyParts, manualTimers, recorder, tempDir } from './helpers.js';

const root = path.resolve(import.meta.dirname, '../../..');
const alice = { name: 'alice', ids: [] };

describe('approval store durability', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(() => tmp.cleanup());

  it('uses WAL, owner-only permissions and records its schema version', () => {
    const store = createApprovalStore({ stateDir: tmp.dir });
    store.close();
    const db = new Database(path.join(tmp.dir, STORE_FILE), { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.prepare('SELECT version FROM schema_version').get()).toEqual({ version: SCHEMA_VERSION });
    db.close();
    expect(statSync(path.join(tmp.dir, STORE_FILE)).mode & 0o777).toBe(0o600);
  });

  it('refuses a store written by a newer schema (fail closed)', () => {
    createApprovalStore({ stateDir: tmp.dir }).close();
    const db = new Database(path.join(tmp.dir, STORE_FILE));
    db.prepare('UPDATE schema_version SET version = ?').run(SCHEMA_VERSION + 1);
    db.close();
    expect(() => createApprovalStore({ stateDir: tmp.dir })).toThrow(/newer/);
  });

  it('a restart keeps pending requests pending and records the interrupted holds as abandoned', async () => {
    const clock = fakeClock();
    const rec = recorder();
    let store = createApprovalStore({ stateDir: tmp.dir });
    const svc1 = createApprovalService({ store, audit: rec.audit, clock: clock.now, timers: manualTimers() });
    void svc1.hold(holdRequest('d1'), new AbortController().signal);
    const id = svc1.list()[0]!.id;
    // No cleanup: the process "dies" with the call still held.
    store.close();

    store = createApprovalStore({ stateDir: tmp.dir });
    const svc2 = createApprovalService({ store, audit: rec.audit, clock: clock.now, timers: manualTimers() });
    expect(svc2.get(id)!.state).toBe('pending');
    expect(svc2.recover()).toBe(1);
    expect(rec.events.at(-1)).toMatchObject({ action: 'abandoned', approvalId: id, decisionId: 'd1', actor: 'system' });
    expect(svc2.recover()).toBe(0);
    expect(svc2.approve(id, alice, { justification: 'ok' }).ok).toBe(true);
    expect(await svc2.hold(holdRequest('d2'), new AbortController().signal)).toEqual({ kind: 'approved', approvalId: id });
    store.close();
  });

  it('survives kill -9 right after writing: pending, approved and overrides are all there', async () => {
    // Compile the store and service to plain ESM the child can run, in a temp dir whose
    // node_modules links to the project's so better-sqlite3 resolves.
    const out = mkdtempSync(path.join(os.tmpdir(), 'gw-approval-kill9-'));
    symlinkSync(path.join(root, 'node_modules'), path.join(out, 'node_modules'), 'dir');
    try {
      for (const f of ['model', 'ports', 'store', 'hold', 'overrides']) {
        const src = readFileSync(path.join(root, 'src', 'approval', `${f}.ts`), 'utf8');
        const js = ts.transpileModule(src, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true } }).outputText;
        writeFileSync(path.join(out, `${f}.js`), js);
      }
      const child = `
        import { createApprovalStore } from './store.js';
        import { createApprovalService } from './hold.js';
        import { createOverrides } from './overrides.js';
        const [dir, req, agent] = process.argv.slice(2);
        const store = createApprovalStore({ stateDir: dir });
        const audit = { append() {} };
        const svc = createApprovalService({ store, audit, clock: Date.now });
        const parsed = JSON.parse(req);
        svc.hold(parsed, new AbortController().signal);
        svc.hold({ ...parsed, decisionId: 'k2', key: { ...parsed.key, bodyDigest: 'e'.repeat(64) } }, new AbortController().signal);
        const second = svc.list({ state: 'pending' }).find((a) => a.keyParts.bodyDigest === 'e'.repeat(64));
        svc.approve(second.id, { name: 'alice', ids: [] }, { justification: 'ok', uses: 2 });
        createOverrides({ store, audit, clock: Date.now }).create({ agent, operations: [{ ruleId: 'r1' }], until: Date.now() + 3600000, justification: 'incident 7' }, { name: 'alice', ids: [] });
        process.stdout.write('written\\n');
        process.kill(process.pid, 'SIGKILL');
      `;
      writeFileSync(path.join(out, 'child.mjs'), child);
      const proc = spawn(process.execPath, [path.join(out, 'child.mjs'), tmp.dir, JSON.stringify(holdRequest('k1', { waitMs: 600_000 })), AGENT_APP], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const [code, signal] = (await once(proc, 'exit')) as [number | null, string | null];
      expect({ code, signal, stderr }).toEqual({ code: null, signal: 'SIGKILL', stderr: '' });
      expect(stdout).toBe('written\n');

      const rec = recorder();
      const store = createApprovalStore({ stateDir: tmp.dir });
      const svc = createApprovalService({ store, audit: rec.audit, clock: Date.now, timers: manualTimers() });
      expect(svc.list({ state: 'pending' })).toHaveLength(1);
      expect(svc.list({ state: 'approved' })).toHaveLength(1);
      expect(svc.recover()).toBe(1);
      expect(svc.consume(keyParts({ bodyDigest: 'e'.repeat(64) }), 'k3')).not.toBeNull();
      const overrides = createOverrides({ store, audit: rec.audit, clock: Date.now });
      expect(overrides.activeOverridesFor(AGENT_APP, ['r1'], undefined, Date.now())).toHaveLength(1);
      store.close();
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
