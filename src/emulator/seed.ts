/**
 * The seeded cast of each emulated tenant: test users, groups, agents (apps + service
 * principals with Graph app roles or delegated grants), credentials in every lifecycle
 * state, directory roles and PIM schedules. Owns what exists at start; docs/emulator.md
 * describes it. Does not serve HTTP.
 */
import { createSelfSignedCert, thumbprints, certDerBase64 } from '../certs/index.js';
import { TenantDirectory, type Obj } from './directory.js';
import { GRAPH_APP_ID, ROLE } from './catalog.js';
import { deriveGuid, deriveSecret } from './ids.js';

export interface EmulatorAgentCertificate { keyPem: string; certPem: string; thumbprintSha1Hex: string; thumbprintSha256Hex: string }

export interface EmulatorAgent {
  displayName: string;
  appId: string;
  servicePrincipalId: string;
  /** Undefined for apps registered in another tenant (multi-tenant apps have only an SP here). */
  applicationObjectId?: string;
  clientSecret?: string;
  certificate?: EmulatorAgentCertificate;
  /** Graph application permissions granted (app role assignments on the Microsoft Graph SP). */
  appRoles: string[];
  /** True for public clients (ROPC / delegated only). */
  publicClient: boolean;
}

export interface EmulatorUser {
  id: string;
  displayName: string;
  userPrincipalName: string;
  password: string;
  userType: 'Member' | 'Guest';
  accountEnabled: boolean;
  /** Active tenant-wide role template ids at seed time (the `wids` claim). */
  activeRoles: string[];
  /** PIM-eligible role template ids. */
  eligibleRoles: string[];
}

export interface EmulatorApp { displayName: string; appId: string; applicationObjectId?: string; servicePrincipalId: string }

export interface EmulatorTenant {
  id: string;
  displayName: string;
  primaryDomain: string;
  graphServicePrincipalId: string;
  agents: Record<string, EmulatorAgent>;
  users: Record<string, EmulatorUser>;
  groups: Record<string, { id: string; displayName: string }>;
  /** Other seeded applications (credential lifecycle cases, agent identity objects). */
  apps: Record<string, EmulatorApp>;
}

const NAMES = ['Contoso', 'Fabrikam', 'Northwind', 'Tailspin', 'Woodgrove', 'Litware', 'Adatum', 'Proseware'];
const DAY = 86_400_000;

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

// RSA key generation costs ~0.3 s; emulators started in one process with the same seed
// (test files start several) reuse the same certificate instead of making a new one each time.
const certMemo = new Map<string, { keyPem: string; certPem: string }>();
function memoCert(key: string, make: () => { keyPem: string; certPem: string }): { keyPem: string; certPem: string } {
  let c = certMemo.get(key);
  if (!c) certMemo.set(key, (c = make()));
  return c;
}

/** Approximate number of cast objects, subtracted from `size` to size the fillers. */
const CAST_OBJECTS = 43;

export function tenantIdentity(seed: string, index: number): { id: string; displayName: string; primaryDomain: string } {
  const name = NAMES[index % NAMES.length]!;
  const suffix = index >= NAMES.length ? String(index) : '';
  return { id: deriveGuid(seed, `tenant:${index}`), displayName: `${name}${suffix} (emulated)`, primaryDomain: `${name.toLowerCase()}${suffix}.onmicrosoft.com` };
}

export function seedTenant(opts: { seed: string; index: number; size: number; now: () => number }): { directory: TenantDirectory; tenant: EmulatorTenant } {
  const t = tenantIdentity(opts.seed, opts.index);
  const s = `${opts.seed}:${opts.index}`;
  const filler = Math.max(0, opts.size - CAST_OBJECTS);
  const apps = Math.floor(filler * 0.025);
  const groups = Math.floor(filler * 0.15);
  const dir = new TenantDirectory({
    tenantId: t.id, seed: opts.seed, primaryDomain: t.primaryDomain, now: opts.now,
    fillers: { users: filler - groups - 2 * apps, groups, apps },
  });
  const now = opts.now();
  const id = (label: string) => deriveGuid(s, label);

  // Microsoft Graph resource SP with the real app role and scope ids (graph-facts §1.6).
  const graphSp: Obj = {
    id: id('sp:graph'), appId: GRAPH_APP_ID, displayName: 'Microsoft Graph', appDisplayName: 'Microsoft Graph', accountEnabled: true,
    servicePrincipalType: 'Application', appOwnerOrganizationId: 'f8cdef31-a31e-4b4a-93e4-5f571e91255a',
    servicePrincipalNames: ['https://graph.microsoft.com', 'https://graph.microsoft.com/', GRAPH_APP_ID], tags: [], passwordCredentials: [], keyCredentials: [],
    createdDateTime: dir.createdDateTime,
    appRoles: dir.catalog.appRoles.map((r) => ({ allowedMemberTypes: ['Application'], description: r.description, displayName: r.displayName, id: r.id, isEnabled: r.isEnabled, origin: 'Application', value: r.value })),
    oauth2PermissionScopes: dir.catalog.scopes.map((sc) => ({ adminConsentDescription: sc.description, adminConsentDisplayName: sc.displayName, id: sc.id, isEnabled: sc.isEnabled, type: sc.type, userConsentDescription: null, userConsentDisplayName: null, value: sc.value })),
  };
  dir.putObject('servicePrincipals', graphSp);
  dir.graphServicePrincipalId = String(graphSp.id);

  // ---- users
  const users: Record<string, EmulatorUser> = {};
  const mkUser = (key: string, displayName: string, extra: Obj = {}): EmulatorUser => {
    const [given, ...rest] = displayName.split(' ');
    const upn = (extra.userPrincipalName as string | undefined) ?? `${key}@${t.primaryDomain}`;
    const password = `Pw-${deriveSecret(s, `password:${key}`).slice(0, 16)}!`;
    const u = dir.createUser({
      id: id(`user:${key}`), displayName, givenName: given ?? null, surname: rest.join(' ') || null, userPrincipalName: upn, mail: upn.includes('#EXT#') ? `${key}@partner.example` : upn,
      password, jobTitle: (extra.jobTitle as string | undefined) ?? 'Staff', department: 'Operations', createdDateTime: dir.createdDateTime, preferredLanguage: 'en-US', ...extra,
    });
    const eu: EmulatorUser = { id: String(u.id), displayName, userPrincipalName: upn, password, userType: u.userType as 'Member' | 'Guest', accountEnabled: u.accountEnabled as boolean, activeRoles: [], eligibleRoles: [] };
    users[key] = eu;
    return eu;
  };
  const alice = mkUser('alice', 'Alice Member');
  const carol = mkUser('carol', 'Carol Copilot', { jobTitle: 'Account Manager', department: 'Sales' });
  mkUser('guest', 'Gita Guest', { userType: 'Guest', userPrincipalName: `gita_partner.example#EXT#@${t.primaryDomain}`, creationType: 'Invitation', externalUserState: 'Accepted' });
  mkUser('disabled', 'Dan Disabled', { accountEnabled: false });
  const admin = mkUser('admin', 'Grace Admin', { jobTitle: 'IT Director' });
  const pim = mkUser('pim', 'Pat Eligible', { jobTitle: 'Identity Engineer' });
  const helpdesk = mkUser('helpdesk', 'Hank Helpdesk', { jobTitle: 'Support Engineer' });

  // ---- groups
  const groupsOut: Record<string, { id: string; displayName: string }> = {};
  const mkGroup = (key: string, displayName: string, extra: Obj = {}): string => {
    const g: Obj = {
      id: id(`group:${key}`), displayName, description: `${displayName} (seeded)`, mailNickname: key, mail: null, mailEnabled: false, securityEnabled: true,
      groupTypes: [], isAssignableToRole: false, membershipRule: null, membershipRuleProcessingState: null, visibility: null, createdDateTime: dir.createdDateTime, ...extra,
    };
    dir.putObject('groups', g);
    groupsOut[key] = { id: String(g.id), displayName };
    return String(g.id);
  };
  const allStaff = mkGroup('all-staff', 'All Staff');
  const engineering = mkGroup('engineering', 'Engineering');
  const helpdeskAdmins = mkGroup('helpdesk-admins', 'Helpdesk Admins', { isAssignableToRole: true });
  mkGroup('dynamic-sales', 'Sales (dynamic)', { groupTypes: ['DynamicMembership'], membershipRule: '(user.department -eq "Sales")', membershipRuleProcessingState: 'On' });
  const project = mkGroup('project-phoenix', 'Project Phoenix', { groupTypes: ['Unified'], mailEnabled: true, mail: `project-phoenix@${t.primaryDomain}`, securityEnabled: false, visibility: 'Private' });
  for (const u of [alice, carol, admin]) dir.addMember(allStaff, u.id);
  dir.addMember(allStaff, engineering); // nested group
  for (const u of [pim, helpdesk]) dir.addMember(engineering, u.id);
  dir.addMember(helpdeskAdmins, helpdesk.id);
  dir.addMember(project, carol.id);
  dir.addMember(project, alice.id);
  dir.addOwner(allStaff, admin.id);
  dir.addOwner(helpdeskAdmins, admin.id);
  dir.addOwner(project, carol.id);

  // ---- roles
  dir.assignRole({ principalId: admin.id, roleDefinitionId: ROLE.globalAdministrator });
  dir.assignRole({ principalId: helpdeskAdmins, roleDefinitionId: ROLE.helpdeskAdministrator });
  dir.addRoleEligibility({ principalId: pim.id, roleDefinitionId: ROLE.privilegedRoleAdministrator, endDateTime: iso(now + 180 * DAY) });
  dir.addRoleEligibility({ principalId: pim.id, roleDefinitionId: ROLE.globalAdministrator, endDateTime: iso(now + 30 * DAY) });
  admin.activeRoles.push(ROLE.globalAdministrator);
  helpdesk.activeRoles.push(ROLE.helpdeskAdministrator);
  pim.eligibleRoles.push(ROLE.privilegedRoleAdministrator, ROLE.globalAdministrator);

  // ---- applications and agents
  const agents: Record<string, EmulatorAgent> = {};
  const appsOut: Record<string, EmulatorApp> = {};
  interface AppSpec {
    key: string; displayName: string; roles?: string[]; secret?: { startMs: number; endMs: number; displayName: string } | false;
    publicClient?: boolean; owners?: string[]; multiTenant?: boolean; agent?: boolean; appType?: string; spType?: string; spExtra?: Obj; appExtra?: Obj;
  }
  const mkApp = (spec: AppSpec): EmulatorApp & { secretText?: string } => {
    const appId = id(`appId:${spec.key}`);
    const spId = id(`sp:${spec.key}`);
    const foreignTenant = spec.multiTenant ? deriveGuid(s, 'partner-tenant') : t.id;
    let applicationObjectId: string | undefined;
    if (!spec.multiTenant) {
      applicationObjectId = id(`app:${spec.key}`);
      dir.putObject('applications', {
        id: applicationObjectId, appId, displayName: spec.displayName, description: null, createdDateTime: dir.createdDateTime, signInAudience: 'AzureADMyOrg',
        publisherDomain: t.primaryDomain, isFallbackPublicClient: spec.publicClient === true, identifierUris: [], tags: [], passwordCredentials: [], keyCredentials: [],
        publicClient: { redirectUris: spec.publicClient ? ['http://localhost'] : [] }, web: { redirectUris: [], homePageUrl: null },
        requiredResourceAccess: spec.roles?.length ? [{ resourceAppId: GRAPH_APP_ID, resourceAccess: spec.roles.map((r) => ({ id: dir.graphAppRoleId(r), type: 'Role' })) }] : [],
        appRoles: [], api: { oauth2PermissionScopes: [] },
        ...(spec.appType ? { '@odata.type': spec.appType } : {}), ...spec.appExtra,
      });
    }
    dir.putObject('servicePrincipals', {
      id: spId, appId, displayName: spec.displayName, appDisplayName: spec.displayName, accountEnabled: true, servicePrincipalType: spec.spType ?? 'Application',
      appOwnerOrganizationId: foreignTenant, signInAudience: spec.multiTenant ? 'AzureADMultipleOrgs' : 'AzureADMyOrg', servicePrincipalNames: [appId], tags: ['WindowsAzureActiveDirectoryIntegratedApp'],
      passwordCredentials: [], keyCredentials: [], appRoles: [], oauth2PermissionScopes: [], createdDateTime: dir.createdDateTime, publisherName: spec.multiTenant ? 'Partner Analytics Ltd' : t.displayName,
      ...(spec.multiTenant ? { verifiedPublisher: { displayName: null, verifiedPublisherId: null, addedDateTime: null } } : {}),
      ...spec.spExtra,
    });
    for (const r of spec.roles ?? []) dir.grantAppRole(spId, r);
    for (const o of spec.owners ?? []) if (applicationObjectId) dir.addOwner(applicationObjectId, o);
    for (const o of spec.owners ?? []) dir.addOwner(spId, o);
    let secretText: string | undefined;
    if (spec.secret !== false && !spec.publicClient) {
      const sec = spec.secret ?? { startMs: now - 30 * DAY, endMs: now + 335 * DAY, displayName: 'default' };
      secretText = deriveSecret(s, `client:${spec.key}`);
      // Multi-tenant apps keep credentials in their home tenant; the emulator stores them on the SP here.
      dir.addPassword(applicationObjectId ?? spId, { displayName: sec.displayName, startDateTime: iso(sec.startMs), endDateTime: iso(sec.endMs), secretText });
    }
    const out: EmulatorApp & { secretText?: string } = { displayName: spec.displayName, appId, servicePrincipalId: spId, ...(applicationObjectId ? { applicationObjectId } : {}) };
    if (spec.agent) {
      agents[spec.key] = { displayName: spec.displayName, appId, servicePrincipalId: spId, ...(applicationObjectId ? { applicationObjectId } : {}), ...(secretText ? { clientSecret: secretText } : {}), appRoles: [...(spec.roles ?? [])].sort(), publicClient: spec.publicClient === true };
    } else {
      appsOut[spec.key] = out;
    }
    return secretText ? { ...out, secretText } : out;
  };

  mkApp({ key: 'mail-summarizer', displayName: 'Mail Summarizer', roles: ['Mail.Read'], agent: true, owners: [admin.id] });
  mkApp({ key: 'provisioning-bot', displayName: 'Provisioning Bot', roles: ['User.ReadWrite.All', 'GroupMember.ReadWrite.All'], agent: true, owners: [admin.id] });
  const ci = mkApp({ key: 'ci-deployer', displayName: 'CI Deployer', roles: ['Application.ReadWrite.OwnedBy'], agent: true, owners: [admin.id] });
  mkApp({ key: 'overprivileged-agent', displayName: 'Overprivileged Agent', roles: ['Application.ReadWrite.All', 'AppRoleAssignment.ReadWrite.All', 'RoleManagement.ReadWrite.Directory'], agent: true, owners: [admin.id] });
  const certAgent = mkApp({ key: 'cert-agent', displayName: 'Certificate Agent', roles: ['User.Read.All'], agent: true, secret: false, owners: [admin.id] });
  const copilot = mkApp({ key: 'copilot-assistant', displayName: 'Copilot Assistant', agent: true, publicClient: true, owners: [admin.id] });
  // AppRoleAssignment.Read.All is not a Microsoft Graph app role (absent from the Graph SP's appRoles); Application.Read.All covers those reads.
  mkApp({
    key: 'graphwarden-connector', displayName: 'graphwarden connector', agent: true, owners: [admin.id],
    roles: ['Directory.Read.All', 'Application.Read.All', 'RoleManagement.Read.Directory', 'Group.Read.All', 'User.Read.All', 'RoleEligibilitySchedule.Read.Directory', 'RoleAssignmentSchedule.Read.Directory'],
  });
  mkApp({ key: 'partner-analytics', displayName: 'Partner Analytics (multi-tenant)', roles: ['Directory.ReadWrite.All', 'Mail.Read'], agent: true, multiTenant: true });

  // ci-deployer's service principal owns two applications (Application.ReadWrite.OwnedBy scope).
  mkApp({ key: 'ci-target-web', displayName: 'CI Target Web', owners: [ci.servicePrincipalId] });
  mkApp({ key: 'ci-target-api', displayName: 'CI Target API', owners: [ci.servicePrincipalId] });
  mkApp({ key: 'legacy-expired', displayName: 'Legacy Reporting (expired secret)', owners: [admin.id], secret: { startMs: now - 740 * DAY, endMs: now - 10 * DAY, displayName: 'old' } });
  mkApp({ key: 'expiring-soon', displayName: 'HR Sync (secret expires soon)', owners: [admin.id], secret: { startMs: now - 345 * DAY, endMs: now + 20 * DAY, displayName: 'rotating' } });
  mkApp({ key: 'long-lived', displayName: 'Finance Export (long-lived secret)', owners: [admin.id], secret: { startMs: now - 10 * DAY, endMs: now + 3 * 365 * DAY, displayName: 'forever' } });
  mkApp({ key: 'orphan-app', displayName: 'Orphaned Integration (no owners)' });

  // Entra Agent ID objects (beta): a blueprint application, its blueprint principal, and one agent identity.
  const blueprint = mkApp({ key: 'research-agent-blueprint', displayName: 'Research Agent Blueprint', owners: [admin.id], appType: '#microsoft.graph.agentIdentityBlueprint', spExtra: { '@odata.type': '#microsoft.graph.agentIdentityBlueprintPrincipal' } });
  const agentIdentityId = id('sp:research-agent-01');
  dir.putObject('servicePrincipals', {
    '@odata.type': '#microsoft.graph.agentIdentity', id: agentIdentityId, appId: id('appId:research-agent-01'), displayName: 'Research Agent 01', accountEnabled: true,
    servicePrincipalType: 'ServiceIdentity', agentIdentityBlueprintId: blueprint.appId, createdByAppId: blueprint.appId, appOwnerOrganizationId: t.id,
    servicePrincipalNames: [], tags: [], passwordCredentials: [], keyCredentials: [], appRoles: [], oauth2PermissionScopes: [], createdDateTime: dir.createdDateTime,
  });
  dir.grantAppRole(agentIdentityId, 'User.Read.All');
  appsOut['research-agent-01'] = { displayName: 'Research Agent 01', appId: id('appId:research-agent-01'), servicePrincipalId: agentIdentityId };

  // cert-agent authenticates with a self-signed certificate (client assertion, appidacr 2).
  const cert = memoCert(`${s}:cert-agent`, () => createSelfSignedCert(`cert-agent.${t.primaryDomain}`, 365));
  const tp = thumbprints(cert.certPem);
  dir.addKeyCredential(certAgent.applicationObjectId!, { certPem: cert.certPem, sha1Hex: tp.sha1Hex, sha256Hex: tp.sha256Hex, endDateTime: iso(now + 365 * DAY), displayName: 'CN=cert-agent', certDerBase64: certDerBase64(cert.certPem) });
  agents['cert-agent']!.certificate = { keyPem: cert.keyPem, certPem: cert.certPem, thumbprintSha1Hex: tp.sha1Hex, thumbprintSha256Hex: tp.sha256Hex };

  // copilot-assistant: delegated grants (AllPrincipals User.Read; Carol: Mail.Read Group.ReadWrite.All).
  dir.addOAuth2Grant({ clientId: copilot.servicePrincipalId, consentType: 'AllPrincipals', scope: 'User.Read openid profile offline_access' });
  dir.addOAuth2Grant({ clientId: copilot.servicePrincipalId, consentType: 'Principal', principalId: carol.id, scope: 'Mail.Read Group.ReadWrite.All' });

  return {
    directory: dir,
    tenant: { id: t.id, displayName: t.displayName, primaryDomain: t.primaryDomain, graphServicePrincipalId: String(graphSp.id), agents, users, groups: groupsOut, apps: appsOut },
  };
}
