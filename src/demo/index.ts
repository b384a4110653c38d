/**
 * The quick-start demo: an emulated tenant, graphwarden in front of it, and scripted
 * agents (the official Graph SDK with msal-node) making real calls through the proxy.
 * Owns the script; the CLI (cli/demo.ts) prints it. Runs on loopback only.
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, PageIterator, type PageCollection } from '@microsoft/microsoft-graph-client';
import { ConfidentialClientApplication, PublicClientApplication } from '@azure/msal-node';
import { startEmulator, type Emulator } from '../emulator/index.js';
import { parseConfig } from '../config/load.js';
import { createApp, type App } from '../app.js';
import { createLogger } from '../log.js';
import { CERT_FILES } from '../certs/index.js';
import { randomBytes } from 'node:crypto';
import { tokenDigest } from '../approval/index.js';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A loopback webhook receiver standing in for the reviewer's chat channel: yields approval ids as they are requested. */
async function startNoticeInbox(): Promise<{ url: string; next(): Promise<string>; close(): Promise<void> }> {
  const queued: string[] = [];
  const waiting: Array<(id: string) => void> = [];
  const server = http.createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      res.end();
      const id = (JSON.parse(text) as { approval: { id: string } }).approval.id;
      const w = waiting.shift();
      if (w) w(id);
      else queued.push(id);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/notices`,
    next: () => (queued.length > 0 ? Promise.resolve(queued.shift()!) : new Promise((r) => waiting.push(r))),
    close: () => new Promise((r) => server.close(() => r())),
  };
}

export interface DemoCall {
  agent: string;
  call: string;
  status: number;
  /** What graphwarden did: forwarded, rejected, blocked, held …, and Graph's error code when there was one. */
  outcome: string;
  note?: string;
  requestId?: string;
}

export interface DemoRun {
  proxyUrl: string;
  adminUrl: string;
  emulatorUrl: string;
  tenantId: string;
  stateDir: string;
  calls: DemoCall[];
  /** Requests that reached the emulated Graph (proof that rejected calls never did). */
  graphRequests: number;
  stop(): Promise<void>;
}

interface GraphSdkError {
  statusCode?: number;
  code?: string;
  message?: string;
  body?: string;
  requestId?: string;
  headers?: Headers;
}

export interface DemoOptions {
  /** Directory with ca.crt, server.crt, server.key; the CA must be trusted by this process (NODE_EXTRA_CA_CERTS). */
  pkiDir: string;
  proxyPort?: number;
  adminPort?: number;
  emulatorPort?: number;
  stateDir?: string;
  log?: (line: string) => void;
}

export async function runDemo(opts: DemoOptions): Promise<DemoRun> {
  const log = opts.log ?? (() => {});
  const { readFile } = await import('node:fs/promises');
  const tls = {
    certPem: await readFile(path.join(opts.pkiDir, CERT_FILES.serverCert), 'utf8'),
    keyPem: await readFile(path.join(opts.pkiDir, CERT_FILES.serverKey), 'utf8'),
  };
  const emulator: Emulator = await startEmulator({ tls, port: opts.emulatorPort ?? 0, size: 300 });
  const tenant = emulator.tenants[0]!;
  const ownState = !opts.stateDir;
  const stateDir = opts.stateDir ?? (await mkdtemp(path.join(os.tmpdir(), 'graphwarden-demo-')));
  await mkdir(stateDir, { recursive: true });
  // A security reviewer who approves held calls through the admin API, notified on a loopback webhook.
  const approverToken = randomBytes(32).toString('hex');
  const notices = await startNoticeInbox();
  // graphwarden reads the tenant with the emulator's read-only connector app (secret in a 0600 file).
  const connector = tenant.agents['graphwarden-connector']!;
  const secretFile = path.join(stateDir, 'connector.secret');
  await writeFile(secretFile, connector.clientSecret!, { mode: 0o600 });
  const config = parseConfig(
    {
      server: { listen: { host: '127.0.0.1', port: opts.proxyPort ?? 0 }, tls: { enabled: true, cert: CERT_FILES.serverCert, key: CERT_FILES.serverKey } },
      upstream: { url: emulator.url, ca: CERT_FILES.caCert },
      identity: { authorityHost: emulator.url, allowedTenants: [tenant.id] },
      admin: { listen: { host: '127.0.0.1', port: opts.adminPort ?? 0 } },
      log: { level: 'silent', accessLog: false },
      state: { dir: stateDir },
      directory: { tenants: [{ tenantId: tenant.id, authorityHost: emulator.url, graphBaseUrl: emulator.url, credentials: { clientId: connector.appId, clientSecretFile: secretFile } }] },
      approvals: {
        waitSec: 30,
        approvers: [{ name: 'security-reviewer@contoso.example', tokenSha256: tokenDigest(approverToken) }],
        notify: { targets: [{ name: 'demo-inbox', url: notices.url, format: 'json', events: ['requested'] }] },
      },
    },
    'demo',
    opts.pkiDir,
  );
  const app: App = await createApp(config, { logger: createLogger({ level: 'silent' }) });
  const { proxyUrl, adminUrl } = await app.start();
  const sync = await app.syncDirectory();
  log(`directory synced: snapshot ${sync?.snapshotId?.slice(0, 12) ?? '?'} (${sync?.tenants.map((t) => `${t.objects} objects`).join(', ')})\n`);
  const proxyHost = new URL(proxyUrl).hostname;
  const emuHost = new URL(emulator.url).host;
  const authority = `${emulator.url}/${tenant.id}`;
  const scopes = ['https://graph.microsoft.com/.default'];
  const calls: DemoCall[] = [];

  const sdk = (getToken: () => Promise<string>) =>
    Client.init({
      baseUrl: proxyUrl,
      // The SDK only attaches tokens to Graph hosts and these (host name, no port).
      customHosts: new Set([proxyHost]),
      authProvider: (done) => {
        getToken().then((t) => done(null, t), (e: unknown) => done(e as Error, null));
      },
    });

  const confidential = (agentKey: string) => {
    const agent = tenant.agents[agentKey]!;
    const cert = agent.certificate;
    const cca = new ConfidentialClientApplication({
      auth: {
        clientId: agent.appId,
        authority,
        knownAuthorities: [emuHost],
        ...(cert ? { clientCertificate: { thumbprintSha256: cert.thumbprintSha256Hex, privateKey: cert.keyPem } } : { clientSecret: agent.clientSecret! }),
      },
    });
    return async () => (await cca.acquireTokenByClientCredential({ scopes }))!.accessToken;
  };

  async function attempt(agent: string, call: string, fn: () => Promise<string | undefined>): Promise<void> {
    try {
      const note = await fn();
      calls.push({ agent, call, status: 200, outcome: 'forwarded', note });
    } catch (e) {
      const err = e as GraphSdkError;
      let code = err.code ?? 'error';
      let graphwardenCode: string | undefined;
      try {
        // The SDK keeps Graph's error object (inside the envelope) as `body`.
        const parsed = JSON.parse(err.body ?? '{}') as { code?: string; innerError?: Record<string, string> };
        code = parsed.code ?? code;
        graphwardenCode = parsed.innerError?.['graphwarden-code'];
      } catch {
        // non-JSON body: keep the SDK's code
      }
      calls.push({
        agent,
        call,
        status: err.statusCode ?? 0,
        outcome: graphwardenCode ? `graphwarden: ${graphwardenCode}` : `Graph: ${code}`,
        note: err.message?.slice(0, 120),
        requestId: err.requestId,
      });
    }
    const last = calls[calls.length - 1]!;
    log(`${last.status === 200 ? '✔' : '✖'} ${agent.padEnd(22)} ${call.padEnd(52)} ${String(last.status).padEnd(4)} ${last.outcome}${last.note ? ` — ${last.note}` : ''}`);
  }

  // 1. App-only agent with a client secret pages through users: every page comes back through the proxy.
  const mail = sdk(confidential('mail-summarizer'));
  const prov = sdk(confidential('provisioning-bot'));
  await attempt('provisioning-bot', 'GET /users?$top=10, 3 pages via PageIterator', async () => {
    let seen = 0;
    const first = (await prov.api('/users').select('id,displayName').top(10).get()) as PageCollection;
    const next = first['@odata.nextLink'];
    // The iterator follows @odata.nextLink by its absolute URL: it must be the proxy's.
    await new PageIterator(prov, first, () => ++seen < 30).iterate();
    return `${seen} users; next links point at ${next ? new URL(next).origin : '(none)'}`;
  });

  // 2. Certificate credential.
  const certAgent = sdk(confidential('cert-agent'));
  await attempt('cert-agent', `GET /users/{id} (certificate credential)`, async () => {
    const u = (await certAgent.api(`/users/${tenant.users['alice']!.id}`).get()) as { displayName: string };
    return u.displayName;
  });

  // 3. Mail reader reads one mailbox.
  await attempt('mail-summarizer', `GET /users/{carol}/messages`, async () => {
    const r = (await mail.api(`/users/${tenant.users['carol']!.id}/messages`).top(3).get()) as { value: unknown[] };
    return `${r.value.length} messages`;
  });

  // 4. Delegated: a copilot acting for Carol (ROPC against the emulator).
  const copilot = tenant.agents['copilot-assistant']!;
  const pca = new PublicClientApplication({ auth: { clientId: copilot.appId, authority, knownAuthorities: [emuHost] } });
  const carol = tenant.users['carol']!;
  const delegated = sdk(async () => (await pca.acquireTokenByUsernamePassword({ scopes, username: carol.userPrincipalName, password: carol.password }))!.accessToken);
  await attempt('copilot-assistant', 'GET /me (delegated, as Carol)', async () => {
    const me = (await delegated.api('/me').get()) as { userPrincipalName: string };
    return me.userPrincipalName;
  });

  // 5. A write: add a member to a group.
  await attempt('provisioning-bot', 'POST /groups/{id}/members/$ref', async () => {
    await prov.api(`/groups/${tenant.groups['project-phoenix']!.id}/members/$ref`).post({ '@odata.id': `https://graph.microsoft.com/v1.0/directoryObjects/${tenant.users['pim']!.id}` });
    return 'member added';
  });

  // 6. Control plane: an over-privileged agent adds a secret to another application.
  const over = sdk(confidential('overprivileged-agent'));
  const target = tenant.agents['provisioning-bot']!;
  await attempt('overprivileged-agent', 'POST /applications/{id}/addPassword', async () => {
    const r = (await over.api(`/applications/${target.applicationObjectId}/addPassword`).post({ passwordCredential: { displayName: 'demo' } })) as { keyId: string };
    return `secret ${r.keyId} added to ${target.displayName}`;
  });

  // 7. Granting an app role is held for a human: the reviewer is notified and approves through the admin API.
  await attempt('overprivileged-agent', 'POST /servicePrincipals/{graph}/appRoleAssignedTo (held)', async () => {
    const call = over.api(`/servicePrincipals/${tenant.graphServicePrincipalId}/appRoleAssignedTo`).post({
      principalId: tenant.agents['mail-summarizer']!.servicePrincipalId,
      resourceId: tenant.graphServicePrincipalId,
      appRoleId: 'df021288-bdef-4463-88db-98f22de89214', // User.Read.All
    });
    const approvalId = await notices.next();
    log(`  → held for approval ${approvalId}; the reviewer approves it through the admin API`);
    const res = await fetch(`${adminUrl}/api/v1/approvals/${approvalId}/approve`, {
      method: 'POST',
      headers: { authorization: `Bearer ${approverToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ justification: 'CHG-1042: the mail summarizer needs to resolve senders' }),
    });
    if (!res.ok) throw new Error(`approval refused: ${res.status}`);
    const granted = (await call) as { id: string };
    return `approved by security-reviewer, then forwarded: assignment ${granted.id}`;
  });

  // 8. A forged token never reaches Graph.
  const before = emulator.graphRequests().length;
  const forged = await emulator.issueToken({ tenantId: tenant.id, appId: target.appId, kind: 'app', sign: 'unknown-key' });
  const forger = sdk(async () => forged);
  await attempt('forger', 'GET /users with a token signed by an unknown key', async () => {
    await forger.api('/users').get();
    return undefined;
  });
  const after = emulator.graphRequests().length;
  log(`  → requests that reached Graph for the forged call: ${after - before}`);

  return {
    proxyUrl,
    adminUrl,
    emulatorUrl: emulator.url,
    tenantId: tenant.id,
    stateDir,
    calls,
    graphRequests: emulator.graphRequests().length,
    async stop() {
      await app.stop();
      await notices.close();
      await emulator.close();
      if (ownState) await rm(stateDir, { recursive: true, force: true });
    },
  };
}
