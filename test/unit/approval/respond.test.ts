import { describe, expect, it } from 'vitest';
import { bodyDigest, holdAnswer, requestKeyParts } from '../../../src/approval/respond.js';
import type { Principal } from '../../../src/identity/principal.js';
import { AGENT_APP, TENANT, USER } from './helpers.js';

const base: Principal = {
  kind: 'app',
  tenantId: TENANT,
  appId: AGENT_APP,
  roles: [],
  scopes: [],
  wids: [],
  tokenId: 'uti',
  clientAuth: 'certificate',
  tokenVersion: '2.0',
  issuedAt: 0,
  expiresAt: 0,
};
const now = new Date('2026-01-05T10:00:00.123Z');

describe('hold answers and request keys', () => {
  it('keys app-only calls without a user and delegated calls with the user oid', () => {
    const body = Buffer.from('{"a":1}');
    expect(requestKeyParts(base, 'post', '/v1.0/users', body)).toEqual({ tenantId: TENANT, appId: AGENT_APP, userId: null, method: 'POST', canonicalUrl: '/v1.0/users', bodyDigest: bodyDigest(body) });
    expect(requestKeyParts({ ...base, kind: 'delegated', userId: USER }, 'GET', '/v1.0/me', new Uint8Array()).userId).toBe(USER);
    expect(bodyDigest(new Uint8Array())).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('pending is a 503 with Retry-After and the Graph envelope', () => {
    const a = holdAnswer({ kind: 'pending', approvalId: 'apr_1', retryAfterSec: 30 }, 'dec-1', now, 'client-1');
    expect(a).toMatchObject({ forward: false, status: 503, headers: { 'retry-after': '30' } });
    if (a.forward || a.status === null) throw new Error('unreachable');
    expect(a.body.error.code).toBe('GraphwardenApprovalPending');
    expect(a.body.error.innerError).toMatchObject({ 'request-id': 'dec-1', 'client-request-id': 'client-1', 'graphwarden-code': 'GW_ERR_APPROVAL_PENDING', 'graphwarden-approval-id': 'apr_1', date: '2026-01-05T10:00:00Z' });
  });

  it('denied and expired are distinct 403s; approved forwards; abandoned writes nothing', () => {
    const d = holdAnswer({ kind: 'denied', approvalId: 'apr_1', by: 'alice', justification: 'no ticket' }, 'dec', now);
    const e = holdAnswer({ kind: 'expired', approvalId: 'apr_1' }, 'dec', now);
    expect(d).toMatchObject({ status: 403, body: { error: { code: 'GraphwardenApprovalDenied', message: expect.stringContaining('no ticket') } } });
    expect(e).toMatchObject({ status: 403, body: { error: { code: 'GraphwardenApprovalExpired' } } });
    expect(holdAnswer({ kind: 'approved', approvalId: 'apr_1' }, 'dec', now)).toEqual({ forward: true });
    expect(holdAnswer({ kind: 'abandoned' }, 'dec', now)).toEqual({ forward: false, status: null });
  });
});
