/**
 * Security regressions for the classifier, each named after the bypass it prevents. A bypass is a
 * request Graph would execute as a sensitive operation while graphwarden sees something else.
 */
import { describe, it, expect } from 'vitest';
import { createClassifier, planBatchForward } from '../../src/classify/index.js';
import type { ClassifyOutcome, Operation } from '../../src/classify/index.js';
import { appPrincipal, userPrincipal } from '../unit/classify/principals.js';

const c = createClassifier({ maxUrlLength: 4096 });
const ADD_MEMBER = '/groups/{id}/members/$ref';

function op(method: string, url: string, body?: unknown): Operation {
  const r = c.classify({ method, url, ...(body !== undefined ? { body: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)) } : {}) });
  if (!r.ok) throw new Error(`${r.code}: ${r.message}`);
  return r.operation;
}

function rejected(r: ClassifyOutcome, code = 'GW_ERR_REQUEST_INVALID'): void {
  expect(r.ok).toBe(false);
  if (!r.ok) expect(r.code).toBe(code);
}

function batch(requests: unknown[]): ClassifyOutcome {
  return c.classify({ method: 'POST', url: '/v1.0/$batch', body: Buffer.from(JSON.stringify({ requests })) });
}

describe('classifier bypass regressions', () => {
  it('encoded-slash-reroutes-path: %2F inside a segment is refused (Graph routes it as /)', () => {
    rejected(c.classify({ method: 'POST', url: '/v1.0/groups/g1%2Fmembers%2F$ref' }));
    rejected(c.classify({ method: 'POST', url: '/v1.0/users%2F..%2Fgroups/g1/members/$ref' }));
  });

  it('dot-segment-traversal: /users/x/../../groups/... is refused, encoded or not', () => {
    rejected(c.classify({ method: 'POST', url: '/v1.0/users/x/../../groups/g1/members/$ref' }));
    rejected(c.classify({ method: 'POST', url: '/v1.0/users/x/%2e%2E/groups/g1/members/$ref' }));
  });

  it('double-encoding-decoded-twice-upstream: %25xx in the path is refused', () => {
    rejected(c.classify({ method: 'POST', url: '/v1.0/groups/g1%252Fmembers/$ref' }));
    rejected(c.classify({ method: 'POST', url: '/v1.0/groups/g1/%256Dembers/$ref' }));
  });

  it('control-character-injection: CR/LF/NUL anywhere are refused', () => {
    rejected(c.classify({ method: 'GET', url: '/v1.0/users/a%0d%0aX-Injected:%201' }));
    rejected(c.classify({ method: 'GET', url: '/v1.0/users?$filter=%00' }));
  });

  it('overlong-url-hides-tail: URLs over the limit get 414', () => {
    rejected(c.classify({ method: 'GET', url: '/v1.0/users?$filter=' + 'a'.repeat(5000) }), 'GW_ERR_REQUEST_URI_TOO_LONG');
  });

  it('odata-key-syntax-alias: Groups(\'x\') and Groups(x) are add-member to group x', () => {
    for (const u of ["/v1.0/Groups('x')/members/$ref", '/v1.0/Groups(x)/members/$ref', '/v1.0/groups%28%27x%27%29/members/$ref']) {
      const o = op('POST', u);
      expect(o.template).toBe(ADD_MEMBER);
      expect(o.target).toMatchObject({ type: 'group', id: 'x' });
    }
  });

  it('case-variant-path: segment names are case-insensitive, ids keep their case', () => {
    const o = op('POST', '/V1.0/GROUPS/AbC/MEMBERS/$REF');
    expect(o.template).toBe(ADD_MEMBER);
    expect(o.target.id).toBe('AbC');
  });

  it('beta-dollarless-query: ?filter/?expand on beta are the system options', () => {
    const o = op('GET', '/beta/groups/x/members/$ref?filter=id%20eq%20%27a%27');
    expect(o.query).toMatchObject({ $filter: "id eq 'a'" });
    expect(op('GET', '/beta/users?expand=memberOf').related.expand).toEqual(['memberof']);
  });

  it('ambiguous-duplicate-query-option: $select and select together are refused', () => {
    rejected(c.classify({ method: 'GET', url: '/beta/groups?$expand=owners&expand=members' }));
  });

  it('tenant-segment-forwarded-as-unknown: /v1.0/myorganization/... classifies as the real operation', () => {
    expect(op('POST', '/v1.0/myorganization/groups/g1/members/$ref').template).toBe(ADD_MEMBER);
    expect(op('POST', '/v1.0/contoso.onmicrosoft.com/groups/g1/members/$ref').template).toBe(ADD_MEMBER);
  });

  it('namespace-qualified-action: microsoft.graph.addPassword is addPassword', () => {
    const o = op('POST', '/v1.0/applications/a1/microsoft.graph.addPassword');
    expect(o).toMatchObject({ template: '/applications/{id}/addpassword', tier: 'control-plane' });
  });

  it('alternate-key-credential-add: applications(appId=…)/addPassword is still addPassword on that app', () => {
    const o = op('POST', "/v1.0/applications(appId='00000000-aaaa-bbbb-cccc-000000000001')/addPassword");
    expect(o).toMatchObject({ known: true, tier: 'control-plane', action: 'invoke', target: { type: 'application', idKind: 'appId' } });
    expect(o.template).toMatch(/addpassword$/);
  });

  it('cast-segment-as-id: a microsoft.graph.* segment never matches an {id}', () => {
    const o = op('POST', '/v1.0/groups/microsoft.graph.group/members/$ref');
    expect(o.known).toBe(false);
  });

  it('ref-suffix-stripped: DELETE .../members/{id}/$ref is remove-member, not unknown', () => {
    const o = op('DELETE', '/v1.0/groups/g1/members/u1/$ref');
    expect(o).toMatchObject({ known: true, action: 'delete', target: { type: 'group', id: 'g1', relatedIds: ['u1'] } });
  });

  it('trailing-slash: .../members/$ref/ is the same operation', () => {
    expect(op('POST', '/v1.0/groups/g1/members/$ref/').template).toBe(ADD_MEMBER);
  });

  it('unknown-means-nothing-required: unmapped calls are known=false, tier unknown, token not sufficient', () => {
    const r = c.classify({ method: 'POST', url: '/v1.0/groups/g1/members/add', principal: appPrincipal(['Directory.ReadWrite.All']) });
    expect(r.ok && r.operation).toMatchObject({ known: false, tier: 'unknown', tokenHasPermission: false, template: null });
  });

  it('me-alias-hides-target: /me/messages targets the caller, /me with an app token is refused', () => {
    const r = c.classify({ method: 'GET', url: '/v1.0/me/messages', principal: userPrincipal(['Mail.Read'], 'victim-oid') });
    expect(r.ok && r.operation.target).toMatchObject({ type: 'mailbox', id: 'victim-oid', viaMe: true });
    rejected(c.classify({ method: 'GET', url: '/v1.0/me/messages', principal: appPrincipal(['Mail.Read']) }));
  });

  it('batch-endpoint-spelling: $Batch and %24batch are the batch, not an unknown forwarded call', () => {
    const body = { requests: [{ id: '1', method: 'POST', url: 'groups/g1/members/$ref' }] };
    for (const u of ['/v1.0/$Batch', '/v1.0/%24batch', '/v1.0/myorganization/$batch']) {
      const r = c.classify({ method: 'POST', url: u, body: Buffer.from(JSON.stringify(body)) });
      expect(r.ok && r.operation.isBatch).toBe(true);
      expect(r.ok && r.batch!.items[0]!.operation!.template).toBe(ADD_MEMBER);
    }
  });

  it('batch-item-without-leading-slash: classified like the slashed form (Dev Proxy mangles it)', () => {
    const r = batch([{ id: '1', method: 'post', url: "groups('g1')/members/$ref" }]);
    expect(r.ok && r.batch!.items[0]!.operation).toMatchObject({ template: ADD_MEMBER, method: 'POST' });
  });

  it('batch-item-method-override-header: the item is classified by its method, not an override header', () => {
    const r = batch([{ id: '1', method: 'DELETE', url: 'groups/g1/members/u1/$ref', headers: { 'X-HTTP-Method-Override': 'GET' } }]);
    expect(r.ok && r.batch!.items[0]!.operation!.action).toBe('delete');
  });

  it('batch-nested: a $batch inside a $batch is refused', () => {
    rejected(batch([{ id: '1', method: 'POST', url: '$batch', body: { requests: [{ id: 'x', method: 'POST', url: 'groups/g/members/$ref' }] } }]));
  });

  it('batch-absolute-url: items pointing at an absolute URL are refused', () => {
    rejected(batch([{ id: '1', method: 'GET', url: 'https://graph.microsoft.com/v1.0/users' }]));
    rejected(batch([{ id: '1', method: 'GET', url: '//graph.microsoft.com/v1.0/users' }]));
  });

  it('batch-item-version-prefix: /v1.0/... items are refused (Graph fails them; never unknown-and-forwarded)', () => {
    rejected(batch([{ id: '1', method: 'POST', url: '/v1.0/groups/g1/members/$ref' }]));
  });

  it('batch-duplicate-id: ids differing only in case are refused', () => {
    rejected(batch([{ id: 'a', method: 'GET', url: 'users' }, { id: 'A', method: 'POST', url: 'groups/g/members/$ref' }]));
  });

  it('batch-json-duplicate-key-smuggling: two "url"/"requests" keys are refused', () => {
    const raw = '{"requests":[{"id":"1","method":"GET","url":"users","url":"groups/g/members/$ref"}]}';
    rejected(c.classify({ method: 'POST', url: '/v1.0/$batch', body: Buffer.from(raw) }));
    const raw2 = '{"requests":[{"id":"1","method":"GET","url":"users"}],"requests":[{"id":"1","method":"POST","url":"groups/g/members/$ref"}]}';
    rejected(c.classify({ method: 'POST', url: '/v1.0/$batch', body: Buffer.from(raw2) }));
  });

  it('batch-over-limit: 21 items are refused', () => {
    rejected(batch(Array.from({ length: 21 }, (_, i) => ({ id: `${i}`, method: 'GET', url: 'users' }))));
  });

  it('batch-dependent-of-denied-item-forwarded: dependents of a blocked item are answered 424, never sent', () => {
    const r = batch([
      { id: '1', method: 'POST', url: 'groups/g1/members/$ref', body: { '@odata.id': 'x' } },
      { id: '2', method: 'GET', url: 'users', dependsOn: ['1'] },
    ]);
    if (!r.ok) throw new Error(r.message);
    const out = planBatchForward(r.batch!, new Set(['2']));
    expect(out.body).toBeNull();
    expect(out.local.map((l) => l.status)).toEqual([403, 424]);
  });

  it('batch-bad-item-url-forwarded: an item with an encoded slash is never forwarded even if allowed', () => {
    const r = batch([{ id: '1', method: 'POST', url: 'groups/g1%2Fmembers/$ref' }, { id: '2', method: 'GET', url: 'users' }]);
    if (!r.ok) throw new Error(r.message);
    const out = planBatchForward(r.batch!, new Set(['1', '2']));
    const sent = JSON.parse(out.body!.toString()) as { requests: Array<{ id: string }> };
    expect(sent.requests.map((x) => x.id)).toEqual(['2']);
    expect(out.local[0]).toMatchObject({ id: '1', status: 400 });
  });

  it('batch-hides-sensitivity: the batch is at least as sensitive as its most sensitive item', () => {
    const r = batch([{ id: '1', method: 'GET', url: 'users' }, { id: '2', method: 'POST', url: 'applications/a/addPassword' }]);
    expect(r.ok && r.operation.tier).toBe('control-plane');
  });

  it('proto-pollution-query-name: __proto__ as a query option stays a plain key', () => {
    const o = op('GET', '/v1.0/users?__proto__=x&constructor=y');
    expect(o.query['__proto__']).toBe('x');
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });
});

describe('classifier bypass regressions (bodies and keys)', () => {
  it('body-duplicate-key-hides-member: two members@odata.bind keys in a PATCH body are refused', () => {
    const raw = '{"members@odata.bind":["https://graph.microsoft.com/v1.0/directoryObjects/evil"],"members@odata.bind":["https://graph.microsoft.com/v1.0/directoryObjects/ok"]}';
    rejected(c.classify({ method: 'PATCH', url: '/v1.0/groups/g1', body: Buffer.from(raw) }));
  });

  it('body-bom-hides-reference: a UTF-8 BOM before a $ref body does not hide the member', () => {
    const body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"@odata.id":"https://graph.microsoft.com/v1.0/directoryObjects/u5"}')]);
    const r = c.classify({ method: 'POST', url: '/v1.0/groups/g1/members/$ref', body });
    expect(r.ok && r.operation.target.relatedIds).toEqual(['u5']);
  });

  it('padded-body-hides-reference: a large body still yields its references', () => {
    const body = Buffer.from(JSON.stringify({ pad: 'x'.repeat(300 * 1024), 'members@odata.bind': ['https://graph.microsoft.com/v1.0/directoryObjects/u6'] }));
    const r = c.classify({ method: 'PATCH', url: '/v1.0/groups/g1', body });
    expect(r.ok && r.operation.target.relatedIds).toEqual(['u6']);
  });

  it('unknown-alternate-key-as-id: groups(displayName=…) is not taken as group id …', () => {
    const r = c.classify({ method: 'POST', url: "/v1.0/groups(displayName='Admins')/members/$ref" });
    expect(r.ok && r.operation.known).toBe(false);
  });

  it('encoded-question-mark-splits-path: %3F in the path is refused', () => {
    rejected(c.classify({ method: 'POST', url: '/v1.0/groups/g1/members/$ref%3Fx=1' }));
  });
});

describe('classifier bypass regressions (batch url spelling)', () => {
  it('batch-item-url-padding: a url with surrounding whitespace is never forwarded', () => {
    const r = batch([{ id: '1', method: 'POST', url: ' /groups/g1/members/$ref' }, { id: '2', method: 'GET', url: 'users\t' }]);
    if (!r.ok) throw new Error(r.message);
    expect(r.batch!.items.map((i) => i.error?.code)).toEqual(['GW_ERR_REQUEST_INVALID', 'GW_ERR_REQUEST_INVALID']);
    expect(planBatchForward(r.batch!, new Set(['1', '2'])).body).toBeNull();
  });
});

describe('classifier bypass regressions (field spelling)', () => {
  it('batch-miscased-field: "Body"/"URL"/"DependsOn" spellings are refused, not ignored', () => {
    rejected(batch([{ id: '1', method: 'POST', url: 'groups/g1/members/$ref', Body: { '@odata.id': 'x' } }]));
    rejected(batch([{ id: '1', method: 'GET', URL: 'users' }]));
    rejected(batch([{ id: '1', method: 'GET', url: 'users' }, { id: '2', method: 'GET', url: 'users', DependsOn: ['1'] }]));
    rejected(c.classify({ method: 'POST', url: '/v1.0/$batch', body: Buffer.from('{"Requests":[{"id":"1","method":"GET","url":"users"}]}') }));
  });

  it('miscased-bind-annotation: Members@ODATA.BIND still yields the members being added', () => {
    const body = Buffer.from(JSON.stringify({ 'Members@ODATA.BIND': ['https://graph.microsoft.com/v1.0/directoryObjects/u8'] }));
    const r = c.classify({ method: 'PATCH', url: '/v1.0/groups/g1', body });
    expect(r.ok && r.operation.target.relatedIds).toEqual(['u8']);
  });
});
