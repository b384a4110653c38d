// Policy over the real directory model and the real classifier (the pipeline's own inputs), with the
// shipped rules: the facts rules rely on (held / revoked, provenance, ownership, role-assignable groups,
// disabled agents, latent privilege) come out of the directory the way the rules expect.
import { describe, it, expect } from 'vitest';
import { fileURLToPath } from 'node:url';
import { createDirectoryView } from '../../../src/directory/effective.js';
import { loadReferenceData } from '../../../src/directory/reference.js';
import { createSnapshot } from '../../../src/directory/snapshot.js';
import { createClassifier } from '../../../src/classify/index.js';
import { compilePolicy, readRuleSources, SHIPPED_RULES_DIR } from '../../../src/policy/compile.js';
import { gatherFacts } from '../../../src/policy/inputs.js';
import { decide } from '../../../src/decision/decide.js';
import type { Principal } from '../../../src/identity/principal.js';
import { appPrincipal, data, NOW } from '../directory/fixture.js';

const refs = loadReferenceData();
const view = createDirectoryView(createSnapshot(data(), new Date(NOW).toISOString()), { refs, now: () => NOW });
const classifier = createClassifier();
const compiled = compilePolicy(await readRuleSources(fileURLToPath(SHIPPED_RULES_DIR)));
if (!compiled.ok) throw new Error(compiled.errors.join('\n'));
const policy = compiled.policy;

function run(principal: Principal, method: string, url: string, body?: unknown) {
  const out = classifier.classify({ method, url, principal, ...(body ? { body: Buffer.from(JSON.stringify(body)) } : {}) });
  if (!out.ok) throw new Error(out.message);
  const facts = gatherFacts(principal, out.operation, view, { now: new Date(NOW), usage: { has: () => true } });
  return { facts, decision: decide(facts, policy, { decisionId: 'd' }) };
}

const agent = (roles: string[]): Principal => ({ ...appPrincipal('app-agent', 'sp-agent'), roles });

describe('shipped rules over the directory model', () => {
  it('a held permission is traced to its app role assignment; reading another mailbox alerts', () => {
    const { facts, decision } = run(agent(['Mail.Read']), 'GET', '/v1.0/users/u-member/messages');
    expect(facts.permissions.held).toBe(true);
    expect(facts.permissions.usedVia.map((p) => p.id)).toContain('ara-mail');
    expect(facts.permissions.latentPrivilege).toBe(true); // PIM-eligible Global Administrator
    expect(facts.agent.knownToDirectory).toBe(true);
    expect(decision).toMatchObject({ effect: 'alert', reasonCode: 'other-users-mail-read' });
  });

  it('a permission in the token that the directory does not grant is blocked as revoked', () => {
    const { facts, decision } = run(agent(['Mail.Read', 'Mail.ReadWrite']), 'PATCH', '/v1.0/users/u-member/messages/m1', { isRead: true });
    expect(facts.permissions.revokedInToken).toContain('Mail.ReadWrite');
    expect(decision).toMatchObject({ effect: 'block', reasonCode: 'permission-revoked' });
  });

  it('ownership and alternate keys resolve: the agent owns app-x, addressed by appId', () => {
    const { facts } = run(agent(['Application.ReadWrite.All']), 'POST', "/v1.0/applications(appId='app-x')/addPassword", { passwordCredential: { displayName: 'x' } });
    expect(facts.target.objects[0]).toMatchObject({ id: 'app-obj-x', type: 'application' });
    expect(facts.target.callerOwnsTarget).toBe(true);
  });

  it('adding a member to a role-assignable group is recognised as such', () => {
    const { facts, decision } = run(agent(['GroupMember.ReadWrite.All']), 'POST', '/v1.0/groups/g-ra/members/$ref', { '@odata.id': 'https://graph.microsoft.com/v1.0/directoryObjects/u-member' });
    expect(facts.target.roleAssignableGroup).toBe(true);
    // The agent does not hold GroupMember.ReadWrite.All: the block outranks the approval, both are recorded.
    expect(decision.effect).toBe('block');
    expect(decision.matches.map((m) => m.reasonCode)).toEqual(expect.arrayContaining(['role-assignable-group-change', 'permission-revoked']));
  });

  it('a disabled service principal is blocked as disabled', () => {
    const { facts, decision } = run({ ...appPrincipal('app-off', 'sp-off'), roles: ['Mail.Read'] }, 'GET', '/v1.0/users/u-member/messages');
    expect(facts.agent.disabled).toBe(true);
    expect(decision).toMatchObject({ effect: 'block', reasonCode: 'agent-disabled' });
  });
});
