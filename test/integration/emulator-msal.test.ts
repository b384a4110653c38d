// @azure/msal-node, unchanged, against the emulator's Entra side: client secret,
// certificate assertion and ROPC, each producing a token Graph (the emulator) accepts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfidentialClientApplication, PublicClientApplication } from '@azure/msal-node';
import { startEmulator, type Emulator, type EmulatorTenant } from '../../src/emulator/index.js';
import { testPki } from '../support/pki.js';

let emu: Emulator;
let tenant: EmulatorTenant;
let authorityHost: string;

function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

async function graphGet(path: string, token: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${emu.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  emu = await startEmulator({ tls: testPki().server, size: 500 });
  tenant = emu.tenants[0]!;
  authorityHost = new URL(emu.url).host;
});
afterAll(async () => {
  await emu.close();
});

describe('msal-node against the emulator', () => {
  it('client credentials with a client secret yields an app-only token with the granted roles', async () => {
    const agent = tenant.agents['mail-summarizer']!;
    const cca = new ConfidentialClientApplication({
      auth: { clientId: agent.appId, authority: `${emu.url}/${tenant.id}`, clientSecret: agent.clientSecret!, knownAuthorities: [authorityHost] },
    });
    const r = await cca.acquireTokenByClientCredential({ scopes: ['https://graph.microsoft.com/.default'] });
    expect(r?.accessToken).toBeTruthy();
    const c = claimsOf(r!.accessToken);
    expect(c).toMatchObject({ aud: '00000003-0000-0000-c000-000000000000', iss: `https://sts.windows.net/${tenant.id}/`, appid: agent.appId, appidacr: '1', idtyp: 'app', oid: agent.servicePrincipalId, tid: tenant.id, ver: '1.0', roles: ['Mail.Read'] });
    // A second call is served from MSAL's cache: the token endpoint saw one client_credentials grant.
    await cca.acquireTokenByClientCredential({ scopes: ['https://graph.microsoft.com/.default'] });
    expect(emu.entraRequests().filter((e) => e.grantType === 'client_credentials' && e.status === 200)).toHaveLength(1);
    const me = await graphGet(`/v1.0/users/${tenant.users.alice!.id}/messages?$top=2`, r!.accessToken);
    expect(me.status).toBe(200);
    expect((me.body.value as unknown[]).length).toBe(2);
  });

  it('client credentials with a certificate assertion (x5t#S256) yields appidacr 2', async () => {
    const agent = tenant.agents['cert-agent']!;
    const cert = agent.certificate!;
    const cca = new ConfidentialClientApplication({
      auth: {
        clientId: agent.appId, authority: `${emu.url}/${tenant.id}`, knownAuthorities: [authorityHost],
        clientCertificate: { thumbprintSha256: cert.thumbprintSha256Hex, privateKey: cert.keyPem, x5c: cert.certPem },
      },
    });
    const r = await cca.acquireTokenByClientCredential({ scopes: ['https://graph.microsoft.com/.default'] });
    const c = claimsOf(r!.accessToken);
    expect(c.appidacr).toBe('2');
    expect(c.roles).toEqual(['User.Read.All']);
    const users = await graphGet('/v1.0/users?$top=3&$select=id,displayName', r!.accessToken);
    expect(users.status).toBe(200);
  });

  it('a wrong client secret is refused with invalid_client / AADSTS7000215', async () => {
    const agent = tenant.agents['mail-summarizer']!;
    const cca = new ConfidentialClientApplication({
      auth: { clientId: agent.appId, authority: `${emu.url}/${tenant.id}`, clientSecret: 'not-the-secret', knownAuthorities: [authorityHost] },
    });
    await expect(cca.acquireTokenByClientCredential({ scopes: ['https://graph.microsoft.com/.default'] })).rejects.toMatchObject({ errorCode: 'invalid_client' });
  });

  it('ROPC for a user yields a delegated token with granted scopes and the user wids', async () => {
    const app = tenant.agents['copilot-assistant']!;
    const carol = tenant.users.carol!;
    const pca = new PublicClientApplication({ auth: { clientId: app.appId, authority: `${emu.url}/${tenant.id}`, knownAuthorities: [authorityHost] } });
    const r = await pca.acquireTokenByUsernamePassword({ scopes: ['https://graph.microsoft.com/Mail.Read', 'https://graph.microsoft.com/User.Read'], username: carol.userPrincipalName, password: carol.password });
    const c = claimsOf(r!.accessToken);
    expect(c).toMatchObject({ idtyp: 'user', oid: carol.id, upn: carol.userPrincipalName, appidacr: '0', appid: app.appId });
    expect(String(c.scp).split(' ').sort()).toEqual(['Mail.Read', 'User.Read']);
    const me = await graphGet('/v1.0/me', r!.accessToken);
    expect(me.status).toBe(200);
    expect(me.body.id).toBe(carol.id);
    const mail = await graphGet('/v1.0/me/messages?$top=1', r!.accessToken);
    expect(mail.status).toBe(200);
  });

  it('ROPC for the global admin carries the Global Administrator template in wids; a disabled user is refused', async () => {
    const app = tenant.agents['copilot-assistant']!;
    const pca = new PublicClientApplication({ auth: { clientId: app.appId, authority: `${emu.url}/${tenant.id}`, knownAuthorities: [authorityHost] } });
    const admin = tenant.users.admin!;
    const r = await pca.acquireTokenByUsernamePassword({ scopes: ['User.Read'], username: admin.userPrincipalName, password: admin.password });
    expect(claimsOf(r!.accessToken).wids).toEqual(['62e90394-69f5-4237-9190-012177145e10']);
    const dis = tenant.users.disabled!;
    await expect(pca.acquireTokenByUsernamePassword({ scopes: ['User.Read'], username: dis.userPrincipalName, password: dis.password })).rejects.toMatchObject({ errorCode: 'invalid_grant' });
  });
});
