import { describe, it, expect } from 'vitest';
import { gatherFacts, agentKey } from '../../../src/policy/inputs.js';
import { createFixtureView } from '../../../src/policy/fixture-view.js';
import { appPrincipal, delegatedPrincipal, operation, APP } from './helpers.js';

const now = new Date('2026-01-01T00:00:00Z');

describe('gatherFacts', () => {
  const view = createFixtureView({
    snapshotId: 'snap-1',
    agents: [
      {
        appId: APP,
        servicePrincipalId: 'sp-1',
        applicationObjectId: 'app-obj-1',
        displayName: 'Mail agent',
        owners: [{ id: 'owner-1', displayName: 'Ada' }],
        permissions: [{ permission: 'Mail.Read', via: [{ kind: 'appRoleAssignment', id: 'ara-1', description: 'Mail.Read on Microsoft Graph' }] }],
        eligibleRoles: [{ displayName: 'Global Administrator', roleTemplateId: '62e90394-69f5-4237-9190-012177145e10', privileged: true }],
        owns: ['app-obj-9'],
      },
    ],
    delegated: [{ appId: APP, userId: 'user-1', permissions: ['Mail.Read'] }],
    objects: [
      { id: 'app-obj-9', type: 'application', holdsControlPlane: true, appId: 'other-app' },
      { id: 'app-obj-7', type: 'application', holdsControlPlane: true, appId: 'third-app', owners: ['someone'] },
      { id: 'grp-1', type: 'group', roleAssignable: true },
      { id: 'role-ga', type: 'roleDefinition', privileged: true, keys: ['62e90394-69f5-4237-9190-012177145e10'] },
      { id: 'app-obj-1', type: 'application', appId: APP },
    ],
  });

  it('a held permission is held, with the provenance ids of the grant that gives it', () => {
    const f = gatherFacts(appPrincipal(), operation(), view, { now });
    expect(f.permissions.held).toBe(true);
    expect(f.permissions.used).toBe('Mail.Read');
    expect(f.permissions.usedVia.map((p) => p.id)).toEqual(['ara-1']);
    expect(f.permissions.latentPrivilege).toBe(true);
    expect(f.directory).toEqual({ snapshotId: 'snap-1', takenAt: '1970-01-01T00:00:00.000Z' });
    expect(f.agent.owners[0]!.id).toBe('owner-1');
  });

  it('permission names match whatever their case (the map and tokens mix it), with the grant’s provenance', () => {
    const f = gatherFacts(appPrincipal({ roles: ['mail.read'] }), operation({ needs: ['MAIL.READ'] }), view, { now });
    expect(f.permissions.held).toBe(true);
    expect(f.permissions.inToken).toBe(true);
    expect(f.permissions.revokedInToken).toEqual([]);
    expect(f.permissions.used).toBe('MAIL.READ');
    expect(f.permissions.usedVia.map((p) => p.id)).toEqual(['ara-1']);
  });

  it('a permission in the token but revoked in the directory is not held', () => {
    const f = gatherFacts(appPrincipal({ roles: ['Mail.ReadWrite'] }), operation({ needs: ['Mail.ReadWrite'] }), view, { now });
    expect(f.permissions.held).toBe(false);
    expect(f.permissions.inToken).toBe(true);
    expect(f.permissions.revokedInToken).toEqual(['Mail.ReadWrite']);
  });

  it('AlsoRequires runs parallel to anyOf: a permission counts only with one of its companions', () => {
    const op = operation({ needs: ['Mail.Read'] });
    op.permissions.Application.alsoRequires = [['Policy.Read.All']];
    expect(gatherFacts(appPrincipal(), op, view, { now }).permissions.held).toBe(false);
    // A second acceptable permission without companions is enough on its own.
    const two = operation({ needs: ['Mail.ReadWrite', 'Mail.Read'] });
    two.permissions.Application.alsoRequires = [['Policy.Read.All'], []];
    const f = gatherFacts(appPrincipal(), two, view, { now });
    expect(f.permissions.held).toBe(true);
    expect(f.permissions.used).toBe('Mail.Read');
    // The companion requirement of one permission does not apply to the others.
    const other = operation({ needs: ['Mail.Read', 'Mail.ReadWrite'] });
    other.permissions.Application.alsoRequires = [[], ['Policy.Read.All']];
    expect(gatherFacts(appPrincipal(), other, view, { now }).permissions.held).toBe(true);
  });

  it('held is unknown (null) for unknown operations, unknown agents and without a directory', () => {
    expect(gatherFacts(appPrincipal(), operation({ known: false, needs: [] }), view, { now }).permissions.held).toBeNull();
    const stranger = gatherFacts(appPrincipal({ appId: 'nobody' }), operation(), view, { now });
    expect(stranger.permissions.held).toBeNull();
    expect(stranger.agent.knownToDirectory).toBe(false);
    const noDir = gatherFacts(appPrincipal(), operation(), undefined, { now });
    expect(noDir.permissions.held).toBeNull();
    expect(noDir.directory).toBeNull();
    expect(noDir.permissions.used).toBe('Mail.Read'); // counted against the token when the directory cannot say
  });

  it('delegated calls use the DelegatedWork scheme and the user-specific grant', () => {
    const f = gatherFacts(delegatedPrincipal(), operation({ target: { type: 'user', viaMe: true } }), view, { now });
    expect(f.operation.scheme).toBe('DelegatedWork');
    expect(f.permissions.held).toBe(true);
    expect(f.target.isCaller).toBe(true);
    const other = gatherFacts(delegatedPrincipal({ userId: 'user-2' }), operation(), view, { now });
    expect(other.permissions.held).toBe(false);
  });

  it('first use comes from the usage lookup, keyed by tenant and app', () => {
    const seen = new Set([`${agentKey(appPrincipal())}|Mail.Read`]);
    const usage = { has: (a: string, p: string) => seen.has(`${a}|${p}`) };
    expect(gatherFacts(appPrincipal(), operation(), view, { now, usage }).permissions.firstUse).toBe(false);
    seen.clear();
    expect(gatherFacts(appPrincipal(), operation(), view, { now, usage }).permissions.firstUse).toBe(true);
    expect(gatherFacts(appPrincipal(), operation(), view, { now }).permissions.firstUse).toBeNull();
  });

  it('target facts: control plane, ownership (via owns or owners), own app, role-assignable group, privileged role', () => {
    const owned = gatherFacts(appPrincipal(), operation({ target: { type: 'application', id: 'app-obj-9' } }), view, { now });
    expect(owned.target).toMatchObject({ holdsControlPlane: true, callerOwnsTarget: true, callerOwnApp: false });
    const notOwned = gatherFacts(appPrincipal(), operation({ target: { type: 'application', id: 'app-obj-7' } }), view, { now });
    expect(notOwned.target).toMatchObject({ holdsControlPlane: true, callerOwnsTarget: false });
    const ownedByOwners = gatherFacts(appPrincipal({ servicePrincipalId: 'someone' }), operation({ target: { type: 'application', id: 'app-obj-7' } }), view, { now });
    expect(ownedByOwners.target.callerOwnsTarget).toBe(true);
    const self = gatherFacts(appPrincipal(), operation({ target: { type: 'application', id: 'app-obj-1' } }), view, { now });
    expect(self.target).toMatchObject({ callerOwnApp: true, isCaller: true });
    const grp = gatherFacts(appPrincipal(), operation({ target: { type: 'group', id: 'grp-1' } }), view, { now });
    expect(grp.target.roleAssignableGroup).toBe(true);
    const ra = gatherFacts(appPrincipal(), operation({ target: { type: 'roleAssignment', relatedIds: ['62e90394-69f5-4237-9190-012177145e10'] } }), view, { now });
    expect(ra.target.privilegedRole).toBe(true);
    expect(ra.target.knownToDirectory).toBe(false);
  });

  it('the decision time is the ISO text of the time given, call after call (reused within a millisecond)', () => {
    const times = [new Date(Date.UTC(2026, 0, 1, 9, 0, 0, 1)), new Date(Date.UTC(2026, 0, 1, 9, 0, 0, 1)), new Date(Date.UTC(2026, 0, 1, 9, 0, 0, 2)), new Date(0)];
    for (const t of times) expect(gatherFacts(appPrincipal(), operation(), view, { now: t }).at).toBe(t.toISOString());
    expect(() => gatherFacts(appPrincipal(), operation(), view, { now: new Date(Number.NaN) })).toThrow(RangeError);
  });

  it('facts are plain JSON: they survive a JSON round trip unchanged', () => {
    const f = gatherFacts(appPrincipal(), operation(), view, { now, risk: { score: 3, flags: ['x'] } });
    expect(JSON.parse(JSON.stringify(f))).toEqual(f);
    expect(JSON.stringify(f)).not.toMatch(/eyJ/); // no JWT-looking material
  });
});
