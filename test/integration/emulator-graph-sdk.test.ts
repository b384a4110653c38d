// The official @microsoft/microsoft-graph-client against the emulator's Graph side:
// paging with PageIterator, delta, $batch, a write, a 403 for a missing permission,
// throttling and the request log.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, PageIterator, type PageCollection } from '@microsoft/microsoft-graph-client';
import { startEmulator, type Emulator, type EmulatorTenant } from '../../src/emulator/index.js';
import { testPki } from '../support/pki.js';

let emu: Emulator;
let tenant: EmulatorTenant;

function clientFor(token: string, version: 'v1.0' | 'beta' = 'v1.0'): Client {
  return Client.init({
    authProvider: (done) => done(null, token),
    baseUrl: emu.url,
    defaultVersion: version,
    customHosts: new Set([new URL(emu.url).hostname]),
  });
}

async function appToken(agent: string): Promise<string> {
  return emu.issueToken({ tenantId: tenant.id, appId: tenant.agents[agent]!.appId, kind: 'app' });
}

beforeAll(async () => {
  emu = await startEmulator({ tls: testPki().server, size: 1200 });
  tenant = emu.tenants[0]!;
});
afterAll(async () => {
  await emu.close();
});

describe('Graph SDK against the emulator', () => {
  it('pages through every user with PageIterator following opaque $skiptoken next links', async () => {
    const client = clientFor(await appToken('graphwarden-connector'));
    const first = (await client.api('/users').select('id,userPrincipalName,accountEnabled').top(250).get()) as PageCollection;
    expect(first['@odata.nextLink']).toMatch(new RegExp(`^${emu.url}/v1.0/users\\?.*\\$skiptoken=`));
    const ids = new Set<string>();
    const it = new PageIterator(client, first, (u: { id: string }) => { ids.add(u.id); return true; });
    await it.iterate();
    const count = (await client.api('/users/$count').header('ConsistencyLevel', 'eventual').get()) as unknown;
    expect(ids.size).toBe(Number(count));
    expect(ids.has(tenant.users.disabled!.id)).toBe(true);
  });

  it('delta: initial sync then a change and a removal show up with @removed', async () => {
    const client = clientFor(await appToken('graphwarden-connector'));
    let page = (await client.api('/users/delta').select('id,displayName').header('Prefer', 'odata.maxpagesize=400').get()) as Record<string, unknown>;
    let seen = 0;
    while (page['@odata.nextLink']) {
      seen += (page.value as unknown[]).length;
      page = (await client.api(String(page['@odata.nextLink'])).get()) as Record<string, unknown>;
    }
    seen += (page.value as unknown[]).length;
    expect(seen).toBeGreaterThan(400);
    const deltaLink = String(page['@odata.deltaLink']);
    expect(deltaLink).toContain('$deltatoken=');
    const dir = emu.directory(tenant.id);
    dir.updateObject('users', tenant.users.alice!.id, { displayName: 'Alice Renamed' });
    dir.deleteObject(tenant.users.guest!.id);
    const changes = (await client.api(deltaLink).get()) as { value: Array<Record<string, unknown>>; '@odata.deltaLink': string };
    expect(changes.value).toEqual(expect.arrayContaining([
      expect.objectContaining({ id: tenant.users.alice!.id, displayName: 'Alice Renamed' }),
      { id: tenant.users.guest!.id, '@removed': { reason: 'deleted' } },
    ]));
    const again = (await client.api(changes['@odata.deltaLink']).get()) as { value: unknown[] };
    expect(again.value).toEqual([]);
    await expect(client.api('/users/delta?$deltatoken=bm90LWEtdG9rZW4').get()).rejects.toMatchObject({ statusCode: 410, code: 'syncStateNotFound' });
  });

  it('groups delta reports members@delta for a membership change', async () => {
    const client = clientFor(await appToken('graphwarden-connector'));
    const latest = (await client.api('/groups/delta?$deltatoken=latest').select('id,displayName,members').get()) as Record<string, string>;
    const engineering = tenant.groups.engineering!.id;
    emu.directory(tenant.id).addMember(engineering, tenant.users.alice!.id);
    const changes = (await client.api(latest['@odata.deltaLink']!).get()) as { value: Array<Record<string, unknown>> };
    const g = changes.value.find((v) => v.id === engineering)!;
    expect(g['members@delta']).toEqual([{ '@odata.type': '#microsoft.graph.user', id: tenant.users.alice!.id }]);
  });

  it('$batch runs items, honours dependsOn with 424 and gives per-item 403', async () => {
    const client = clientFor(await appToken('mail-summarizer'));
    const res = (await client.api('/$batch').post({
      requests: [
        { id: '1', method: 'GET', url: `/users/${tenant.users.alice!.id}/messages?$top=1` },
        { id: '2', method: 'GET', url: 'users?$top=1' },
        { id: '3', method: 'GET', url: '/organization', dependsOn: ['2'] },
      ],
    })) as { responses: Array<{ id: string; status: number; body: { error: { code: string } } }> };
    const byId = Object.fromEntries(res.responses.map((r) => [r.id, r]));
    expect(byId['1']!.status).toBe(200);
    expect(byId['2']!.status).toBe(403);
    expect(byId['2']!.body.error.code).toBe('Authorization_RequestDenied');
    expect(byId['3']!.status).toBe(424);
    const tooMany = Array.from({ length: 21 }, (_, i) => ({ id: String(i), method: 'GET', url: '/organization' }));
    await expect(client.api('/$batch').post({ requests: tooMany })).rejects.toMatchObject({ statusCode: 400 });
  });

  it('writes: addPassword returns the secret once, group member $ref add and remove, PATCH user', async () => {
    const over = clientFor(await appToken('overprivileged-agent'));
    const app = tenant.apps['orphan-app']!;
    const cred = (await over.api(`/applications/${app.applicationObjectId}/addPassword`).post({ passwordCredential: { displayName: 'ci' } })) as Record<string, string>;
    expect(cred.secretText).toMatch(/^.{3}8Q~/);
    expect(cred.hint).toBe(cred.secretText!.slice(0, 3));
    const read = (await over.api(`/applications(appId='${app.appId}')`).select('passwordCredentials').get()) as { passwordCredentials: Array<Record<string, unknown>> };
    expect(read.passwordCredentials.find((p) => p.keyId === cred.keyId)!.secretText).toBeNull();

    const bot = clientFor(await appToken('provisioning-bot'));
    const group = tenant.groups['all-staff']!.id;
    const guest = tenant.users.disabled!.id;
    await bot.api(`/groups/${group}/members/$ref`).post({ '@odata.id': `https://graph.microsoft.com/v1.0/directoryObjects/${guest}` });
    expect(emu.directory(tenant.id).members(group)).toContain(guest);
    await bot.api(`/groups/${group}/members/${guest}/$ref`).delete();
    expect(emu.directory(tenant.id).members(group)).not.toContain(guest);
    await bot.api(`/users/${tenant.users.alice!.id}`).patch({ jobTitle: 'Lead' });
    expect(emu.directory(tenant.id).users.get(tenant.users.alice!.id)!.jobTitle).toBe('Lead');
    // Role-assignable groups also need RoleManagement.ReadWrite.Directory.
    await expect(bot.api(`/groups/${tenant.groups['helpdesk-admins']!.id}/members/$ref`).post({ '@odata.id': `https://graph.microsoft.com/v1.0/directoryObjects/${guest}` }))
      .rejects.toMatchObject({ statusCode: 403, code: 'Authorization_RequestDenied' });
  });

  it('a token lacking every acceptable permission gets 403 and /me with an app token gets 400', async () => {
    const client = clientFor(await appToken('mail-summarizer'));
    await expect(client.api('/users').get()).rejects.toMatchObject({ statusCode: 403, code: 'Authorization_RequestDenied', message: 'Insufficient privileges to complete the operation.' });
    await expect(client.api('/me').get()).rejects.toMatchObject({ statusCode: 400, message: '/me request is only valid with delegated authentication flow.' });
  });

  it('throttles with 429 + Retry-After and logs whether requests were authorized', async () => {
    const token = await appToken('graphwarden-connector');
    emu.clearGraphRequests();
    emu.setThrottle({ everyNth: 2, retryAfterSec: 7, paths: ['organization'] });
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 4; i++) {
      const r = await fetch(`${emu.url}/v1.0/organization`, { headers: { authorization: `Bearer ${token}`, 'client-request-id': `c-${i}` } });
      statuses.push(r.status);
      if (r.status === 429) retryAfter = r.headers.get('retry-after');
      expect(r.headers.get('client-request-id')).toBe(`c-${i}`);
      await r.arrayBuffer();
    }
    emu.setThrottle(null);
    expect(statuses).toEqual([200, 429, 200, 429]);
    expect(retryAfter).toBe('7');
    const bad = await fetch(`${emu.url}/v1.0/organization`, { headers: { authorization: 'Bearer nope' } });
    expect(bad.status).toBe(401);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('InvalidAuthenticationToken');
    expect(emu.graphRequests().map((r) => r.authorized)).toEqual([true, true, true, true, false]);
  });

  it('serves the beta Entra Agent ID objects and the Graph SP with real app role ids', async () => {
    const client = clientFor(await appToken('graphwarden-connector'), 'beta');
    const agents = (await client.api('/servicePrincipals/microsoft.graph.agentIdentity').get()) as { value: Array<Record<string, unknown>> };
    expect(agents.value[0]).toMatchObject({ '@odata.type': '#microsoft.graph.agentIdentity', displayName: 'Research Agent 01' });
    const graph = (await client.api("/servicePrincipals(appId='00000003-0000-0000-c000-000000000000')").select('appRoles').get()) as { appRoles: Array<{ value: string; id: string }> };
    expect(graph.appRoles.find((r) => r.value === 'User.Read.All')!.id).toBe('df021288-bdef-4463-88db-98f22de89214');
  });
});
