import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SNAPSHOT_SCHEMA_VERSION } from '../../../src/directory/model.js';
import { canonicalJson } from '../../../src/canonical.js';
import { createSnapshot, loadSnapshot, saveSnapshot, SNAPSHOT_FILE, SnapshotLoadError } from '../../../src/directory/snapshot.js';
import { data, NOW, TENANT } from './fixture.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gw-snap-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('snapshot', () => {
  it('hashes content canonically: order of records and keys does not matter, content does', () => {
    const a = createSnapshot(data(), 'x');
    const shuffled = data();
    const t = shuffled.tenants[0];
    if (!t) throw new Error('fixture');
    t.users.reverse();
    t.groups.reverse();
    for (const g of t.groups) g.members.reverse();
    const b = createSnapshot(shuffled, 'y');
    expect(b.id).toBe(a.id);
    expect(a.id).toMatch(/^[0-9a-f]{64}$/);
    t.users.push({ id: 'u-new' });
    expect(createSnapshot(shuffled, 'y').id).not.toBe(a.id);
    expect(canonicalJson({ b: 1, a: [2, { d: undefined, c: 3 }] })).toBe('{"a":[2,{"c":3}],"b":1}');
  });

  it('is immutable and indexed', () => {
    const s = createSnapshot(data(), new Date(NOW).toISOString());
    expect(Object.isFrozen(s.data.tenants[0]?.users)).toBe(true);
    expect(() => (s.data.tenants[0]?.users as unknown[]).push({})).toThrow();
    const t = s.tenants.get(TENANT);
    expect(t?.spByAppId.get('app-agent')?.id).toBe('sp-agent');
    expect(t?.graphSp?.id).toBe('sp-graph');
    expect(t?.ownedBy.get('sp-agent')?.slice().sort()).toEqual(['app-obj-x', 'g-plain']);
    expect(t?.memberOf.get('sp-agent')).toEqual(['g-ra']);
  });

  it('round-trips through an atomic save and verifies its hash on load', async () => {
    const s = createSnapshot(data(), new Date(NOW).toISOString());
    await saveSnapshot(dir, s);
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const loaded = await loadSnapshot(dir);
    expect(loaded?.id).toBe(s.id);
    expect(loaded?.takenAt).toBe(s.takenAt);
    expect(loaded?.tenants.get(TENANT)?.users.get('u-admin')?.displayName).toBe('Ada Admin');
  });

  it('accepts a snapshot file rewritten in another JSON layout when its content still matches', async () => {
    const s = createSnapshot(data(), new Date(NOW).toISOString());
    await saveSnapshot(dir, s);
    const file = join(dir, SNAPSHOT_FILE);
    await writeFile(file, JSON.stringify(JSON.parse(await readFile(file, 'utf8')), null, 2));
    expect((await loadSnapshot(dir))?.id).toBe(s.id);
  });

  it('returns undefined when nothing is saved and refuses tampered or foreign-version files', async () => {
    expect(await loadSnapshot(dir)).toBeUndefined();
    const s = createSnapshot(data(), new Date(NOW).toISOString());
    await saveSnapshot(dir, s);
    const file = join(dir, SNAPSHOT_FILE);
    const body = JSON.parse(await readFile(file, 'utf8')) as { schemaVersion: number; data: { tenants: Array<{ users: Array<{ displayName?: string }> }> } };
    const user = body.data.tenants[0]?.users[0];
    if (user) user.displayName = 'tampered';
    await writeFile(file, JSON.stringify(body));
    await expect(loadSnapshot(dir)).rejects.toBeInstanceOf(SnapshotLoadError);
    body.schemaVersion = SNAPSHOT_SCHEMA_VERSION + 1;
    await writeFile(file, JSON.stringify(body));
    await expect(loadSnapshot(dir)).rejects.toThrow(/schema version/);
    await writeFile(file, '{not json');
    await expect(loadSnapshot(dir)).rejects.toThrow(/not valid JSON/);
  });
});
