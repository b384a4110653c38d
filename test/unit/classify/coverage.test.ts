/**
 * Coverage over the whole shipped map: every (method, path) of permissions.json, written as a client
 * would send it, classifies to its own template with every permission the map lists for it.
 * The measured figure is printed and quoted in docs/classifier.md.
 */
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { createClassifier } from '../../../src/classify/index.js';
import { DATA_DIR } from '../../../src/classify/load.js';
import { renderTemplate, repairTemplateSegments, tokenizeTemplate } from '../../../src/classify/map.js';
import type { PermissionsDocument } from '../../../src/classify/map.js';

/** A concrete URL for a template: every placeholder becomes an id, `(team-id)` style keys too. */
function instantiate(template: string): string {
  // Three map typos stand for the forms a client sends (see repairTemplateSegments).
  const segs = repairTemplateSegments(template.split('/'));
  for (let i = 0; i < segs.length; i++) {
    // `root:/{id}/extractsensitivitylabels`: the map omits the closing colon a client must send.
    if (segs[i]!.length > 1 && segs[i]!.endsWith(':')) {
      const closes = segs.slice(i + 1).some((s) => s.endsWith(':'));
      if (!closes && i + 2 < segs.length) segs[i + 1] += ':';
      break;
    }
  }
  return segs.map((seg) => (/^\([^()]*\)$/.test(seg) ? 'id-1' : seg.replace(/\{[^}]*\}+/g, 'v-1'))).join('/');
}

describe('coverage of permissions.json', () => {
  const doc = JSON.parse(readFileSync(DATA_DIR + 'permissions.json', 'utf8')) as PermissionsDocument;
  const classifier = createClassifier();

  it('classifies every (method, path) pair to its own template with its permissions', () => {
    const pairs = new Map<string, { method: string; path: string; perms: Array<{ scheme: 'Application' | 'DelegatedWork'; name: string }> }>();
    for (const [name, perm] of Object.entries(doc.permissions)) {
      for (const ps of perm.pathSets ?? []) {
        for (const path of Object.keys(ps.paths)) {
          for (const method of ps.methods) {
            const key = `${method} ${path}`;
            let p = pairs.get(key);
            if (!p) pairs.set(key, (p = { method, path, perms: [] }));
            for (const s of ps.schemeKeys) if (s === 'Application' || s === 'DelegatedWork') p.perms.push({ scheme: s, name });
          }
        }
      }
    }
    const unrepresentable: string[] = [];
    const failures: string[] = [];
    let covered = 0;
    // Pairs listed only under DelegatedPersonal (Microsoft accounts) are out of scope: work tenants only.
    let personalOnly = 0;
    for (const [key, p] of pairs) {
      if (p.perms.length === 0) {
        personalOnly++;
        continue;
      }
      const toks = tokenizeTemplate(p.path);
      if (!toks) {
        unrepresentable.push(key);
        continue;
      }
      const r = classifier.classify({ method: p.method, url: '/v1.0' + instantiate(p.path) });
      const want = renderTemplate(toks);
      if (!r.ok || !r.operation.known || r.operation.template !== want) {
        failures.push(`${key} → ${r.ok ? String(r.operation.template) : r.message}`);
        continue;
      }
      const missing = p.perms.filter((x) => !r.operation.permissions[x.scheme].anyOf.includes(x.name));
      if (missing.length) {
        failures.push(`${key} lacks ${missing.map((m) => m.name).join(',')}`);
        continue;
      }
      covered++;
    }
    const total = pairs.size - personalOnly;
    console.log(`coverage: ${covered}/${total} (method, path) pairs = ${((100 * covered) / total).toFixed(2)}%; not representable: ${unrepresentable.length}; personal-only (excluded): ${personalOnly}; failures: ${failures.length}`);
    console.log(failures.slice(0, 40).join('\n'));
    // Only the templates that embed a query string ("?$filter=...") cannot be keyed by path.
    expect(unrepresentable.every((k) => k.includes('?'))).toBe(true);
    // One map entry is not a URL a client can send (a function name glued to its parameter).
    expect(failures).toEqual(['GET /devicemanagement/geteffectivepermissionsscope={value} → null']);
  });
});
