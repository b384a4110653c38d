// gatherFacts shares the parts that repeat between calls (token, agent, permission lists, snapshot):
// shared parts must be exactly what a first call builds, follow the view and the principal they come
// from, and be frozen so no consumer can change what later decisions see.
import { describe, it, expect } from 'vitest';
import { gatherFacts } from '../../../src/policy/inputs.js';
import type { DecisionFacts } from '../../../src/policy/inputs.js';
import type { DirectoryView, EffectivePermissions } from '../../../src/directory/view.js';
import { createFixtureView } from '../../../src/policy/fixture-view.js';
import { jsonWithShared, shareJson } from '../../../src/policy/shared-json.js';
import { serialiseFacts } from '../../../src/audit/event.js';
import { appPrincipal, delegatedPrincipal, operation, APP } from './helpers.js';
import type { Principal } from '../../../src/identity/principal.js';

const now = new Date('2026-01-01T00:00:00Z');
const agentSpec = { appId: APP, servicePrincipalId: 'sp-1', displayName: 'Mail agent', tags: ['t-1'], owners: [{ id: 'owner-1', displayName: 'Ada' }], permissions: ['Mail.Read'], eligibleRoles: [{ displayName: 'Global Administrator', privileged: true }] };
const view1 = createFixtureView({ snapshotId: 'snap-1', agents: [agentSpec], delegated: [{ appId: APP, userId: 'user-1', permissions: ['Mail.Read'] }] });
const view2 = createFixtureView({ snapshotId: 'snap-2', agents: [{ ...agentSpec, displayName: 'Renamed agent', tags: ['t-2'] }] });

/** The same facts rebuilt from scratch as plain data (what an unshared gatherFacts would give). */
const plain = (f: DecisionFacts): DecisionFacts => JSON.parse(JSON.stringify(f)) as DecisionFacts;

describe('shared facts parts', () => {
  it('a repeated call gives the same facts as the first, and the same texts as JSON.stringify', () => {
    for (const principal of [appPrincipal({ roles: ['Mail.Read', 'User.Read.All'] }), delegatedPrincipal()]) {
      const op = operation();
      const first = gatherFacts(principal, op, view1, { now });
      const second = gatherFacts(principal, op, view1, { now: new Date(now.getTime() + 1000) });
      expect(second).toEqual({ ...plain(first), at: '2026-01-01T00:00:01.000Z' });
      expect(second.token).toBe(first.token); // shared, not rebuilt
      expect(second.agent).toBe(first.agent);
      expect(second.operation.needs).toBe(first.operation.needs);
      for (const f of [first, second]) expect(serialiseFacts(f).record).toBe(JSON.stringify(f));
    }
  });

  it('share the parts built from one effective answer (roles, names held, provenance) and follow a new answer', () => {
    // As the directory's view does: the same answer object until something changes (e.g. a PIM window ends).
    let answer: EffectivePermissions | undefined;
    const cached: DirectoryView = { ...view1, effective: (p) => (answer ??= view1.effective(p)) };
    const principal = appPrincipal();
    const op = operation();
    const first = gatherFacts(principal, op, cached, { now });
    const second = gatherFacts(principal, op, cached, { now });
    expect(second.permissions.holds).toBe(first.permissions.holds);
    expect(second.permissions.eligibleRoles).toBe(first.permissions.eligibleRoles);
    expect(second.permissions.usedVia).toBe(first.permissions.usedVia);
    expect(Object.isFrozen(first.permissions.eligibleRoles[0])).toBe(true);
    expect(first.permissions.eligibleRoles.map((r) => r.displayName)).toEqual(['Global Administrator']);
    // A new answer: the role is no longer eligible, and the facts say so.
    answer = { ...view1.effective(principal)!, eligibleRoles: [] };
    const third = gatherFacts(principal, op, cached, { now });
    expect(third.permissions.eligibleRoles).toEqual([]);
    expect(third.permissions.latentPrivilege).toBe(false);
    expect(third.permissions.holds).toEqual(first.permissions.holds);
    for (const f of [first, second, third]) expect(serialiseFacts(f).record).toBe(JSON.stringify(f));
  });

  it('share the target and permission facts of a frozen operation, and follow every input they come from', () => {
    const answers = new Map<DirectoryView, EffectivePermissions | undefined>();
    let revoked = false;
    // Views that cache their answers as the directory's does; `revoked` makes the next answer a new one.
    const caching = (v: DirectoryView): DirectoryView => ({
      ...v,
      effective: (p) => {
        if (!answers.has(v)) answers.set(v, v.effective(p));
        const a = answers.get(v);
        return revoked && a ? { ...a, graph: new Map() } : a;
      },
    });
    const viewA = caching(view1);
    const viewB = caching(createFixtureView({ snapshotId: 'snap-3', agents: [agentSpec], objects: [{ id: 'user-2', type: 'user', displayName: 'Zoë' }] }));
    const fresh = operation();
    const frozen = Object.freeze({ ...fresh, target: Object.freeze({ ...fresh.target }), related: Object.freeze({ ...fresh.related }) });
    const used = new Set<string>();
    const usage = { has: (_agent: string, permission: string) => used.has(permission) };
    const principal = appPrincipal();
    // Whatever the inputs, the shared facts are exactly what a fresh derivation (unfrozen operation) gives.
    const check = (p: Principal, v: DirectoryView): DecisionFacts => {
      const facts = gatherFacts(p, frozen, v, { now, usage });
      expect(plain(facts)).toEqual(plain(gatherFacts(p, fresh, v, { now, usage })));
      expect(Object.isFrozen(facts.permissions)).toBe(true);
      return facts;
    };
    const a = check(principal, viewA);
    const b = check(principal, viewA);
    expect(b.target).toBe(a.target);
    expect(b.permissions).toBe(a.permissions);
    expect(a.permissions.firstUse).toBe(true);
    used.add('Mail.Read');
    const c = check(principal, viewA);
    expect(c.permissions.firstUse).toBe(false);
    expect(c.target).toBe(a.target);
    const d = check(principal, viewB);
    expect([a.target.knownToDirectory, d.target.knownToDirectory]).toEqual([false, true]);
    const e = check(appPrincipal({ roles: [], tokenId: 'uti-2' }), viewA);
    expect([a.permissions.inToken, e.permissions.inToken]).toEqual([true, false]);
    revoked = true;
    const f = check(appPrincipal({ roles: ['Mail.Read'], tokenId: 'uti-3' }), viewA);
    expect(f.permissions.held).toBe(false);
    expect(f.permissions.revokedInToken).toEqual(['Mail.Read']);
  });

  it('never mistake one operation classified afresh for another: every member policy reads tells them apart', () => {
    const principal = appPrincipal();
    const answer = view1.effective(principal);
    const caching: DirectoryView = { ...view1, effective: () => answer };
    const base = { method: 'POST', action: 'create' as const };
    const variants = [
      operation(base),
      operation({ ...base, method: 'PATCH' }),
      operation({ ...base, path: '/users/user-3/messages' }),
      operation({ ...base, version: 'beta' }),
      operation({ ...base, tokenHasPermission: false }),
      operation({ ...base, tokenHasPermission: true }),
      operation({ ...base, target: { type: 'user', id: 'user-3' } }),
      operation({ ...base, target: { type: 'user', id: 'user-2', idKind: 'userPrincipalName' } }),
      operation({ ...base, target: { type: 'user', id: 'user-2', relatedIds: ['user-9'] } }),
      operation({ ...base, target: { type: 'user', id: 'user-2', viaMe: true } }),
      operation({ ...base, related: { select: ['id'], expand: [] } }),
      operation({ ...base, related: { select: [], expand: ['manager'] } }),
      operation({ ...base, needs: ['Mail.ReadWrite'] }),
      operation({ ...base, tier: 'management-plane' }),
      operation({ ...base, known: false, template: null }),
      operation({ ...base, isBatch: true }),
    ];
    // A deep-frozen copy is taken as it is (as a classifier-remembered operation): its facts are derived
    // on their own, so they show what each variant's facts must be.
    const frozenCopy = (o: ReturnType<typeof operation>) =>
      Object.freeze({ ...o, target: Object.freeze({ ...o.target }), related: Object.freeze({ select: Object.freeze([...o.related.select]), expand: Object.freeze([...o.related.expand]) }) }) as ReturnType<typeof operation>;
    for (const round of [variants, [...variants].reverse()]) {
      for (const v of round) {
        const facts = gatherFacts(principal, v, caching, { now });
        expect(JSON.stringify(facts)).toBe(JSON.stringify(gatherFacts(principal, frozenCopy(v), caching, { now })));
      }
    }
  });

  it('follow the view: a new snapshot gives the new agent record and snapshot id', () => {
    const principal = appPrincipal();
    const a = gatherFacts(principal, operation(), view1, { now });
    const b = gatherFacts(principal, operation(), view2, { now });
    expect(a.agent).toMatchObject({ displayName: 'Mail agent', tags: ['t-1'] });
    expect(b.agent).toMatchObject({ displayName: 'Renamed agent', tags: ['t-2'] });
    expect([a.directory?.snapshotId, b.directory?.snapshotId]).toEqual(['snap-1', 'snap-2']);
    expect(gatherFacts(principal, operation(), undefined, { now }).agent).toMatchObject({ knownToDirectory: false, tags: [] });
  });

  it('follow the principal: another token of the same app carries its own token facts', () => {
    const a = gatherFacts(appPrincipal({ tokenId: 'uti-a', roles: ['Mail.Read'] }), operation(), view1, { now });
    const b = gatherFacts(appPrincipal({ tokenId: 'uti-b', roles: ['Mail.Read', 'Mail.Send'] }), operation(), view1, { now });
    expect(a.token).toMatchObject({ tokenId: 'uti-a', permissions: ['Mail.Read'] });
    expect(b.token).toMatchObject({ tokenId: 'uti-b', permissions: ['Mail.Read', 'Mail.Send'] });
  });

  it('re-check `disabled` on every call although the agent record is shared within a view', () => {
    const principal = appPrincipal();
    let disabled = false;
    const live: EffectivePermissions = { ...view1.effective(principal)! };
    const view: DirectoryView = Object.assign(Object.create(view1) as DirectoryView, {
      effective: () => (disabled ? { ...live, disabled: true, graph: new Map() } : live),
    });
    expect(gatherFacts(principal, operation(), view, { now }).agent.disabled).toBe(false);
    disabled = true;
    const off = gatherFacts(principal, operation(), view, { now });
    expect(off.agent.disabled).toBe(true);
    expect(off.permissions.held).toBe(false);
    disabled = false;
    expect(gatherFacts(principal, operation(), view, { now }).agent.disabled).toBe(false);
  });

  it('share the operation facts of a frozen (classifier-remembered) operation, and of equal operations classified afresh', () => {
    const principal = appPrincipal();
    // Classified afresh (a call with a body): equal operations are one canonical, frozen operation.
    const loose = gatherFacts(principal, operation(), view1, { now }).operation;
    expect(gatherFacts(principal, operation(), view1, { now }).operation).toBe(loose);
    expect(Object.isFrozen(loose)).toBe(true);
    const other = gatherFacts(principal, operation({ path: '/users/user-3/messages', target: { type: 'user', id: 'user-3' } }), view1, { now }).operation;
    expect(other).not.toBe(loose);
    expect(other.path).toBe('/users/user-3/messages');
    // So, under a view that caches its answer as the directory's does, the target and permission facts
    // derived from equal operations are shared too.
    const answer = view1.effective(principal);
    const caching: DirectoryView = { ...view1, effective: () => answer };
    const post = () => operation({ method: 'POST', action: 'create', target: { type: 'user', id: 'user-2', relatedIds: ['user-9'] } });
    const first = gatherFacts(principal, post(), caching, { now });
    const second = gatherFacts(principal, post(), caching, { now });
    expect(second.target).toBe(first.target);
    expect(second.permissions).toBe(first.permissions);
    expect(second.target.relatedIds).toEqual(['user-9']);
    expect(serialiseFacts(second).record).toBe(JSON.stringify(plain(second)));
    const elsewhere = gatherFacts(principal, operation({ method: 'POST', action: 'create', target: { type: 'user', id: 'user-3' } }), caching, { now });
    expect(elsewhere.target).not.toBe(first.target);
    expect(elsewhere.target.id).toBe('user-3');
    const frozen = operation({ related: Object.freeze({ select: Object.freeze(['id']) as string[], expand: [] }) });
    Object.freeze(frozen);
    const a = gatherFacts(principal, frozen, view1, { now });
    const b = gatherFacts(principal, frozen, view1, { now });
    expect(b.operation).toBe(a.operation);
    expect(a.operation).toEqual(plain(gatherFacts(principal, { ...frozen }, view1, { now })).operation);
    // The scheme follows the caller: a delegated call on the same operation gets its own facts.
    expect(gatherFacts(delegatedPrincipal(), frozen, view1, { now }).operation.scheme).toBe('DelegatedWork');
    expect(a.operation.scheme).toBe('Application');
  });

  it('are frozen: a consumer that tries to change one fails instead of altering later decisions', () => {
    const f = gatherFacts(appPrincipal(), operation(), view1, { now });
    expect(() => f.token.permissions.push('Directory.ReadWrite.All')).toThrow(TypeError);
    expect(() => {
      f.agent.tags[0] = 'x';
    }).toThrow(TypeError);
    expect(() => f.operation.needs.push('x')).toThrow(TypeError);
    expect(gatherFacts(appPrincipal(), operation(), view1, { now }).operation.needs).toEqual(['Mail.Read']);
  });
});

describe('jsonWithShared', () => {
  it('is JSON.stringify for plain data, with shared parts anywhere within the depth', () => {
    const shared = shareJson({ a: [1, 'two', { three: null }], b: 'q"uote' });
    const values: unknown[] = [
      { x: shared, y: { z: shared, u: undefined, n: [shared] }, s: 'é\u2028', k: 1.5, t: true, nil: null },
      [shared, 1],
      'text',
      42,
      null,
      { '2': 'int-like key first', a: 1, '1': 'also' },
    ];
    for (const v of values) for (const depth of [0, 1, 2, 5]) expect(jsonWithShared(v, depth)).toBe(JSON.stringify(v));
    expect(Object.isFrozen(shared.a[2])).toBe(true);
  });
});
