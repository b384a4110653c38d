// The classifier remembers bodiless, non-batch outcomes per principal: a remembered answer must be the
// answer a fresh classification gives, for that principal only, and must not be changeable by callers.
import { describe, it, expect } from 'vitest';
import { createClassifier } from '../../../src/classify/index.js';
import type { ClassifyInput, ClassifyOutcome } from '../../../src/classify/index.js';
import { appPrincipal, userPrincipal, TENANT } from './principals.js';

const OTHER_TENANT = '99999999-2222-3333-4444-555555555555';
const URLS: Array<[string, string]> = [
  ['GET', '/v1.0/users?$top=5&$select=id,displayName'],
  ['GET', '/v1.0/me/messages?$expand=attachments'],
  ['GET', `/v1.0/${TENANT}/users/u-1`],
  ['GET', `/v1.0/${OTHER_TENANT}/users/u-1`],
  ['GET', '/v1.0/users/User-Oid-1/messages'],
  ['POST', '/v1.0/applications/app-obj/addPassword'],
  ['DELETE', '/v1.0/groups/g1/members/u1/$ref'],
  ['GET', '/beta/no/such/thing'],
  ['BREW', '/v1.0/users'],
  ['get', '/v1.0/users'],
];

// A fresh classifier per call cannot remember anything: it is the reference.
const fresh = (input: ClassifyInput): ClassifyOutcome => createClassifier().classify(input);

describe('remembered classifications', () => {
  it('give what a fresh classification gives, for each principal, on first and repeated calls', () => {
    const c = createClassifier();
    const principals = [appPrincipal(['User.Read.All']), appPrincipal([]), userPrincipal(['Mail.Read']), userPrincipal(['User.Read'], 'User-Oid-2')];
    for (let round = 0; round < 3; round++) {
      for (const principal of principals) {
        for (const [method, url] of URLS) {
          expect(c.classify({ method, url, principal })).toEqual(fresh({ method, url, principal }));
        }
      }
    }
  });

  it('are per principal: /me and the tenant segment still depend on who calls', () => {
    const c = createClassifier();
    const app = appPrincipal(['User.Read.All']);
    const user = userPrincipal(['Mail.Read']);
    expect(c.classify({ method: 'GET', url: '/v1.0/me/messages', principal: user })).toMatchObject({ ok: true, operation: { target: { viaMe: true } } });
    expect(c.classify({ method: 'GET', url: '/v1.0/me/messages', principal: app })).toMatchObject({ ok: false, code: 'GW_ERR_REQUEST_INVALID' });
    const elsewhere = { ...user, tenantId: OTHER_TENANT };
    expect(c.classify({ method: 'GET', url: `/v1.0/${TENANT}/users/u-1`, principal: user }).ok).toBe(true);
    expect(c.classify({ method: 'GET', url: `/v1.0/${TENANT}/users/u-1`, principal: elsewhere }).ok).toBe(false);
    // Same URL, same kind of token, different permissions: tokenHasPermission follows the token.
    const a = c.classify({ method: 'GET', url: '/v1.0/users', principal: appPrincipal(['User.Read.All']) });
    const b = c.classify({ method: 'GET', url: '/v1.0/users', principal: appPrincipal([]) });
    expect(a.ok && a.operation.tokenHasPermission).toBe(true);
    expect(b.ok && b.operation.tokenHasPermission).toBe(false);
  });

  it('never stand in for a call with a body: the body can add related objects', () => {
    const c = createClassifier();
    const principal = appPrincipal(['GroupMember.ReadWrite.All']);
    const url = "/v1.0/groups('G-1')/members/$ref";
    const bare = c.classify({ method: 'POST', url, principal });
    const body = Buffer.from(JSON.stringify({ '@odata.id': 'https://graph.microsoft.com/v1.0/directoryObjects/u-42' }));
    const withBody = c.classify({ method: 'POST', url, principal, body });
    expect(bare.ok && bare.operation.target.relatedIds).toBeUndefined();
    expect(withBody.ok && withBody.operation.target.relatedIds).toEqual(['u-42']);
    const again = c.classify({ method: 'POST', url, principal, body: Buffer.from('{"@odata.id":"https://graph.microsoft.com/v1.0/directoryObjects/u-7"}') });
    expect(again.ok && again.operation.target.relatedIds).toEqual(['u-7']);
  });

  it('never remember $batch plans (the plan depends on the body)', () => {
    const c = createClassifier();
    const principal = appPrincipal(['User.Read.All']);
    const body = (url: string) => Buffer.from(JSON.stringify({ requests: [{ id: '1', method: 'GET', url }] }));
    const first = c.classify({ method: 'POST', url: '/v1.0/$batch', principal, body: body('/users') });
    const second = c.classify({ method: 'POST', url: '/v1.0/$batch', principal, body: body('/applications') });
    expect(first.ok && first.batch!.items[0]!.operation!.template).toBe('/users');
    expect(second.ok && second.batch!.items[0]!.operation!.template).toBe('/applications');
  });

  it('are frozen, so no caller can change what later calls get', () => {
    const c = createClassifier();
    const principal = appPrincipal(['User.Read.All']);
    const r = c.classify({ method: 'GET', url: '/v1.0/users?$select=id', principal });
    if (!r.ok) throw new Error('expected ok');
    expect(() => {
      (r.operation as { tier: string }).tier = 'user-data';
    }).toThrow(TypeError);
    expect(() => r.operation.related.select.push('x')).toThrow(TypeError);
    expect(() => {
      r.operation.query.$select = 'x';
    }).toThrow(TypeError);
  });

  it('are bounded per principal: the oldest entry is classified afresh after the bound', () => {
    const c = createClassifier();
    const principal = appPrincipal(['User.Read.All']);
    const first = c.classify({ method: 'GET', url: '/v1.0/users/u-0', principal });
    expect(c.classify({ method: 'GET', url: '/v1.0/users/u-0', principal })).toBe(first);
    for (let i = 1; i <= 32; i++) c.classify({ method: 'GET', url: `/v1.0/users/u-${i}`, principal });
    const after = c.classify({ method: 'GET', url: '/v1.0/users/u-0', principal });
    expect(after).not.toBe(first);
    expect(after).toEqual(first);
  });
});
