// Regressions for ways around the rules, each named after what it prevents.
import { describe, it, expect } from 'vitest';
import { fileURLToPath } from 'node:url';
import { compilePolicy, readRuleSources, SHIPPED_RULES_DIR } from '../../../src/policy/compile.js';
import type { CompiledPolicy } from '../../../src/policy/compile.js';
import { gatherFacts } from '../../../src/policy/inputs.js';
import { decide } from '../../../src/decision/decide.js';
import { createFixtureView } from '../../../src/policy/fixture-view.js';
import type { DirectoryView, HeldPermission } from '../../../src/directory/view.js';
import { appPrincipal, delegatedPrincipal, operation, policyFrom, APP } from './helpers.js';

const now = new Date('2026-03-04T10:00:00Z');
let shipped: CompiledPolicy | undefined;
async function baseline(): Promise<CompiledPolicy> {
  if (!shipped) {
    const r = compilePolicy(await readRuleSources(fileURLToPath(SHIPPED_RULES_DIR)));
    if (!r.ok) throw new Error(r.errors.join('\n'));
    shipped = r.policy;
  }
  return shipped;
}

const adminView = createFixtureView({
  agents: [{ appId: APP, servicePrincipalId: 'sp-1', permissions: ['AppRoleAssignment.ReadWrite.All', 'Application.ReadWrite.All'] }],
  objects: [{ id: 'app-cp', type: 'application', holdsControlPlane: true }],
});
const admin = appPrincipal({ roles: ['AppRoleAssignment.ReadWrite.All', 'Application.ReadWrite.All'] });

describe('rule matching cannot be walked around', () => {
  it('template casing does not escape a rule (Graph paths are case-insensitive)', async () => {
    const p = await baseline();
    for (const template of ['/servicePrincipals/{id}/appRoleAssignedTo', '/SERVICEPRINCIPALS/{id}/APPROLEASSIGNEDTO', '/serviceprincipals/{id}/approleassignedto']) {
      const f = gatherFacts(admin, operation({ method: 'POST', action: 'create', template, needs: ['AppRoleAssignment.ReadWrite.All'] }), adminView, { now });
      expect(decide(f, p, { decisionId: 'x' }).effect).toBe('approve');
    }
  });

  it('a version prefix in the template or beta does not escape a rule', async () => {
    const p = await baseline();
    for (const [version, template] of [['beta', '/beta/servicePrincipals/{id}/appRoleAssignedTo'], ['v1.0', '/v1.0/servicePrincipals/{id}/appRoleAssignedTo']] as const) {
      const f = gatherFacts(admin, operation({ method: 'POST', version, action: 'create', template, needs: ['AppRoleAssignment.ReadWrite.All'] }), adminView, { now });
      expect(decide(f, p, { decisionId: 'x' }).effect).toBe('approve');
    }
  });

  it('the alternate-key form of an app does not escape the credential rule', async () => {
    const p = await baseline();
    const f = gatherFacts(admin, operation({ method: 'POST', action: 'invoke', template: '/applications(appId={value})/addPassword', needs: ['Application.ReadWrite.All'], target: { type: 'application', id: 'app-cp' } }), adminView, { now });
    expect(decide(f, p, { decisionId: 'x' })).toMatchObject({ effect: 'block', reasonCode: 'credential-on-control-plane-app' });
  });

  it('a $batch item gets the same decision as the same call alone', async () => {
    const p = await baseline();
    const alone = decide(gatherFacts(admin, operation({ method: 'POST', action: 'create', template: '/servicePrincipals/{id}/appRoleAssignedTo', needs: ['AppRoleAssignment.ReadWrite.All'] }), adminView, { now }), p, { decisionId: 'x' });
    const item = decide(gatherFacts(admin, operation({ method: 'POST', action: 'create', template: '/servicePrincipals/{id}/appRoleAssignedTo', needs: ['AppRoleAssignment.ReadWrite.All'], isBatch: true }), adminView, { now }), p, { decisionId: 'x' });
    expect([item.effect, item.enforced, item.reasonCode]).toEqual([alone.effect, alone.enforced, alone.reasonCode]);
  });

  it('an unknown operation never counts as "requires nothing, so held"', () => {
    const p = policyFrom('settings: { defaultEffect: block }\nrules:\n  - id: ok-if-held\n    effect: allow\n    reasonCode: held\n    reason: held\n    when: { permissions: { held: true } }\n');
    const f = gatherFacts(admin, operation({ known: false, template: null, needs: [] }), adminView, { now });
    expect(f.permissions.held).toBeNull();
    expect(decide(f, p, { decisionId: 'x' }).enforced).toBe('block');
  });

  it('an empty permission list on a known operation is not "held"', () => {
    const f = gatherFacts(admin, operation({ needs: [] }), adminView, { now });
    expect(f.permissions.held).toBeNull();
  });

  it('application permissions do not authorise a delegated call (schemes are kept apart)', () => {
    const graph = new Map<string, HeldPermission>([['Mail.Read', { permission: 'Mail.Read', scheme: 'Application', via: [] }]]);
    const view: DirectoryView = {
      snapshotId: 's',
      takenAt: 't',
      agent: () => ({ tenantId: 't', appId: APP, tags: [], owners: [] }),
      effective: () => ({ graph, activeRoles: [], eligibleRoles: [], owns: new Set() }),
      object: () => undefined,
    };
    const f = gatherFacts(delegatedPrincipal(), operation(), view, { now });
    expect(f.operation.scheme).toBe('DelegatedWork');
    expect(f.permissions.held).toBe(false);
  });

  it('a missing usage store cannot satisfy "not a first use" (unknown is neither)', () => {
    const p = policyFrom('settings: { defaultEffect: block }\nrules:\n  - id: known-use\n    effect: allow\n    reasonCode: k\n    reason: k\n    when: { permissions: { firstUse: false } }\n');
    const f = gatherFacts(admin, operation({ needs: ['Application.ReadWrite.All'] }), adminView, { now });
    expect(f.permissions.firstUse).toBeNull();
    expect(decide(f, p, { decisionId: 'x' }).enforced).toBe('block');
  });

  it('an allow rule cannot override a block, whatever the file order', () => {
    const block = { name: 'a.yaml', text: 'rules:\n  - id: no\n    effect: block\n    reasonCode: no\n    reason: no\n    when: {}\n' };
    const allow = { name: '0.yaml', text: 'rules:\n  - id: yes\n    effect: allow\n    reasonCode: yes\n    reason: yes\n    when: {}\n' };
    const r = compilePolicy([allow, block]);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(decide(gatherFacts(admin, operation(), adminView, { now }), r.policy, { decisionId: 'x' }).enforced).toBe('block');
  });

  it('a revoked permission is not held even when its name differs only in case', () => {
    const f = gatherFacts(appPrincipal({ roles: ['MAIL.READWRITE'] }), operation({ needs: ['Mail.ReadWrite'] }), createFixtureView({ agents: [{ appId: APP, permissions: ['Mail.Read'] }] }), { now });
    expect(f.permissions.held).toBe(false);
    expect(f.permissions.revokedInToken).toEqual(['Mail.ReadWrite']);
  });
});
