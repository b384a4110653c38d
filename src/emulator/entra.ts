/**
 * The emulator's Entra side, on login.microsoftonline.com's paths: OpenID metadata (v1
 * and v2), JWKS, instance discovery and the v2 token endpoint (client credentials with a
 * secret or certificate assertion, ROPC, refresh). Owns OAuth2 errors as Entra shapes
 * them; does not serve Graph.
 */
import { createHash, verify as cryptoVerify, constants as cryptoConstants, X509Certificate } from 'node:crypto';
import { GRAPH_APP_ID, GRAPH_RESOURCE_URI } from './catalog.js';
import type { Obj } from './directory.js';
import { accessTokenClaims, accessTokenHeader, jwk, newSigningKey, opaque, signJwt, type SignMode, type SigningKey } from './tokens.js';
import { tenantByKey, type EmulatorState, type Resp, type TenantState } from './types.js';

export interface IssueTokenRequest {
  tenantId: string;
  appId: string;
  kind: 'app' | 'delegated';
  /** Delegated: the user's object id or UPN. */
  userId?: string;
  roles?: string[];
  scopes?: string[];
  wids?: string[];
  lifetimeSec?: number;
  /** Seconds from now until the token becomes valid (nbf); negative back-dates the token. */
  notBeforeSec?: number;
  /** Claim overrides; a value of undefined removes the claim. */
  claims?: Record<string, unknown>;
  /** Header overrides; a value of undefined removes the field. */
  header?: Record<string, unknown>;
  sign?: SignMode;
  version?: '1.0' | '2.0';
  /** '0' public, '1' secret, '2' certificate; default from the app's credentials. */
  appidacr?: '0' | '1' | '2';
}

const GRAPH_DEFAULT_SCOPES = new Set([`${GRAPH_RESOURCE_URI}/.default`, `${GRAPH_RESOURCE_URI}//.default`, `${GRAPH_APP_ID}/.default`]);
const OIDC_SCOPES = new Set(['openid', 'profile', 'offline_access', 'email']);

let unpublishedKey: SigningKey | undefined;

/** An OAuth2 error response shaped like Entra's (AADSTS code in error_codes and the description). */
export function oauthError(status: number, error: string, code: number, message: string, now: number): Resp {
  const trace = crypto.randomUUID();
  const correlation = crypto.randomUUID();
  return {
    status,
    body: {
      error,
      error_description: `AADSTS${code}: ${message} Trace ID: ${trace} Correlation ID: ${correlation} Timestamp: ${new Date(now).toISOString().replace('T', ' ').replace('Z', 'Z')}`,
      error_codes: [code],
      timestamp: new Date(now).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, 'Z'),
      trace_id: trace,
      correlation_id: correlation,
      error_uri: `https://login.microsoftonline.com/error?code=${code}`,
    },
  };
}

function openIdConfiguration(state: EmulatorState, tid: string, v2: boolean): Obj {
  const base = `${state.url}/${tid}`;
  const o = v2 ? '/oauth2/v2.0' : '/oauth2';
  return {
    token_endpoint: `${base}${o}/token`,
    token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
    jwks_uri: v2 ? `${base}/discovery/v2.0/keys` : `${base}/discovery/keys`,
    response_modes_supported: ['query', 'fragment', 'form_post'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
    scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
    issuer: v2 ? `${base}/v2.0` : `https://sts.windows.net/${tid}/`,
    request_uri_parameter_supported: false,
    userinfo_endpoint: `${state.publicUrl}/oidc/userinfo`,
    authorization_endpoint: `${base}${o}/authorize`,
    device_authorization_endpoint: `${base}${o}/devicecode`,
    http_logout_supported: true,
    frontchannel_logout_supported: true,
    end_session_endpoint: `${base}${o}/logout`,
    claims_supported: ['sub', 'iss', 'cloud_instance_name', 'cloud_instance_host_name', 'cloud_graph_host_name', 'msgraph_host', 'aud', 'exp', 'iat', 'auth_time', 'acr', 'nonce', 'preferred_username', 'name', 'tid', 'ver', 'at_hash', 'c_hash', 'email'],
    kerberos_endpoint: `${base}/kerberos`,
    tenant_region_scope: 'EU',
    cloud_instance_name: 'microsoftonline.com',
    cloud_graph_host_name: 'graph.windows.net',
    msgraph_host: new URL(state.publicUrl).host,
    rbac_url: 'https://pas.windows.net',
  };
}

/** Routes login.microsoftonline.com-shaped requests; undefined when the path is not Entra's. */
export function handleEntra(state: EmulatorState, method: string, segments: string[], form: URLSearchParams | undefined): Resp | undefined {
  const [tenantKey, ...rest] = segments;
  if (!tenantKey) return undefined;
  const tail = rest.join('/').toLowerCase();
  const now = state.now();
  if (method === 'GET' && tail === 'discovery/instance') {
    const host = new URL(state.url).host;
    return {
      status: 200,
      body: {
        tenant_discovery_endpoint: `${state.url}/${tenantKey}/v2.0/.well-known/openid-configuration`,
        'api-version': '1.1',
        metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
      },
    };
  }
  if (method === 'GET' && (tail === 'discovery/keys' || tail === 'discovery/v2.0/keys')) {
    const v2 = tail.includes('v2.0');
    const states = tenantKey.toLowerCase() === 'common' || tenantKey.toLowerCase() === 'organizations' ? [...state.tenants.values()] : [tenantByKey(state, tenantKey)].filter((t): t is TenantState => !!t);
    if (!states.length) return oauthError(400, 'invalid_tenant', 90002, `Tenant '${tenantKey}' not found.`, now);
    const keys = states.flatMap((t) => t.keys.published(now).map((k) => jwk(k, v2 ? `${state.url}/${t.tenant.id}/v2.0` : undefined)));
    return { status: 200, body: { keys } };
  }
  const ts = tenantByKey(state, tenantKey);
  if (method === 'GET' && (tail === '.well-known/openid-configuration' || tail === 'v2.0/.well-known/openid-configuration')) {
    if (!ts) return oauthError(400, 'invalid_tenant', 90002, `Tenant '${tenantKey}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`, now);
    return { status: 200, body: openIdConfiguration(state, ts.tenant.id, tail.startsWith('v2.0')) };
  }
  if (tail === 'oauth2/v2.0/token' || tail === 'oauth2/token') {
    if (method !== 'POST') return oauthError(405, 'invalid_request', 900561, 'The endpoint only accepts POST requests.', now);
    if (!ts) return oauthError(400, 'invalid_request', 90002, `Tenant '${tenantKey}' not found.`, now);
    return tokenEndpoint(state, ts, `${state.url}/${tenantKey}/${rest.join('/')}`, form ?? new URLSearchParams(), tail === 'oauth2/token');
  }
  return undefined;
}

interface ClientAuth { ok: true; acr: '0' | '1' | '2' } 

function findClient(ts: TenantState, clientId: string): { app?: Obj; sp?: Obj } {
  const dir = ts.directory;
  return { app: dir.byAppId('applications', clientId), sp: dir.byAppId('servicePrincipals', clientId) };
}

function authenticateClient(state: EmulatorState, ts: TenantState, form: URLSearchParams, endpointUrl: string, client: { app?: Obj; sp?: Obj }, clientId: string): ClientAuth | Resp {
  const now = state.now();
  const dir = ts.directory;
  const secret = form.get('client_secret');
  const assertion = form.get('client_assertion');
  const credentialHolders = [client.app, client.sp].filter((o): o is Obj => !!o).map((o) => String(o.id));
  if (secret !== null) {
    const secrets = credentialHolders.flatMap((id) => dir.secretsOf(id));
    const match = secrets.find((s) => s.secretText === secret);
    if (!match) return oauthError(401, 'invalid_client', 7000215, `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${clientId}'.`, now);
    if (Date.parse(match.endDateTime) <= now) return oauthError(401, 'invalid_client', 7000222, `The provided client secret keys for app '${clientId}' are expired. Visit the Azure portal to create new keys for your app.`, now);
    return { ok: true, acr: '1' };
  }
  if (assertion !== null) {
    if (form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') return oauthError(400, 'invalid_request', 50027, 'Invalid client_assertion_type.', now);
    const parts = assertion.split('.');
    let header: Obj; let claims: Obj;
    try {
      header = JSON.parse(Buffer.from(parts[0] ?? '', 'base64url').toString('utf8')) as Obj;
      claims = JSON.parse(Buffer.from(parts[1] ?? '', 'base64url').toString('utf8')) as Obj;
    } catch {
      return oauthError(400, 'invalid_client', 50027, 'JWT token is invalid or malformed.', now);
    }
    const keys = credentialHolders.flatMap((id) => dir.keysOf(id));
    const x5t256 = typeof header['x5t#S256'] === 'string' ? header['x5t#S256'] : undefined;
    const x5t = typeof header.x5t === 'string' ? header.x5t : undefined;
    const key = keys.find((k) => (x5t256 && Buffer.from(k.sha256Hex, 'hex').toString('base64url') === x5t256) || (x5t && Buffer.from(k.sha1Hex, 'hex').toString('base64url') === x5t));
    if (!key) return oauthError(401, 'invalid_client', 700027, `Client assertion failed signature validation. The key was not found. Thumbprint of key used by client: '${String(x5t256 ?? x5t ?? '')}'.`, now);
    if (Date.parse(key.endDateTime) <= now) return oauthError(401, 'invalid_client', 700027, 'Client assertion contains an expired certificate.', now);
    const publicKey = new X509Certificate(key.certPem).publicKey;
    const data = Buffer.from(`${parts[0]}.${parts[1]}`);
    const sig = Buffer.from(parts[2] ?? '', 'base64url');
    let valid = false;
    if (header.alg === 'RS256') valid = cryptoVerify('RSA-SHA256', data, publicKey, sig);
    else if (header.alg === 'PS256') valid = cryptoVerify('RSA-SHA256', data, { key: publicKey, padding: cryptoConstants.RSA_PKCS1_PSS_PADDING, saltLength: cryptoConstants.RSA_PSS_SALTLEN_DIGEST }, sig);
    if (!valid) return oauthError(401, 'invalid_client', 700027, 'Client assertion failed signature validation.', now);
    const nowSec = Math.floor(now / 1000);
    const aud = String(claims.aud ?? '');
    if (aud.toLowerCase() !== endpointUrl.toLowerCase() && aud.toLowerCase() !== `${state.url}/${ts.tenant.id}/oauth2/v2.0/token`.toLowerCase()) {
      return oauthError(401, 'invalid_client', 700021, `Client assertion audience claim does not match Realm issuer. Review the documentation at https://aka.ms/certCredentials .`, now);
    }
    if (claims.iss !== clientId || claims.sub !== clientId) return oauthError(401, 'invalid_client', 700023, 'Client assertion issuer or subject does not match the client id.', now);
    if (typeof claims.exp !== 'number' || claims.exp + 300 < nowSec) return oauthError(401, 'invalid_client', 700024, 'Client assertion is not within its valid time range.', now);
    if (typeof claims.nbf === 'number' && claims.nbf - 300 > nowSec) return oauthError(401, 'invalid_client', 700024, 'Client assertion is not within its valid time range.', now);
    if (typeof claims.jti === 'string') {
      for (const [j, exp] of state.usedAssertions) if (exp < nowSec) state.usedAssertions.delete(j);
      const jkey = `${clientId}:${claims.jti}`;
      if (state.usedAssertions.has(jkey)) return oauthError(401, 'invalid_client', 7000224, 'Client assertion jti has already been used.', now);
      state.usedAssertions.set(jkey, claims.exp + 300);
    }
    return { ok: true, acr: '2' };
  }
  return { ok: true, acr: '0' };
}

function disabledClient(state: EmulatorState, client: { app?: Obj; sp?: Obj }, clientId: string): Resp | undefined {
  if (!client.sp) return oauthError(400, 'unauthorized_client', 700016, `Application with identifier '${clientId}' was not found in the directory. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.`, state.now());
  if (client.sp.accountEnabled === false) return oauthError(400, 'unauthorized_client', 7000112, `Application '${clientId}'(${String(client.sp.displayName)}) is disabled.`, state.now());
  return undefined;
}

function tokenResponse(body: Obj): Resp {
  return { status: 200, headers: { 'cache-control': 'no-store, no-cache', pragma: 'no-cache' }, body };
}

function tokenEndpoint(state: EmulatorState, ts: TenantState, endpointUrl: string, form: URLSearchParams, v1: boolean): Resp {
  const now = state.now();
  const grantType = form.get('grant_type');
  const clientId = (form.get('client_id') ?? '').toLowerCase();
  if (!grantType) return oauthError(400, 'invalid_request', 900144, "The request body must contain the following parameter: 'grant_type'.", now);
  if (!clientId) return oauthError(400, 'invalid_request', 900144, "The request body must contain the following parameter: 'client_id'.", now);
  const client = findClient(ts, clientId);
  const disabled = disabledClient(state, client, clientId);
  if (disabled) return disabled;
  const auth = authenticateClient(state, ts, form, endpointUrl, client, clientId);
  if ('status' in auth) return auth;
  const lifetime = state.tokenLifetimeSec;

  if (grantType === 'client_credentials') {
    if (auth.acr === '0') return oauthError(401, 'invalid_client', 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.", now);
    const scope = form.get('scope');
    const resource = form.get('resource');
    const okScope = v1 ? resource === GRAPH_RESOURCE_URI || resource === `${GRAPH_RESOURCE_URI}/` || resource === GRAPH_APP_ID : !!scope && GRAPH_DEFAULT_SCOPES.has(scope.trim());
    if (!okScope) {
      if (!v1 && scope && !scope.trim().endsWith('/.default')) return oauthError(400, 'invalid_scope', 1002012, `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`, now);
      return oauthError(400, 'invalid_resource', 500011, `The resource principal named ${scope ?? resource ?? ''} was not found in the tenant named ${ts.tenant.displayName}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.`, now);
    }
    const token = mintAccessToken(state, ts, { tenantId: ts.tenant.id, appId: clientId, kind: 'app', appidacr: auth.acr });
    return tokenResponse({ token_type: 'Bearer', expires_in: lifetime, ext_expires_in: lifetime, access_token: token });
  }

  if (grantType === 'password' || grantType === 'refresh_token') {
    let user: Obj | undefined;
    let requested: string[];
    if (grantType === 'password') {
      user = ts.directory.userByKey(form.get('username') ?? '');
      if (!user || !ts.directory.checkPassword(String(user.id), form.get('password') ?? '')) {
        return oauthError(400, 'invalid_grant', 50126, 'Error validating credentials due to invalid username or password.', now);
      }
      requested = (form.get('scope') ?? '').split(' ').filter(Boolean);
    } else {
      const grant = state.refreshTokens.get(form.get('refresh_token') ?? '');
      if (!grant || grant.expiresAt <= now || grant.tenantId !== ts.tenant.id || grant.clientAppId !== clientId) {
        return oauthError(400, 'invalid_grant', 70000, 'Provided grant is invalid or malformed.', now);
      }
      user = ts.directory.users.get(grant.userId);
      if (!user) return oauthError(400, 'invalid_grant', 50034, 'The user account does not exist in the directory.', now);
      requested = (form.get('scope') ?? grant.scopes.join(' ')).split(' ').filter(Boolean);
    }
    if (user.accountEnabled === false) return oauthError(400, 'invalid_grant', 50057, 'The user account is disabled.', now);
    if (client.app && client.app.isFallbackPublicClient !== true && auth.acr === '0') {
      return oauthError(401, 'invalid_client', 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.", now);
    }
    const granted = ts.directory.grantedScopes(String(client.sp!.id), String(user.id));
    const graphRequested = requested.filter((s) => !OIDC_SCOPES.has(s)).map((s) => s.replace(/^https:\/\/graph\.microsoft\.com\/+/i, '').replace(/^00000003-0000-0000-c000-000000000000\//i, ''));
    const wantAll = graphRequested.includes('.default');
    const scopes = wantAll ? granted.filter((s) => !OIDC_SCOPES.has(s)) : graphRequested.filter((s) => granted.includes(s));
    if (!scopes.length) {
      return oauthError(400, 'invalid_grant', 65001, `The user or administrator has not consented to use the application with ID '${clientId}' named '${String(client.sp!.displayName)}'. Send an interactive authorization request for this user and resource.`, now);
    }
    const token = mintAccessToken(state, ts, { tenantId: ts.tenant.id, appId: clientId, kind: 'delegated', userId: String(user.id), scopes, appidacr: auth.acr });
    const nowSec = Math.floor(now / 1000);
    const body: Obj = {
      token_type: 'Bearer',
      scope: [...scopes, ...requested.filter((s) => OIDC_SCOPES.has(s) && s !== 'offline_access')].join(' '),
      expires_in: lifetime,
      ext_expires_in: lifetime,
      access_token: token,
    };
    if (requested.includes('offline_access') || grantType === 'refresh_token') {
      const rt = `1.${opaque(96)}`;
      state.refreshTokens.set(rt, { tenantId: ts.tenant.id, clientAppId: clientId, userId: String(user.id), scopes, expiresAt: now + 90 * 86_400_000 });
      body.refresh_token = rt;
    }
    if (requested.includes('openid') || grantType === 'refresh_token') {
      const key = ts.keys.current;
      body.id_token = signJwt({ typ: 'JWT', alg: 'RS256', kid: key.kid }, {
        aud: clientId, iss: `${state.url}/${ts.tenant.id}/v2.0`, iat: nowSec, nbf: nowSec, exp: nowSec + 3600,
        name: user.displayName, oid: user.id, preferred_username: user.userPrincipalName, rh: `0.${opaque(30)}.`,
        sub: createHash('sha256').update(`${String(user.id)}:${clientId}`).digest('base64url'), tid: ts.tenant.id, uti: opaque(16), ver: '2.0',
      }, key);
      body.client_info = Buffer.from(JSON.stringify({ uid: user.id, utid: ts.tenant.id })).toString('base64url');
    }
    return tokenResponse(body);
  }
  return oauthError(400, 'unsupported_grant_type', 70003, `The app requested an unsupported grant type '${grantType}'.`, now);
}

/**
 * Mints a Graph access token. Roles, scopes and wids default to what the directory grants,
 * exactly as the token endpoint derives them; overrides let tests build bad tokens.
 */
export function mintAccessToken(state: EmulatorState, ts: TenantState, req: IssueTokenRequest): string {
  const dir = ts.directory;
  const sp = dir.byAppId('servicePrincipals', req.appId);
  if (!sp) throw new Error(`issueToken: no service principal for appId ${req.appId} in tenant ${ts.tenant.id}`);
  const now = state.now();
  const nowSec = Math.floor(now / 1000);
  let user: Obj | undefined;
  if (req.kind === 'delegated') {
    user = dir.userByKey(req.userId ?? '');
    if (!user) throw new Error(`issueToken: delegated token needs an existing userId (got ${String(req.userId)})`);
  }
  const spId = String(sp.id);
  const hasCert = dir.keysOf(spId).length > 0 || (dir.byAppId('applications', req.appId) ? dir.keysOf(String(dir.byAppId('applications', req.appId)!.id)).length > 0 : false);
  const app = dir.byAppId('applications', req.appId);
  const acr = req.appidacr ?? (req.kind === 'delegated' && app?.isFallbackPublicClient === true ? '0' : hasCert && !dir.secretsOf(String(app?.id ?? spId)).length ? '2' : '1');
  const claims = accessTokenClaims({
    baseUrl: state.url,
    tenantId: ts.tenant.id,
    tenantCreatedSec: Math.floor(Date.parse(dir.createdDateTime) / 1000),
    appId: String(sp.appId),
    appDisplayName: String(sp.displayName),
    servicePrincipalId: spId,
    appidacr: acr,
    kind: req.kind,
    roles: req.roles ?? dir.graphAppRolesOf(spId),
    scopes: req.scopes ?? (user ? dir.grantedScopes(spId, String(user.id)).filter((s) => !OIDC_SCOPES.has(s)) : []),
    wids: req.wids ?? dir.activeRoleTemplates(user ? String(user.id) : spId),
    ...(user ? { user: { id: String(user.id), userPrincipalName: String(user.userPrincipalName), displayName: String(user.displayName), givenName: user.givenName as string | null, surname: user.surname as string | null } } : {}),
    nowSec,
    lifetimeSec: req.lifetimeSec ?? state.tokenLifetimeSec,
    ...(req.notBeforeSec !== undefined ? { notBeforeSec: req.notBeforeSec } : {}),
    version: req.version ?? '1.0',
  });
  for (const [k, v] of Object.entries(req.claims ?? {})) {
    if (v === undefined) delete claims[k]; else claims[k] = v;
  }
  const signMode = req.sign ?? 'current';
  const key = signMode === 'unknown-key' ? (unpublishedKey ??= newSigningKey('unpublished.emulator.graphwarden.local')) : ts.keys.current;
  const header = accessTokenHeader(key, req.version ?? '1.0');
  for (const [k, v] of Object.entries(req.header ?? {})) {
    if (v === undefined) delete header[k]; else header[k] = v;
  }
  return signJwt(header, claims, key, signMode);
}

