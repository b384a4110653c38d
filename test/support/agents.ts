/** Real clients for integration tests: msal-node against the emulator and the official Graph SDK pointed at graphwarden. */
import { Client } from '@microsoft/microsoft-graph-client';
import { ConfidentialClientApplication, PublicClientApplication } from '@azure/msal-node';
import type { Stack } from './stack.js';

const SCOPES = ['https://graph.microsoft.com/.default'];

export function appToken(stack: Stack, agentKey: string): () => Promise<string> {
  const tenant = stack.emulator.tenants[0]!;
  const agent = tenant.agents[agentKey];
  if (!agent) throw new Error(`no seeded agent ${agentKey}`);
  const cert = agent.certificate;
  const cca = new ConfidentialClientApplication({
    auth: {
      clientId: agent.appId,
      authority: `${stack.emulator.url}/${tenant.id}`,
      knownAuthorities: [new URL(stack.emulator.url).host],
      ...(cert ? { clientCertificate: { thumbprintSha256: cert.thumbprintSha256Hex, privateKey: cert.keyPem } } : { clientSecret: agent.clientSecret! }),
    },
  });
  return async () => (await cca.acquireTokenByClientCredential({ scopes: SCOPES }))!.accessToken;
}

export function userToken(stack: Stack, clientKey: string, userKey: string): () => Promise<string> {
  const tenant = stack.emulator.tenants[0]!;
  const user = tenant.users[userKey]!;
  const pca = new PublicClientApplication({
    auth: { clientId: tenant.agents[clientKey]!.appId, authority: `${stack.emulator.url}/${tenant.id}`, knownAuthorities: [new URL(stack.emulator.url).host] },
  });
  return async () => (await pca.acquireTokenByUsernamePassword({ scopes: SCOPES, username: user.userPrincipalName, password: user.password }))!.accessToken;
}

/** The official SDK configured exactly as the README tells users to. */
export function graphClient(stack: Stack, getToken: () => Promise<string>): Client {
  return Client.init({
    baseUrl: stack.proxyUrl,
    customHosts: new Set([new URL(stack.proxyUrl).hostname]),
    authProvider: (done) => {
      getToken().then((t) => done(null, t), (e: unknown) => done(e as Error, null));
    },
  });
}
