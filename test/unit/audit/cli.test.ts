import { describe, it, expect, afterEach, vi } from 'vitest';
import { mkdtemp, rm, readFile, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPolicyStore } from '../../../src/policy/store.js';
import { SHIPPED_RULES_DIR } from '../../../src/policy/compile.js';
import { createDecider } from '../../../src/decision/decider.js';
import { createAuditLog, LOG_FILE } from '../../../src/audit/log.js';
import { createUsageStore } from '../../../src/policy/usage-store.js';
import { createFixtureView } from '../../../src/policy/fixture-view.js';
import { refusal } from '../../../src/decision/respond.js';
import * as explainCli from '../../../src/cli/explain.js';
import * as auditCli from '../../../src/cli/audit.js';
import * as rulesCli from '../../../src/cli/rules.js';
import { appPrincipal, operation, APP } from '../policy/helpers.js';

const dirs: string[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

function capture(): { out: () => string } {
  const lines: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
  vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
  vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    lines.push(String(s));
    return true;
  });
  return { out: () => lines.join('\n') };
}

/** A state directory with real decisions made through the shipped rules, as the proxy would leave it. */
async function stateWithDecisions() {
  const state = await mkdtemp(path.join(tmpdir(), 'gw-state-'));
  dirs.push(state);
  const store = await createPolicyStore({ dir: fileURLToPath(SHIPPED_RULES_DIR), stateDir: state, watch: false });
  const audit = await createAuditLog({ dir: path.join(state, 'audit'), failMode: 'closed' });
  const usage = await createUsageStore({ stateDir: state });
  let n = 0;
  const decider = createDecider({ policy: store, audit, usage, newId: () => `dec-${++n}`, clock: () => new Date('2026-03-04T10:00:00Z') });
  const view = createFixtureView({
    snapshotId: 'snap-abc',
    agents: [{ appId: APP, servicePrincipalId: 'sp-1', displayName: 'Inbox summariser', owners: [{ id: 'u-owner', displayName: 'Grace Hopper' }], permissions: [{ permission: 'Mail.Read', via: [{ kind: 'appRoleAssignment', id: 'ara-77', description: 'app role assignment Mail.Read on Microsoft Graph' }] }] }],
  });
  const revoked = decider.evaluate({ principal: appPrincipal({ roles: ['Mail.Read', 'Mail.ReadWrite'] }), operation: operation({ method: 'PATCH', action: 'update', needs: ['Mail.ReadWrite'] }), view, requestId: 'req-1' });
  const read = decider.evaluate({ principal: appPrincipal(), operation: operation(), view, requestId: 'req-2' });
  expect(await decider.admit(revoked)).toBe('proceed');
  await read.audited;
  await usage.flush();
  await audit.close();
  store.close();
  return { state, revoked, read };
}

describe('graphwarden explain', () => {
  it('prints who, what, rule → reason → proof → controls, and the replay comes out the same', async () => {
    const { state, revoked } = await stateWithDecisions();
    expect(refusal(revoked.decision, new Date())!.body.error.innerError['request-id']).toBe('dec-1');
    const c = capture();
    expect(await explainCli.run(['dec-1', '--dir', state])).toBe(0);
    const text = c.out();
    expect(text).toContain('Decision dec-1: BLOCKED');
    expect(text).toContain('"Inbox summariser"');
    expect(text).toContain('Grace Hopper');
    expect(text).toContain('app-only token');
    expect(text).toContain('block-permission-revoked');
    expect(text).toContain('The token still carries Mail.ReadWrite');
    expect(text).toContain('uti-1');
    expect(text).toContain('snap-abc');
    expect(text).toContain(revoked.decision.rulesRevision);
    expect(text).toContain('SOC 2 (AICPA Trust Services Criteria 2017) CC6.1');
    expect(text).toContain('ISO/IEC 27001:2022 Annex A A.5.18');
    expect(text).toContain('EU AI Act (Regulation (EU) 2024/1689) Art. 15');
    expect(text).toContain('gives the same decision');
    expect(text).not.toMatch(/eyJ/);
  });

  it('--json carries the record, controls and replay result; the allowed read names its provenance', async () => {
    const { state } = await stateWithDecisions();
    const c = capture();
    expect(await explainCli.run(['dec-2', '--dir', state, '--json'])).toBe(0);
    const j = JSON.parse(c.out()) as { replay: { same: boolean; factsIntact: boolean }; event: { v: number; facts: { agent: { displayName: string } }; decision: { reasonCode: string } }; factsHead: { seq: number; intact: boolean }; narrative: string; controls: unknown[] };
    expect(j.replay).toEqual({ same: true, differences: [], factsIntact: true });
    // The compact record made whole, and where its facts head is.
    expect(j.event.v).toBe(1);
    expect(j.event.facts.agent.displayName).toBe('Inbox summariser');
    expect(j.factsHead).toMatchObject({ seq: 3, intact: true });
    expect(j.event.decision.reasonCode).toBe('first-use-of-permission');
    expect(j.narrative).toContain('ara-77');
    expect(j.controls.length).toBeGreaterThan(0);
  });

  it('a replay shows when recorded facts were edited after the fact', async () => {
    const { state } = await stateWithDecisions();
    const file = path.join(state, 'audit', LOG_FILE);
    await writeFile(file, (await readFile(file, 'utf8')).replace('"held":false', '"held":true'));
    const c = capture();
    expect(await explainCli.run(['dec-1', '--dir', state])).toBe(0);
    expect(c.out()).toContain('NO LONGER match their digest');
  });

  it('a decision whose facts head is gone from the log is an error, and verify names what is missing', async () => {
    const { state } = await stateWithDecisions();
    const file = path.join(state, 'audit', LOG_FILE);
    const lines = (await readFile(file, 'utf8')).split('\n');
    expect(JSON.parse(lines[0]!).event.type).toBe('facts-head');
    await writeFile(file, lines.slice(1).join('\n'));
    const c = capture();
    expect(await explainCli.run(['dec-1', '--dir', state])).toBe(1);
    expect(c.out()).toMatch(/names facts sha256:[0-9a-f]{64}, which are not in the log before it/);
    expect(await auditCli.run(['verify', '--dir', state])).toBe(1);
    expect(c.out()).toMatch(/names facts sha256:[0-9a-f]{64} that no earlier record holds/);
  });

  it('an unknown decision id is an error', async () => {
    const { state } = await stateWithDecisions();
    capture();
    expect(await explainCli.run(['nope', '--dir', state])).toBe(1);
  });
});

describe('graphwarden audit', () => {
  it('verify: 0 when intact, 1 after tampering; head prints the anchor; --expect-head checks it', async () => {
    const { state } = await stateWithDecisions();
    let c = capture();
    expect(await auditCli.run(['verify', '--dir', state])).toBe(0);
    // Each decision's record names the facts parts it shares with other calls, written once before it.
    expect(c.out()).toContain('intact: 4 records');
    vi.restoreAllMocks();
    c = capture();
    expect(await auditCli.run(['head', '--dir', state])).toBe(0);
    const head = c.out().trim();
    expect(head).toMatch(/^4:[0-9a-f]{64}$/);
    expect(await auditCli.run(['verify', '--dir', state, '--expect-head', head])).toBe(0);
    expect(await auditCli.run(['verify', '--dir', state, '--expect-head', `4:${'0'.repeat(64)}`])).toBe(1);
    const file = path.join(state, 'audit', LOG_FILE);
    await writeFile(file, (await readFile(file, 'utf8')).replace('Inbox summariser', 'Someone else'));
    expect(await auditCli.run(['verify', '--dir', state])).toBe(1);
  });
});

describe('graphwarden rules', () => {
  it('validate and test the shipped rules', async () => {
    const c = capture();
    const dir = fileURLToPath(SHIPPED_RULES_DIR);
    expect(await rulesCli.run(['validate', dir])).toBe(0);
    expect(await rulesCli.run(['test', dir])).toBe(0);
    expect(c.out()).toMatch(/\d+ passed, 0 failed/);
  });

  it('an invalid rules directory and a failing case both exit 1', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'gw-rules-'));
    dirs.push(dir);
    await writeFile(path.join(dir, 'a.yaml'), 'rules:\n  - id: all-alert\n    effect: alert\n    reasonCode: x\n    reason: y\n    when: {}\n');
    await mkdir(path.join(dir, 'tests'));
    await writeFile(path.join(dir, 'tests', 't.yaml'), 'cases:\n  - name: wrong on purpose\n    principal: { appId: a }\n    operation: { template: /users }\n    expect: { effect: block }\n');
    const c = capture();
    expect(await rulesCli.run(['test', dir])).toBe(1);
    expect(c.out()).toContain('effect: expected block, got alert');
    await writeFile(path.join(dir, 'a.yaml'), 'rules: [ { id: broken } ]');
    expect(await rulesCli.run(['validate', dir])).toBe(1);
  });
});
