import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appendDrift, diffSnapshots, DRIFT_FILE, type DriftEvent } from '../../../src/directory/drift.js';
import type { SnapshotData, TenantData } from '../../../src/directory/model.js';
import { data, NOW, TENANT } from './fixture.js';

const H = 3_600_000;

function mutate(fn: (t: TenantData) => void): SnapshotData {
  const d = data();
  const t = d.tenants[0];
  if (!t) throw new Error('fixture');
  fn(t);
  return d;
}

const types = (evs: DriftEvent[]): string[] => evs.map((e) => e.type).sort();

describe('drift', () => {
  it('no change, no events; a first-seen tenant is a baseline', () => {
    expect(diffSnapshots(data(), data(), { now: NOW, prevAt: NOW - H })).toEqual([]);
    expect(diffSnapshots(undefined, data(), { now: NOW })).toEqual([]);
  });

  it('reports grants scope by scope, app role assignments, roles, eligibility, owners, membership', () => {
    const next = mutate((t) => {
      const g = t.grants.find((x) => x.id === 'gr-all');
      if (g) g.scope = 'User.Read Mail.Send Group.ReadWrite.All';
      t.grants = t.grants.filter((x) => x.id !== 'gr-guest');
      t.appRoleAssignments.push({ id: 'ara-new', principalId: 'sp-agent', resourceId: 'sp-graph', appRoleId: '1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9' });
      t.appRoleAssignments = t.appRoleAssignments.filter((x) => x.id !== 'ara-mail');
      t.roleAssignments.push({ id: 'ra-new', principalId: 'u-member', roleDefinitionId: 'r', directoryScopeId: '/' });
      t.roleEligibilitySchedules = t.roleEligibilitySchedules.filter((x) => x.id !== 'res-agent-ga');
      const app = t.applications.find((a) => a.id === 'app-obj-x');
      if (app) app.owners = ['u-member'];
      const grp = t.groups.find((x) => x.id === 'g-ra');
      if (grp) grp.members = ['u-admin'];
    });
    const evs = diffSnapshots(data(), next, { now: NOW, prevAt: NOW - H });
    expect(types(evs)).toEqual(
      [
        'grant-added',
        'grant-removed',
        'grant-removed',
        'app-role-assigned',
        'app-role-removed',
        'role-assigned',
        'eligibility-removed',
        'owner-added',
        'owner-removed',
        'membership-added',
        'membership-removed',
      ].sort(),
    );
    expect(evs).toContainEqual(expect.objectContaining({ type: 'grant-added', grantId: 'gr-all', scopes: ['Mail.Send'] }));
    expect(evs).toContainEqual(expect.objectContaining({ type: 'grant-removed', grantId: 'gr-all', scopes: ['Mail.Read'] }));
    expect(evs).toContainEqual(expect.objectContaining({ type: 'grant-removed', grantId: 'gr-guest', scopes: ['User.Read.All'], principalId: 'u-guest' }));
    expect(evs).toContainEqual({ type: 'owner-removed', tenantId: TENANT, objectId: 'app-obj-x', objectType: 'application', ownerId: 'sp-agent' });
    expect(evs).toContainEqual({ type: 'membership-removed', tenantId: TENANT, groupId: 'g-ra', memberId: 'sp-agent' });
  });

  it('reports PIM activation and expiry, and credentials added, removed and newly expiring', () => {
    const next = mutate((t) => {
      t.roleAssignmentSchedules.push({ id: 'ras-new', principalId: 'u-member', roleDefinitionId: 'r', directoryScopeId: '/', status: 'Provisioned', assignmentType: 'Activated', startDateTime: new Date(NOW).toISOString(), expirationType: 'afterDuration', duration: 'PT2H' });
      t.roleAssignmentSchedules = t.roleAssignmentSchedules.filter((x) => x.id !== 'ras-agent-appadmin');
      const app = t.applications.find((a) => a.id === 'app-obj-x');
      if (app) app.credentials = [{ keyId: 'k-new', kind: 'certificate', endDateTime: new Date(NOW + 5 * 24 * H).toISOString() }];
      const agent = t.applications.find((a) => a.id === 'app-obj-agent');
      if (agent) agent.credentials = [];
    });
    const evs = diffSnapshots(data(), next, { now: NOW, prevAt: NOW - H });
    expect(evs).toContainEqual(expect.objectContaining({ type: 'role-activated', scheduleId: 'ras-new', endDateTime: new Date(NOW + 2 * H).toISOString() }));
    expect(evs).toContainEqual(expect.objectContaining({ type: 'role-expired', scheduleId: 'ras-agent-appadmin' }));
    expect(evs).toContainEqual(expect.objectContaining({ type: 'credential-added', objectId: 'app-obj-x', keyId: 'k-new' }));
    expect(evs).toContainEqual(expect.objectContaining({ type: 'credential-expiring', objectId: 'app-obj-x', keyId: 'k-new' }));
    expect(evs).toContainEqual(expect.objectContaining({ type: 'credential-removed', objectId: 'app-obj-agent', keyId: 'k1' }));
    // The permanent PIM schedule of u-admin produced nothing; the ended ras-agent-groups was already past at prevAt.
    expect(evs.filter((e) => e.type === 'role-expired')).toHaveLength(1);
  });

  it('reports an unchanged credential as expiring once, when it enters the window', () => {
    const evs = diffSnapshots(data(), data(), { now: NOW, prevAt: NOW - 25 * 24 * H, expiringWithinMs: 14 * 24 * H });
    // Over those 25 days the PIM activation ras-agent-groups also ended (an hour before now).
    expect(types(evs)).toEqual(['credential-expiring', 'role-expired']);
    expect(evs).toContainEqual(expect.objectContaining({ type: 'credential-expiring', keyId: 'k1' }));
    expect(evs).toContainEqual(expect.objectContaining({ type: 'role-expired', scheduleId: 'ras-agent-groups' }));
    expect(diffSnapshots(data(), data(), { now: NOW, prevAt: NOW - H, expiringWithinMs: 14 * 24 * H })).toEqual([]);
  });

  it('appends events as JSON lines', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gw-drift-'));
    try {
      const ev: DriftEvent = { type: 'membership-added', tenantId: TENANT, groupId: 'g', memberId: 'm' };
      await appendDrift(dir, [ev], { at: 'a', fromSnapshot: null, toSnapshot: 's1' });
      await appendDrift(dir, [ev, ev], { at: 'b', fromSnapshot: 's1', toSnapshot: 's2' });
      const lines = (await readFile(join(dir, DRIFT_FILE), 'utf8')).trim().split('\n');
      expect(lines).toHaveLength(3);
      expect(JSON.parse(lines[2] ?? '')).toEqual({ at: 'b', fromSnapshot: 's1', toSnapshot: 's2', event: ev });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
