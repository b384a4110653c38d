// Graph writes agents commonly make, through the emulator's Graph handler: app role
// assignments, role assignments, PIM self-activation, delegated grants, passwords.
import { describe, expect, it } from 'vitest';
import { handleGraphRequest, type Caller, type GraphRequest } from '../../../src/emulator/graph.js';
import { mintAccessToken } from '../../../src/emulator/entra.js';
import { appCaller, get, makeState } from './helpers.js';
import { decodeJwt } from 'jose';

function req(method: string, path: string, body?: unknown): GraphRequest {
  return { ...get(path), method, body };
}

describe('emulated Graph writes', () => {
  const { state, ts } = makeState(200);
  const dir = ts.directory;
  const over = appCaller(ts, 'overprivileged-agent');
  const run = (c: Caller, method: string, path: string, body?: unknown) => handleGraphRequest(state, c, req(method, path, body));

  it('appRoleAssignedTo POST grants a Graph app role that the next token carries; DELETE revokes it', () => {
    const target = ts.tenant.agents['mail-summarizer']!;
    const graphSp = ts.tenant.graphServicePrincipalId;
    const roleId = dir.graphAppRoleId('User.Read.All')!;
    const created = run(over, 'POST', `servicePrincipals/${graphSp}/appRoleAssignedTo`, { principalId: target.servicePrincipalId, resourceId: graphSp, appRoleId: roleId });
    expect(created.status).toBe(201);
    const a = created.body as { id: string; appRoleId: string; principalType: string };
    expect(a).toMatchObject({ appRoleId: roleId, principalType: 'ServicePrincipal' });
    const claims = decodeJwt(mintAccessToken(state, ts, { tenantId: ts.tenant.id, appId: target.appId, kind: 'app' }));
    expect(claims.roles).toEqual(['Mail.Read', 'User.Read.All']);
    expect(run(over, 'POST', `servicePrincipals/${graphSp}/appRoleAssignedTo`, { principalId: target.servicePrincipalId, resourceId: graphSp, appRoleId: roleId }).status).toBe(400);
    expect(run(over, 'DELETE', `servicePrincipals/${graphSp}/appRoleAssignedTo/${a.id}`).status).toBe(204);
    expect(dir.graphAppRolesOf(target.servicePrincipalId)).toEqual(['Mail.Read']);
    // Without AppRoleAssignment.ReadWrite.All the same call is denied.
    const bot = appCaller(ts, 'provisioning-bot');
    expect(run(bot, 'POST', `servicePrincipals/${graphSp}/appRoleAssignedTo`, { principalId: target.servicePrincipalId, resourceId: graphSp, appRoleId: roleId }).status).toBe(403);
  });

  it('role assignments POST and DELETE change the wids of the next delegated token', () => {
    const alice = ts.tenant.users.alice!;
    const copilot = ts.tenant.agents['copilot-assistant']!.appId;
    const r = run(over, 'POST', 'roleManagement/directory/roleAssignments', { principalId: alice.id, roleDefinitionId: '9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3', directoryScopeId: '/' });
    expect(r.status).toBe(201);
    expect(decodeJwt(mintAccessToken(state, ts, { tenantId: ts.tenant.id, appId: copilot, kind: 'delegated', userId: alice.id })).wids).toEqual(['9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3']);
    const roles = (run(over, 'GET', 'directoryRoles').body as { value: Array<{ roleTemplateId: string }> }).value.map((x) => x.roleTemplateId);
    expect(roles).toContain('9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3');
    expect(run(over, 'DELETE', `roleManagement/directory/roleAssignments/${(r.body as { id: string }).id}`).status).toBe(204);
    expect(decodeJwt(mintAccessToken(state, ts, { tenantId: ts.tenant.id, appId: copilot, kind: 'delegated', userId: alice.id })).wids).toBeUndefined();
  });

  it('PIM selfActivate works only for an eligible signed-in user and lapses when it expires', () => {
    let clock = Date.UTC(2026, 0, 15, 12);
    const { state: s2, ts: t2 } = makeState(100, () => clock);
    const pim = t2.tenant.users.pim!;
    const app = t2.tenant.agents['copilot-assistant']!;
    const delegated: Caller = { tenant: t2, kind: 'delegated', appId: app.appId, spId: app.servicePrincipalId, userId: pim.id, perms: new Set(['RoleAssignmentSchedule.ReadWrite.Directory']) };
    const body = { action: 'selfActivate', principalId: pim.id, roleDefinitionId: 'e8611ab8-c189-46e8-94e1-60213ab1f814', directoryScopeId: '/', justification: 'incident', scheduleInfo: { expiration: { type: 'afterDuration', duration: 'PT1H' } } };
    const path = 'roleManagement/directory/roleAssignmentScheduleRequests';
    const ok = handleGraphRequest(s2, delegated, req('POST', path, body));
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ status: 'Provisioned', action: 'selfActivate', justification: 'incident' });
    expect(t2.directory.activeRoleTemplates(pim.id)).toEqual(['e8611ab8-c189-46e8-94e1-60213ab1f814']);
    const alice = t2.tenant.users.alice!.id;
    expect(handleGraphRequest(s2, { ...delegated, userId: alice }, req('POST', path, { ...body, principalId: alice })).status).toBe(400);
    expect(handleGraphRequest(s2, appCaller(t2, 'overprivileged-agent'), req('POST', path, body)).status).toBe(403);
    clock += 3_601_000;
    expect(t2.directory.activeRoleTemplates(pim.id)).toEqual([]);
  });

  it('oauth2PermissionGrants: POST, PATCH and DELETE show in delta and in granted scopes', () => {
    const reader = appCaller(ts, 'graphwarden-connector');
    const grantWriter = appCaller(ts, 'overprivileged-agent', ['DelegatedPermissionGrant.ReadWrite.All']);
    const latest = run(reader, 'GET', 'oauth2PermissionGrants/delta?$deltatoken=latest').body as { '@odata.deltaLink': string };
    const app = ts.tenant.agents['copilot-assistant']!;
    const alice = ts.tenant.users.alice!;
    const created = run(grantWriter, 'POST', 'oauth2PermissionGrants', { clientId: app.servicePrincipalId, consentType: 'Principal', principalId: alice.id, resourceId: ts.tenant.graphServicePrincipalId, scope: 'Calendars.Read' });
    expect(created.status).toBe(201);
    const id = (created.body as { id: string }).id;
    expect(dir.grantedScopes(app.servicePrincipalId, alice.id)).toContain('Calendars.Read');
    expect(run(grantWriter, 'PATCH', `oauth2PermissionGrants/${id}`, { scope: 'Calendars.Read Files.Read' }).status).toBe(204);
    const changes = (run(reader, 'GET', latest['@odata.deltaLink'].replace(`${state.publicUrl}/v1.0/`, '')).body as { value: Array<Record<string, unknown>> }).value;
    expect(changes).toEqual([expect.objectContaining({ id, scope: 'Calendars.Read Files.Read' })]);
    expect(run(grantWriter, 'DELETE', `oauth2PermissionGrants/${id}`).status).toBe(204);
    expect(dir.grantedScopes(app.servicePrincipalId, alice.id)).not.toContain('Calendars.Read');
    expect(run(reader, 'POST', 'oauth2PermissionGrants', { clientId: app.servicePrincipalId }).status).toBe(403);
  });

  it('directoryObjects/getByIds returns the known objects of the requested types', () => {
    const reader = appCaller(ts, 'graphwarden-connector');
    const ids = [ts.tenant.users.alice!.id, ts.tenant.groups.engineering!.id, '00000000-0000-4000-8000-000000000000'];
    const all = run(reader, 'POST', 'directoryObjects/getByIds', { ids }).body as { value: Array<Record<string, unknown>> };
    expect(all.value.map((o) => o['@odata.type'])).toEqual(['#microsoft.graph.user', '#microsoft.graph.group']);
    const groups = run(reader, 'POST', 'directoryObjects/getByIds', { ids, types: ['group'] }).body as { value: Array<Record<string, unknown>> };
    expect(groups.value.map((o) => o.id)).toEqual([ts.tenant.groups.engineering!.id]);
  });

  it('removePassword deletes the credential and the secret stops working', () => {
    const app = ts.tenant.apps['long-lived']!;
    const cred = run(over, 'POST', `applications/${app.applicationObjectId}/addPassword`, { passwordCredential: { displayName: 'tmp', endDateTime: '2030-01-01T00:00:00Z' } }).body as { keyId: string; secretText: string; endDateTime: string };
    expect(cred.endDateTime).toBe('2030-01-01T00:00:00Z');
    expect(dir.secretsOf(app.applicationObjectId!).some((s) => s.secretText === cred.secretText)).toBe(true);
    expect(run(over, 'POST', `applications/${app.applicationObjectId}/removePassword`, { keyId: cred.keyId }).status).toBe(204);
    expect(dir.secretsOf(app.applicationObjectId!).some((s) => s.secretText === cred.secretText)).toBe(false);
    const ci = appCaller(ts, 'ci-deployer');
    expect(run(ci, 'POST', `applications/${app.applicationObjectId}/addPassword`, {}).status).toBe(403);
    expect(run(ci, 'POST', `applications/${ts.tenant.apps['ci-target-web']!.applicationObjectId}/addPassword`, {}).status).toBe(200);
  });
});
