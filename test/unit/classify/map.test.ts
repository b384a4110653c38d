import { describe, it, expect } from 'vitest';
import { compileIndex, renderTemplate, tokenizeTemplate } from '../../../src/classify/map.js';
import type { PermissionsDocument, SupplementDocument, TierTable } from '../../../src/classify/map.js';
import { createClassifier } from '../../../src/classify/index.js';
import { readFileSync } from 'node:fs';
import { DATA_DIR, loadIndex } from '../../../src/classify/load.js';
import { appPrincipal, userPrincipal } from './principals.js';

const tiers: TierTable = {
  Application: new Map([['Low.Read.All', 'user-data'], ['High.ReadWrite.All', 'control-plane'], ['Mid.ReadWrite.All', 'management-plane']]),
  DelegatedWork: new Map([['Low.Read.All', 'user-data']]),
};

function perm(level: number, pathSets: PermissionsDocument['permissions'][string]['pathSets']): PermissionsDocument['permissions'][string] {
  return { schemes: { Application: { privilegeLevel: level }, DelegatedWork: { privilegeLevel: level } }, pathSets };
}

const doc: PermissionsDocument = {
  permissions: {
    'Low.Read.All': perm(1, [{ schemeKeys: ['Application', 'DelegatedWork'], methods: ['GET'], paths: { '/widgets': 'least=Application,DelegatedWork', '/Widgets/{id}': '' } }]),
    'Mid.ReadWrite.All': perm(2, [{ schemeKeys: ['Application'], methods: ['GET', 'POST'], paths: { '/widgets': 'least=Application', '/widgets/{id}/spin': 'least=Application;AlsoRequires=Low.Read.All' } }]),
    'High.ReadWrite.All': perm(4, [{ schemeKeys: ['Application'], methods: ['GET', 'PATCH'], paths: { '/widgets': 'least=Application', '/widgets/{id}': '' } }]),
  },
};
const supplement: SupplementDocument = {
  operations: [{ method: 'POST', path: '/widgets/{id}/parts/$ref', rationale: 't', source: 't', permissions: { Application: [{ name: 'Mid.ReadWrite.All', least: true }] } }],
};

describe('compiled map', () => {
  const index = compileIndex(doc, supplement, tiers, 'test');
  const c = createClassifier({ index });

  it('orders any-of least first and narrows several "least" markers to the lowest privilegeLevel', () => {
    const r = c.classify({ method: 'GET', url: '/v1.0/widgets' });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.operation.permissions.Application.least).toEqual(['Low.Read.All']);
    expect(r.operation.permissions.Application.anyOf).toEqual(['Low.Read.All', 'Mid.ReadWrite.All', 'High.ReadWrite.All']);
    expect(r.operation.tier).toBe('user-data');
  });

  it('with no "least" marker at all, picks the lowest privilegeLevel and merges case-variant templates', () => {
    const r = c.classify({ method: 'GET', url: '/v1.0/WIDGETS/w1' });
    expect(r.ok && r.operation.template).toBe('/widgets/{id}');
    expect(r.ok && r.operation.permissions.Application.least).toEqual(['Low.Read.All']);
    expect(r.ok && r.operation.permissions.Application.anyOf).toEqual(['Low.Read.All', 'High.ReadWrite.All']);
  });

  it('keeps AlsoRequires parallel to anyOf and applies it to the token check', () => {
    const r = c.classify({ method: 'POST', url: '/v1.0/widgets/w1/spin', principal: appPrincipal(['Mid.ReadWrite.All']) });
    expect(r.ok && r.operation.permissions.Application).toEqual({ anyOf: ['Mid.ReadWrite.All'], least: ['Mid.ReadWrite.All'], alsoRequires: [['Low.Read.All']] });
    expect(r.ok && r.operation.tokenHasPermission).toBe(false);
    const both = c.classify({ method: 'POST', url: '/v1.0/widgets/w1/spin', principal: appPrincipal(['mid.readwrite.all', 'Low.Read.All']) });
    expect(both.ok && both.operation.tokenHasPermission).toBe(true);
  });

  it('applies the supplement and finds $ref forms the map strips', () => {
    const r = c.classify({ method: 'POST', url: '/v1.0/widgets/w1/parts/$ref' });
    expect(r.ok && r.operation.template).toBe('/widgets/{id}/parts/$ref');
    expect(r.ok && r.operation.action).toBe('create');
    const patch = c.classify({ method: 'PATCH', url: '/v1.0/widgets/w1/$ref' });
    expect(patch.ok && patch.operation.template).toBe('/widgets/{id}');
  });

  it('tokenises templates like requests (keys, alternate keys, drive paths)', () => {
    const t = (p: string): string => renderTemplate(tokenizeTemplate(p)!);
    expect(t('/Applications(AppId={value})/owners')).toBe('/applications(appid={value})/owners');
    expect(t("/rp/ingest('{itemId}')")).toBe('/rp/ingest/{id}');
    expect(t('/me/drive/root:/{id}:/content')).toBe('/me/drive/root:/{path}:/content');
    expect(t('/teams/(team-id)/channels')).toBe('/teams/{id}/channels');
    expect(t('/x/f(b={value}, a={value})')).toBe('/x/f(a={value},b={value})');
    expect(tokenizeTemplate('/a?$filter=x')).toBeNull();
  });
});

describe('shipped map', () => {
  it('mapVersion is a content hash: stable across loads, different when data changes', () => {
    const a = loadIndex();
    expect(a.version).toMatch(/^sha256:[0-9a-f]{16}$/);
    expect(createClassifier().mapVersion).toBe(a.version);
    expect(a.stats.supplementPairs).toBeGreaterThan(0);
  });

  it('every supplement entry names a source and a rationale and uses permissions the map knows', () => {
    const supp = JSON.parse(readFileSync(DATA_DIR + 'supplement.json', 'utf8')) as SupplementDocument;
    const map = JSON.parse(readFileSync(DATA_DIR + 'permissions.json', 'utf8')) as PermissionsDocument;
    for (const op of supp.operations) {
      expect(op.source.length).toBeGreaterThan(10);
      expect(op.rationale.length).toBeGreaterThan(10);
      for (const list of Object.values(op.permissions)) for (const p of list) expect(map.permissions[p.name]).toBeDefined();
    }
  });

  it('add-member-to-group exists only thanks to the supplement', () => {
    const c = createClassifier();
    const r = c.classify({ method: 'POST', url: '/v1.0/groups/g1/members/$ref', principal: userPrincipal(['GroupMember.ReadWrite.All']) });
    expect(r.ok && r.operation.known).toBe(true);
    expect(r.ok && r.operation.permissions.DelegatedWork.least).toEqual(['GroupMember.ReadWrite.All']);
    expect(r.ok && r.operation.tokenHasPermission).toBe(true);
  });
});

describe('compiled map integrity', () => {
  it('an Operation cannot be used to change the shared map', () => {
    const c = createClassifier();
    const r = c.classify({ method: 'GET', url: '/v1.0/users' });
    if (!r.ok) throw new Error(r.message);
    expect(() => r.operation.permissions.Application.anyOf.push('Nothing.At.All')).toThrow(TypeError);
    const again = c.classify({ method: 'GET', url: '/v1.0/users' });
    expect(again.ok && again.operation.permissions.Application.anyOf).not.toContain('Nothing.At.All');
  });
});
