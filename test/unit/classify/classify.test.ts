import { describe, it, expect } from 'vitest';
import { createClassifier } from '../../../src/classify/index.js';
import type { ClassifyInput, Operation } from '../../../src/classify/index.js';
import { appPrincipal, userPrincipal, TENANT } from './principals.js';

const c = createClassifier();

function op(input: ClassifyInput): Operation {
  const r = c.classify(input);
  if (!r.ok) throw new Error(`${r.code}: ${r.message}`);
  return r.operation;
}

describe('classify: operations', () => {
  it('add member to group: template, action, target, related member from the $ref body', () => {
    const body = Buffer.from(JSON.stringify({ '@odata.id': 'https://graph.microsoft.com/v1.0/directoryObjects/u-42' }));
    const o = op({ method: 'POST', url: "/v1.0/Groups('G-1')/members/$ref", body });
    expect(o).toMatchObject({ template: '/groups/{id}/members/$ref', action: 'create', known: true, path: '/groups/G-1/members/$ref' });
    expect(o.target).toEqual({ type: 'group', id: 'G-1', idKind: 'id', relatedIds: ['u-42'] });
  });

  it('remove member: the member id in the path and in the $id query are related ids', () => {
    expect(op({ method: 'DELETE', url: '/v1.0/groups/g1/members/u1/$ref' }).target.relatedIds).toEqual(['u1']);
    const q = op({ method: 'DELETE', url: '/v1.0/groups/g1/members/$ref?$id=https://graph.microsoft.com/v1.0/directoryObjects/u2' });
    expect(q.template).toBe('/groups/{id}/members/$ref');
    expect(q.target.relatedIds).toEqual(['u2']);
  });

  it('PATCH group with members@odata.bind records the members being added', () => {
    const body = Buffer.from(JSON.stringify({ 'members@odata.bind': ['https://graph.microsoft.com/v1.0/directoryObjects/a', 'https://graph.microsoft.com/v1.0/directoryObjects/b'] }));
    const o = op({ method: 'PATCH', url: '/v1.0/groups/g1', body });
    expect(o.target).toMatchObject({ type: 'group', id: 'g1', relatedIds: ['a', 'b'] });
    expect(o.tier).not.toBe('user-data');
  });

  it('add password to application: invoke, control plane, by id and by appId', () => {
    const byId = op({ method: 'POST', url: '/v1.0/applications/app-obj/addPassword' });
    expect(byId).toMatchObject({ action: 'invoke', tier: 'control-plane', template: '/applications/{id}/addpassword' });
    expect(byId.target).toEqual({ type: 'application', id: 'app-obj', idKind: 'id' });
    const byAppId = op({ method: 'POST', url: "/v1.0/applications(appId='c1d2')/addPassword" });
    expect(byAppId.target).toEqual({ type: 'application', id: 'c1d2', idKind: 'appId' });
    expect(byAppId.template).toBe('/applications(appid={value})/addpassword');
    expect(byAppId.tier).toBe('control-plane');
    expect(byAppId.permissions.Application.anyOf).toEqual(expect.arrayContaining(byId.permissions.Application.least));
  });

  it('an alternate key the map lacks for a path uses the id-form template, path as addressed', () => {
    const o = op({ method: 'GET', url: "/v1.0/users(userPrincipalName='Ada@contoso.com')/messages" });
    expect(o.template).toBe('/users/{id}/messages');
    expect(o.path).toBe("/users(userPrincipalName='Ada@contoso.com')/messages");
    expect(o.target).toEqual({ type: 'mailbox', id: 'Ada@contoso.com', idKind: 'userPrincipalName' });
  });

  it('directory role by template id, role assignment and app role assignment targets', () => {
    expect(op({ method: 'GET', url: "/v1.0/directoryRoles(roleTemplateId='62e90394-69f5-4237-9190-012177145e10')" }).target).toEqual({
      type: 'directoryRole', id: '62e90394-69f5-4237-9190-012177145e10', idKind: 'roleTemplateId',
    });
    const body = Buffer.from(JSON.stringify({ principalId: 'p1', roleDefinitionId: 'r1', directoryScopeId: '/' }));
    const ra = op({ method: 'POST', url: '/v1.0/roleManagement/directory/roleAssignments', body });
    expect(ra).toMatchObject({ action: 'create', tier: 'control-plane', target: { type: 'roleAssignment', relatedIds: ['p1', 'r1', '/'] } });
    const ar = op({ method: 'POST', url: '/v1.0/servicePrincipals/sp1/appRoleAssignedTo' });
    expect(ar).toMatchObject({ action: 'create', tier: 'control-plane', target: { type: 'servicePrincipal', id: 'sp1' } });
  });

  it("reading a user's mail targets that user's mailbox; by UPN too", () => {
    expect(op({ method: 'GET', url: '/v1.0/users/Ada@Contoso.com/messages' }).target).toEqual({ type: 'mailbox', id: 'Ada@Contoso.com', idKind: 'userPrincipalName' });
    expect(op({ method: 'GET', url: '/v1.0/users/u-1/mailFolders/inbox/messages' }).target).toMatchObject({ type: 'mailbox', id: 'u-1' });
  });

  it('/me targets the caller (id from the token) without rewriting the path', () => {
    const o = op({ method: 'GET', url: '/v1.0/me/messages', principal: userPrincipal(['Mail.Read']) });
    expect(o.path).toBe('/me/messages');
    expect(o.target).toEqual({ type: 'mailbox', id: 'User-Oid-1', idKind: 'me', viaMe: true });
    expect(o.tokenHasPermission).toBe(true);
  });

  it('/me with an app-only token is refused like Graph does', () => {
    const r = c.classify({ method: 'GET', url: '/v1.0/me', principal: appPrincipal(['User.Read.All']) });
    expect(r).toMatchObject({ ok: false, code: 'GW_ERR_REQUEST_INVALID' });
  });

  it('a /me path the map lacks falls back to the /users/{id} template', () => {
    // Find one: take a /users/{id}/x template and make sure /me/x resolves to something known either way.
    const o = op({ method: 'GET', url: '/v1.0/me/transitiveMemberOf', principal: userPrincipal(['User.Read']) });
    expect(o.known).toBe(true);
    expect(o.target.viaMe).toBe(true);
  });

  it('tokenHasPermission uses roles for app tokens and scopes for delegated, case-insensitively', () => {
    expect(op({ method: 'GET', url: '/v1.0/users', principal: appPrincipal(['user.read.all']) }).tokenHasPermission).toBe(true);
    expect(op({ method: 'GET', url: '/v1.0/users', principal: appPrincipal(['Mail.Read']) }).tokenHasPermission).toBe(false);
    expect(op({ method: 'GET', url: '/v1.0/users', principal: userPrincipal(['User.ReadBasic.All']) }).tokenHasPermission).toBe(true);
    expect(op({ method: 'GET', url: '/v1.0/users' }).tokenHasPermission).toBeNull();
  });

  it('unknown operations are distinct: not known, no template, tier unknown, never "requires nothing"', () => {
    const o = op({ method: 'POST', url: '/v1.0/groups/g1/frobnicate', principal: appPrincipal(['Directory.ReadWrite.All']) });
    expect(o).toMatchObject({ known: false, template: null, tier: 'unknown', tokenHasPermission: false });
    expect(o.target).toMatchObject({ type: 'group', id: 'g1' });
    expect(o.permissions.Application.anyOf).toEqual([]);
  });

  it('$select/$expand of related data is recorded and raises the tier', () => {
    const o = op({ method: 'GET', url: '/v1.0/groups/g1?$expand=members($select=id,displayName),owners&$select=id,displayName' });
    expect(o.related).toEqual({ select: ['id', 'displayname'], expand: ['members', 'owners'] });
    expect(['management-plane', 'control-plane']).toContain(o.tier);
    const beta = op({ method: 'GET', url: '/beta/groups?expand=members' });
    expect(beta.related.expand).toEqual(['members']);
  });

  it('namespace-qualified functions and casts', () => {
    expect(op({ method: 'GET', url: '/v1.0/users/microsoft.graph.delta()' }).template).toBe('/users/delta');
    expect(op({ method: 'GET', url: '/v1.0/users/delta' }).template).toBe('/users/delta');
    const cast = op({ method: 'GET', url: '/v1.0/servicePrincipals/microsoft.graph.agentIdentity/sp1' });
    expect(cast).toMatchObject({ known: true, template: '/serviceprincipals/microsoft.graph.agentidentity/{id}', target: { type: 'servicePrincipal', id: 'sp1' } });
  });

  it('$count and $value are read through the collection / entity template', () => {
    expect(op({ method: 'GET', url: '/v1.0/users/$count' })).toMatchObject({ template: '/users', action: 'read', path: '/users/$count' });
    expect(op({ method: 'GET', url: '/v1.0/users/u1/messages/m1/$value' })).toMatchObject({ known: true, target: { type: 'mailbox', id: 'u1' } });
  });

  it('drive item paths between colons', () => {
    const o = op({ method: 'PUT', url: '/v1.0/me/drive/root:/Reports/Q1.xlsx:/content' });
    expect(o).toMatchObject({ known: true, template: '/me/drive/root:/{path}:/content', path: '/me/drive/root:/Reports/Q1.xlsx:/content', action: 'update' });
  });

  it('tenant segments: myorganization and the caller’s own tenant id; another tenant is refused', () => {
    expect(op({ method: 'GET', url: '/v1.0/myorganization/users' })).toMatchObject({ template: '/users', tenantSegment: 'myorganization' });
    expect(op({ method: 'GET', url: `/v1.0/${TENANT}/users`, principal: appPrincipal([]) }).template).toBe('/users');
    const other = c.classify({ method: 'GET', url: '/v1.0/99999999-2222-3333-4444-555555555555/users', principal: appPrincipal([]) });
    expect(other).toMatchObject({ ok: false, code: 'GW_ERR_REQUEST_INVALID' });
  });

  it('method: by the request line, HEAD reads like GET, unknown methods refused', () => {
    expect(op({ method: 'HEAD', url: '/v1.0/users' })).toMatchObject({ template: '/users', action: 'read' });
    expect(op({ method: 'patch', url: '/v1.0/groups/g1' }).method).toBe('PATCH');
    expect(c.classify({ method: 'TRACE', url: '/v1.0/users' })).toMatchObject({ ok: false, code: 'GW_ERR_REQUEST_INVALID' });
  });

  it('operations are plain JSON (audit records them)', () => {
    const o = op({ method: 'GET', url: '/v1.0/users?$select=id', principal: userPrincipal(['User.Read']) });
    expect(JSON.parse(JSON.stringify(o))).toEqual(o);
  });
});
