import { describe, it, expect } from 'vitest';
import { createClassifier, mergeBatchResponses, planBatchForward } from '../../../src/classify/index.js';
import type { BatchPlan, ClassifyOutcome } from '../../../src/classify/index.js';
import { findDuplicateKey } from '../../../src/classify/json-guard.js';
import { userPrincipal } from './principals.js';

const c = createClassifier({ maxBatchBytes: 64 * 1024 });

function batch(requests: unknown, url = '/v1.0/$batch'): ClassifyOutcome {
  return c.classify({ method: 'POST', url, body: Buffer.from(JSON.stringify({ requests })) });
}

function plan(requests: unknown): BatchPlan {
  const r = batch(requests);
  if (!r.ok || !r.batch) throw new Error(r.ok ? 'no plan' : r.message);
  return r.batch;
}

describe('$batch parsing', () => {
  it('classifies each item with the same code, leading slash optional, version from the batch', () => {
    const r = batch([
      { id: '1', method: 'GET', url: 'users?$select=id' },
      { id: '2', method: 'POST', url: "/groups('g1')/members/$ref", body: { '@odata.id': 'https://graph.microsoft.com/v1.0/directoryObjects/u9' }, headers: { 'Content-Type': 'application/json' } },
    ], '/beta/$batch');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.operation).toMatchObject({ isBatch: true, template: '/$batch', action: 'invoke', known: true });
    const [a, b] = r.batch!.items;
    expect(a!.operation).toMatchObject({ template: '/users', version: 'beta', related: { select: ['id'] } });
    expect(b!.operation).toMatchObject({ template: '/groups/{id}/members/$ref', target: { type: 'group', id: 'g1', relatedIds: ['u9'] } });
    // The batch is as sensitive as its most sensitive item.
    expect(r.operation.tier).toBe(b!.operation!.tier);
  });

  it('reads base64 item bodies for related ids', () => {
    const body = Buffer.from(JSON.stringify({ '@odata.id': 'https://graph.microsoft.com/v1.0/directoryObjects/u7' })).toString('base64');
    const p = plan([{ id: 'a', method: 'POST', url: 'groups/g1/members/$ref', body, headers: { 'content-type': 'application/json' } }]);
    expect(p.items[0]!.operation!.target.relatedIds).toEqual(['u7']);
  });

  it('tokenHasPermission of the batch is true only if every item has it', () => {
    const body = Buffer.from(JSON.stringify({ requests: [{ id: '1', method: 'GET', url: '/me' }, { id: '2', method: 'GET', url: '/users' }] }));
    const some = c.classify({ method: 'POST', url: '/v1.0/$batch', body, principal: userPrincipal(['User.Read']) });
    expect(some.ok && some.operation.tokenHasPermission).toBe(false);
    const all = c.classify({ method: 'POST', url: '/v1.0/$batch', body, principal: userPrincipal(['User.Read', 'User.ReadBasic.All']) });
    expect(all.ok && all.operation.tokenHasPermission).toBe(true);
  });

  it('an item whose url cannot be understood carries an error and no operation', () => {
    const p = plan([{ id: '1', method: 'GET', url: '/users%2Fx' }, { id: '2', method: 'GET', url: '/users' }]);
    expect(p.items[0]).toMatchObject({ error: { code: 'GW_ERR_REQUEST_INVALID' } });
    expect(p.items[0]!.operation).toBeUndefined();
  });

  it.each([
    ['nested batch', [{ id: '1', method: 'POST', url: '/$batch' }], 'nested'],
    ['absolute url', [{ id: '1', method: 'GET', url: 'https://graph.microsoft.com/v1.0/users' }], 'absolute'],
    ['versioned url', [{ id: '1', method: 'GET', url: '/v1.0/users' }], 'version root'],
    ['duplicate ids (case-insensitive)', [{ id: 'a', method: 'GET', url: 'users' }, { id: 'A', method: 'GET', url: 'groups' }], 'duplicate'],
    ['21 items', Array.from({ length: 21 }, (_, i) => ({ id: String(i), method: 'GET', url: 'users' })), 'at most 20'],
    ['no items', [], 'no requests'],
    ['missing id', [{ method: 'GET', url: 'users' }], 'no id'],
    ['missing method', [{ id: '1', url: 'users' }], 'no method'],
    ['missing url', [{ id: '1', method: 'GET' }], 'no url'],
    ['bad method', [{ id: '1', method: 'FETCH', url: 'users' }], 'unsupported method'],
    ['unknown dependency', [{ id: '1', method: 'GET', url: 'users', dependsOn: ['9'] }], 'unknown id'],
    ['self dependency', [{ id: '1', method: 'GET', url: 'users', dependsOn: ['1'] }], 'itself'],
    ['cycle', [{ id: '1', method: 'GET', url: 'users', dependsOn: ['2'] }, { id: '2', method: 'GET', url: 'users', dependsOn: ['1'] }], 'cycle'],
    ['headers not strings', [{ id: '1', method: 'GET', url: 'users', headers: { a: 1 } }], 'headers'],
    ['requests not an array', { id: '1' }, "'requests' array"],
  ])('rejects %s', (_name, requests, why) => {
    const r = batch(requests);
    expect(r).toMatchObject({ ok: false, code: 'GW_ERR_REQUEST_INVALID' });
    expect(!r.ok && r.message).toContain(why);
  });

  it('rejects malformed JSON, duplicate keys, oversize bodies and a missing body', () => {
    const bad = (body: string): ClassifyOutcome => c.classify({ method: 'POST', url: '/v1.0/$batch', body: Buffer.from(body) });
    expect(bad('{"requests":[')).toMatchObject({ ok: false, code: 'GW_ERR_REQUEST_INVALID' });
    expect(bad('{"requests":[],"Requests":[{"id":"1","method":"GET","url":"users"}]}')).toMatchObject({ ok: false, code: 'GW_ERR_REQUEST_INVALID' });
    expect(bad('{"requests":[{"id":"1","method":"GET","url":"users","URL":"/groups/g/members/$ref"}]}')).toMatchObject({ ok: false });
    expect(bad('x'.repeat(70 * 1024))).toMatchObject({ ok: false, code: 'GW_ERR_REQUEST_BODY_TOO_LARGE' });
    expect(c.classify({ method: 'POST', url: '/v1.0/$batch' })).toMatchObject({ ok: false, code: 'GW_ERR_REQUEST_INVALID' });
    expect(c.classify({ method: 'GET', url: '/v1.0/$batch' })).toMatchObject({ ok: false, code: 'GW_ERR_REQUEST_INVALID' });
  });

  it('findDuplicateKey sees escaped and differently-cased keys, not values or array items', () => {
    expect(findDuplicateKey('{"url":"a","u\\u0072l":"b"}')).toBe('url');
    expect(findDuplicateKey('{"a":{"x":1},"b":{"x":2},"c":["x","x"],"d":"a"}')).toBeNull();
    expect(findDuplicateKey('{"a":[{"id":1,"ID":2}]}')).toBe('ID');
  });
});

describe('$batch partial forwarding', () => {
  const p = plan([
    { id: '1', method: 'GET', url: 'users' },
    { id: '2', method: 'POST', url: 'groups/g1/members/$ref', body: { '@odata.id': 'x' }, headers: { 'content-type': 'application/json' } },
    { id: '3', method: 'GET', url: 'groups/g1/members', dependsOn: ['2'] },
    { id: '4', method: 'GET', url: 'me', dependsOn: ['1'] },
  ]);

  it('forwards everything unchanged when every item is allowed', () => {
    const out = planBatchForward(p, new Set(['1', '2', '3', '4']));
    expect(out.body).toBe(p.raw);
    expect(out.local).toEqual([]);
  });

  it('forwards only allowed items; the caller’s response for denied ones; 424 for their dependents', () => {
    const denied = new Map([['2', { status: 403, body: { error: { code: 'GraphwardenPolicyDenied', message: 'no' } } }]]);
    const out = planBatchForward(p, new Set(['1', '3', '4']), denied);
    const sent = JSON.parse(out.body!.toString()) as { requests: Array<{ id: string }> };
    expect(sent.requests.map((r) => r.id)).toEqual(['1', '4']);
    expect(out.local.map((l) => [l.id, l.status])).toEqual([['2', 403], ['3', 424]]);
    expect(out.local[1]!.body).toMatchObject({ error: { code: 'FailedDependency' } });
  });

  it('items without a caller response get 403, items with errors 400, and nothing allowed means no body', () => {
    const out = planBatchForward(p, new Set());
    expect(out.body).toBeNull();
    expect(out.local.map((l) => [l.id, l.status])).toEqual([['1', 403], ['2', 403], ['3', 424], ['4', 424]]);
    const withError = plan([{ id: 'x', method: 'GET', url: '/users/%2e%2e' }]);
    const e = planBatchForward(withError, new Set(['x']));
    expect(e.body).toBeNull();
    expect(e.local[0]).toMatchObject({ id: 'x', status: 400 });
  });

  it('merges upstream responses with local ones; a local answer wins for its id', () => {
    const up = { responses: [{ id: '1', status: 200, body: { value: [] } }, { id: '2', status: 204 }] };
    const merged = mergeBatchResponses(Buffer.from(JSON.stringify(up)), [{ id: '2', status: 403 }, { id: '3', status: 424 }]);
    expect(merged.responses.map((r) => [r.id, r.status])).toEqual([['1', 200], ['2', 403], ['3', 424]]);
    expect(mergeBatchResponses(null, [{ id: '9', status: 403 }]).responses).toEqual([{ id: '9', status: 403 }]);
  });
});
