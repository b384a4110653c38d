import { describe, it, expect } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createAuditLog, HEAD_FILE, LOG_FILE } from '../../../src/audit/log.js';
import type { AuditLog } from '../../../src/audit/log.js';
import { verifyAuditLog, findDecision } from '../../../src/audit/verify.js';
import { buildDecisionEvent, isSensitive } from '../../../src/audit/event.js';
import type { AuditEvent } from '../../../src/audit/event.js';
import { decide, factsDigest } from '../../../src/decision/decide.js';
import { gatherFacts } from '../../../src/policy/inputs.js';
import { createFixtureView } from '../../../src/policy/fixture-view.js';
import { GraphwardenError } from '../../../src/errors.js';
import { appPrincipal, delegatedPrincipal, operation, policyFrom, APP } from '../policy/helpers.js';
import { failingWrites, interceptWrites, useTempLogs } from './support.js';

const { tmp, logs } = useTempLogs('gw-audit-');

const policy = policyFrom('rules:\n  - id: watch\n    effect: alert\n    reasonCode: watched\n    reason: Watched.\n    when: {}\n');
const view = createFixtureView({ agents: [{ appId: APP, permissions: ['Mail.Read'] }] });
function decisionEvent(i: number, principal = appPrincipal()): AuditEvent {
  const facts = gatherFacts(principal, operation(), view, { now: new Date(Date.UTC(2026, 0, 1, 0, 0, i)) });
  return buildDecisionEvent({ facts, decision: decide(facts, policy, { decisionId: `dec-${i}` }), requestId: `req-${i}`, token: 'eyJhbGciOi.secret.token', body: '{"secret":1}' });
}

async function logWith(n: number): Promise<{ dir: string; log: AuditLog }> {
  const dir = await tmp();
  const log = await createAuditLog({ dir, failMode: 'closed' });
  logs.push(log);
  const results = await Promise.all(Array.from({ length: n }, (_, i) => log.append(decisionEvent(i + 1))));
  expect(results.map((r) => (r.ok ? r.seq : -1))).toEqual(Array.from({ length: n }, (_, i) => i + 1));
  return { dir, log };
}

async function lines(dir: string): Promise<string[]> {
  return (await readFile(path.join(dir, LOG_FILE), 'utf8')).split('\n').filter(Boolean);
}

describe('decision events', () => {
  it('leave out the token and body unless configured; include them only when asked', () => {
    const ev = decisionEvent(1);
    const text = JSON.stringify(ev);
    expect(text).not.toContain('secret');
    expect(text).not.toContain('eyJ');
    const facts = gatherFacts(appPrincipal(), operation(), view, { now: new Date(0) });
    const withBoth = buildDecisionEvent({ facts, decision: decide(facts, policy, { decisionId: 'd' }), token: 'tok', body: 'b' }, { includeToken: true, includeBody: true });
    expect(withBoth.sensitive).toEqual({ token: 'tok', body: 'b' });
  });

  it('can pseudonymise user principal names without changing the facts digest', () => {
    const facts = gatherFacts(delegatedPrincipal(), operation(), view, { now: new Date(0) });
    const d = decide(facts, policy, { decisionId: 'd' });
    const ev = buildDecisionEvent({ facts, decision: d }, { pseudonymiseUserPrincipalName: true });
    expect(ev.facts.agent.userPrincipalName).toMatch(/^upn-sha256:[0-9a-f]{64}$/);
    expect(JSON.stringify(ev)).not.toContain('ada@contoso.test');
    expect(factsDigest(ev.facts)).toBe(d.factsDigest);
  });

  it('a plain allowed read of user data is not sensitive; changes and non-allow verdicts are', () => {
    const facts = gatherFacts(appPrincipal(), operation(), view, { now: new Date(0) });
    const allow = decide(facts, policyFrom('rules:\n  - id: a\n    effect: allow\n    reasonCode: a\n    reason: a\n    when: {}\n'), { decisionId: 'x' });
    expect(isSensitive(facts, allow)).toBe(false);
    expect(isSensitive(facts, decide(facts, policy, { decisionId: 'x' }))).toBe(true);
    const write = gatherFacts(appPrincipal(), operation({ method: 'POST', action: 'create' }), view, { now: new Date(0) });
    expect(isSensitive(write, allow)).toBe(true);
  });
});

describe('hash-chained log', () => {
  it('appends concurrently in order, durably, and verifies clean; reopening continues the chain', async () => {
    const { dir, log } = await logWith(25);
    await log.close();
    logs.splice(logs.indexOf(log), 1);
    expect(await verifyAuditLog(dir)).toMatchObject({ ok: true, records: 25, lastSeq: 25, problems: [] });
    const again = await createAuditLog({ dir, failMode: 'closed' });
    logs.push(again);
    expect(await again.append(decisionEvent(26))).toMatchObject({ ok: true, seq: 26 });
    expect((await verifyAuditLog(dir)).ok).toBe(true);
    const head = JSON.parse(await readFile(path.join(dir, HEAD_FILE), 'utf8')) as { seq: number };
    expect(head.seq).toBe(26);
  });

  it('writes a batch larger than its write buffer, with multi-byte text, byte for byte', async () => {
    const dir = await tmp();
    const log = await createAuditLog({ dir, failMode: 'closed', fsync: false });
    logs.push(log);
    // Rule events with long non-ASCII error texts (2-, 3- and 4-byte UTF-8), appended together so they
    // share batches well past the buffer's first size.
    const events: AuditEvent[] = Array.from({ length: 12 }, (_, i) => ({
      type: 'rules',
      v: 1,
      action: 'reload-failed',
      errors: [`${i}: ${'Zoë ✓ 𝔾raph '.repeat(6000)}`],
      at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
    }));
    const results = await Promise.all(events.map((e) => log.append(e)));
    expect(results.every((r) => r.ok)).toBe(true);
    const written = await lines(dir);
    expect(written.map((l) => (JSON.parse(l) as { event: AuditEvent }).event)).toEqual(events);
    expect(await verifyAuditLog(dir)).toMatchObject({ ok: true, records: 12, problems: [] });
  });

  it('detects tampering: an edited record no longer matches its hash', async () => {
    const { dir } = await logWith(5);
    const ls = await lines(dir);
    ls[2] = ls[2]!.replace('"enforced":"alert"', '"enforced":"allow"');
    await writeFile(path.join(dir, LOG_FILE), `${ls.join('\n')}\n`);
    const r = await verifyAuditLog(dir);
    expect(r.ok).toBe(false);
    expect(r.problems.map((p) => [p.kind, p.seq])).toContainEqual(['hash-mismatch', 3]);
  });

  it('detects tampering even when the edited record’s own hash is recomputed (the next link breaks)', async () => {
    const { recordBody, hashBody, recordLine } = await import('../../../src/audit/log.js');
    const { dir } = await logWith(4);
    const ls = await lines(dir);
    const rec = JSON.parse(ls[1]!) as { seq: number; prevHash: string; hash: string; event: AuditEvent };
    (rec.event as { decisionId: string }).decisionId = 'forged';
    const body = recordBody(rec.seq, rec.prevHash, rec.event);
    ls[1] = recordLine(body, hashBody(rec.prevHash, body));
    expect((await verifyAuditLog(dir)).ok).toBe(true); // not yet written back: the original still verifies
    await writeFile(path.join(dir, LOG_FILE), `${ls.join('\n')}\n`);
    const r = await verifyAuditLog(dir);
    expect(r.problems.map((p) => [p.kind, p.seq])).toContainEqual(['chain-broken', 3]);
  });

  it('detects reordering', async () => {
    const { dir } = await logWith(5);
    const ls = await lines(dir);
    [ls[1], ls[2]] = [ls[2]!, ls[1]!];
    await writeFile(path.join(dir, LOG_FILE), `${ls.join('\n')}\n`);
    const kinds = (await verifyAuditLog(dir)).problems.map((p) => p.kind);
    expect(kinds).toContain('sequence-gap');
    expect(kinds).toContain('chain-broken');
  });

  it('detects deletion in the middle', async () => {
    const { dir } = await logWith(5);
    const ls = await lines(dir);
    ls.splice(2, 1);
    await writeFile(path.join(dir, LOG_FILE), `${ls.join('\n')}\n`);
    expect((await verifyAuditLog(dir)).problems.map((p) => p.kind)).toContain('sequence-gap');
  });

  it('detects truncation of the tail against the head anchor, and refuses to append to it', async () => {
    const { dir, log } = await logWith(6);
    await log.close(); // a clean stop anchors every record (the lagging anchor is tested below)
    const ls = await lines(dir);
    await writeFile(path.join(dir, LOG_FILE), `${ls.slice(0, 4).join('\n')}\n`);
    const r = await verifyAuditLog(dir);
    expect(r.ok).toBe(false);
    expect(r.problems.map((p) => p.kind)).toEqual(['truncated']);
    await expect(createAuditLog({ dir, failMode: 'closed' })).rejects.toSatisfy((e) => e instanceof GraphwardenError && e.code === 'GW_ERR_AUDIT_CORRUPT');
  });

  it('detects a rewritten chain against an anchor kept elsewhere', async () => {
    const { dir } = await logWith(3);
    const r = await verifyAuditLog(dir, { seq: 3, hash: 'f'.repeat(64) });
    expect(r.problems.map((p) => p.kind)).toEqual(['head-mismatch']);
  });

  it('finds a decision and the approval events that refer to it', async () => {
    const { dir, log } = await logWith(3);
    await log.append({ type: 'approval', v: 1, approvalId: 'ap-1', decisionId: 'dec-2', action: 'approved', actor: 'alice@contoso.test', justification: 'change ticket 42', at: '2026-01-01T00:10:00Z' });
    const found = await findDecision(dir, 'dec-2');
    expect(found!.record.event.decisionId).toBe('dec-2');
    expect(found!.approvals.map((a) => a.event.approvalId)).toEqual(['ap-1']);
    expect(await findDecision(dir, 'dec-404')).toBeUndefined();
  });

  it('a failed write is reported and cut back; fail closed refuses sensitive calls, the chain continues after recovery', async () => {
    const dir = await tmp();
    const failures: string[] = [];
    const disk = failingWrites((write, [fd, , , , position]) => {
      write(fd, Buffer.from('{"seq":99,"partial'), 0, 18, position); // a torn write reaches the disk
      throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
    });
    const log = await createAuditLog({
      dir,
      failMode: 'closed',
      events: { auditWriteFailed: (e) => failures.push(e) },
      writeAt: disk.writeAt,
    });
    logs.push(log);
    expect((await log.append(decisionEvent(1))).ok).toBe(true);
    disk.failNext();
    const failed = await log.append(decisionEvent(2));
    expect(failed.ok).toBe(false);
    expect(failures.join()).toMatch(/ENOSPC/);
    expect(log.status()).toMatchObject({ ok: false, seq: 1, failures: 1 });
    expect(log.gate(failed, true)).toBe('refuse');
    expect(log.gate(failed, false)).toBe('proceed');
    expect(await log.append(decisionEvent(3))).toMatchObject({ ok: true, seq: 2 });
    expect(log.status().ok).toBe(true);
    expect(await verifyAuditLog(dir)).toMatchObject({ ok: true, records: 2 });
  });

  it('a batch the disk takes in pieces is written whole; a write that makes no progress fails the batch instead of spinning', async () => {
    const dir = await tmp();
    let stalled = false;
    const calls: number[] = [];
    const log = await createAuditLog({
      dir,
      failMode: 'closed',
      events: { auditWriteFailed: () => undefined },
      // At most 100 bytes per call, as a short write would; or nothing at all once stalled.
      writeAt: interceptWrites((write, [fd, buf, offset, length, position]) => {
        calls.push(length);
        return stalled ? 0 : write(fd, buf, offset, Math.min(length, 100), position);
      }),
    });
    logs.push(log);
    expect(await Promise.all([log.append(decisionEvent(1)), log.append(decisionEvent(2))])).toMatchObject([{ ok: true }, { ok: true }]);
    expect(calls.length).toBeGreaterThan(10); // each record is several hundred bytes
    stalled = true;
    expect(await log.append(decisionEvent(3))).toMatchObject({ ok: false, error: expect.stringMatching(/no progress/) });
    stalled = false;
    expect(await log.append(decisionEvent(4))).toMatchObject({ ok: true, seq: 3 });
    expect(await verifyAuditLog(dir)).toMatchObject({ ok: true, records: 3 });
  });

  it('writes a prerequisite once, just before the first record that requires it, and again after a failed write or a restart', async () => {
    const dir = await tmp();
    const disk = failingWrites(() => {
      throw Object.assign(new Error('EIO: i/o error'), { code: 'EIO' });
    });
    const head = (id: string) => ({ id, json: JSON.stringify({ type: 'rules', v: 1, action: 'loaded', revision: id, at: 'x' }) });
    const types = async () => (await readFile(path.join(dir, LOG_FILE), 'utf8')).trim().split('\n').map((l) => {
      const e = (JSON.parse(l) as { event: { type: string; revision?: string; decisionId?: string } }).event;
      return e.revision ?? e.decisionId;
    });
    let log = await createAuditLog({ dir, failMode: 'closed', writeAt: disk.writeAt });
    logs.push(log);
    // Two in one batch and one in a later batch: the prerequisite is written once, before the first.
    await Promise.all([log.append(decisionEvent(1), undefined, { requires: head('h-a') }), log.append(decisionEvent(2), undefined, { requires: head('h-a') })]);
    expect(await log.append(decisionEvent(3), undefined, { requires: head('h-a') })).toMatchObject({ ok: true, seq: 4 });
    // A batch that fails leaves its prerequisite unwritten: the next record requiring it writes it.
    disk.failNext();
    expect((await log.append(decisionEvent(4), undefined, { requires: head('h-b') })).ok).toBe(false);
    expect(await log.append(decisionEvent(5), undefined, { requires: head('h-b') })).toMatchObject({ ok: true, seq: 6 });
    await log.close();
    // Another process does not know what the file holds: it writes a prerequisite again on first use.
    log = await createAuditLog({ dir, failMode: 'closed' });
    logs.push(log);
    await log.append(decisionEvent(6), undefined, { requires: head('h-a') });
    await log.close();
    expect(await types()).toEqual(['h-a', 'dec-1', 'dec-2', 'dec-3', 'h-b', 'dec-5', 'h-a', 'dec-6']);
    expect(await verifyAuditLog(dir)).toMatchObject({ ok: true, records: 8 });
  });

  it('fail open lets a sensitive call through and counts it', async () => {
    let failOpen = 0;
    const log = await createAuditLog({ dir: await tmp(), failMode: 'open', events: { auditFailOpen: () => failOpen++ } });
    logs.push(log);
    expect(log.gate({ ok: false, error: 'x' }, true)).toBe('proceed');
    expect(log.gate({ ok: false, error: 'x' }, false)).toBe('proceed');
    expect(log.gate({ ok: true, seq: 1, hash: 'h' }, true)).toBe('proceed');
    expect(failOpen).toBe(1);
  });
});

describe('rejectingAppender', () => {
  it('resolves for a durable approval event (no version field needed) and rejects when the append failed', async () => {
    const { rejectingAppender } = await import('../../../src/audit/log.js');
    const ok = rejectingAppender({ append: () => Promise.resolve({ ok: true, seq: 1, hash: 'h' }), gate: () => 'proceed', status: () => ({ ok: true, seq: 1, failures: 0 }), close: () => Promise.resolve() });
    await expect(ok.append({ type: 'approval', approvalId: 'a', action: 'approved', actor: 'alice', at: '2026-01-01T00:00:00Z' })).resolves.toBeUndefined();
    const bad = rejectingAppender({ append: () => Promise.resolve({ ok: false, error: 'disk full' }), gate: () => 'refuse', status: () => ({ ok: false, seq: 0, failures: 1 }), close: () => Promise.resolve() });
    await expect(bad.append({ type: 'approval', approvalId: 'a', action: 'denied', actor: 'bob', at: '2026-01-01T00:00:00Z' })).rejects.toThrow('disk full');
  });
});
