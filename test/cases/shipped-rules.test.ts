// Runs the policy tests shipped as data (rules/tests/*.yaml against rules/, and the engine cases in
// test/cases/engine) so `npm test` fails when a rule or the engine stops doing what the cases say.
import { describe, it, expect } from 'vitest';
import { fileURLToPath } from 'node:url';
import { compilePolicy, readRuleSources, SHIPPED_RULES_DIR } from '../../src/policy/compile.js';
import { runRuleTests } from '../../src/policy/rule-tests.js';

async function run(rulesDir: string, testsDir: string) {
  const r = compilePolicy(await readRuleSources(rulesDir));
  if (!r.ok) throw new Error(r.errors.join('\n'));
  return runRuleTests(testsDir, r.policy);
}

describe('policy tests as data', () => {
  it('the shipped baseline passes rules/tests', async () => {
    const results = await run(fileURLToPath(SHIPPED_RULES_DIR), fileURLToPath(new URL('tests/', SHIPPED_RULES_DIR)));
    expect(results.length).toBeGreaterThan(20);
    expect(results.filter((r) => !r.pass).map((r) => `${r.name}: ${r.failures.join('; ')}`)).toEqual([]);
  });

  it('the engine cases pass', async () => {
    const results = await run(fileURLToPath(new URL('engine/rules/', import.meta.url)), fileURLToPath(new URL('engine/tests/', import.meta.url)));
    expect(results.length).toBeGreaterThan(5);
    expect(results.filter((r) => !r.pass).map((r) => `${r.name}: ${r.failures.join('; ')}`)).toEqual([]);
  });
});

describe('policy tests written as requests', () => {
  it('classify each request the way the proxy does, then decide (or say clearly that the classifier is missing)', async () => {
    const r = compilePolicy(await readRuleSources(fileURLToPath(SHIPPED_RULES_DIR)));
    if (!r.ok) throw new Error(r.errors.join('\n'));
    const spec = '../../src/classify/index.js';
    const mod = (await import(spec).catch(() => undefined)) as
      | { createClassifier: () => { classify: (i: { method: string; url: string; body?: Buffer; principal?: unknown }) => { ok: boolean; operation?: unknown; message?: string } } }
      | undefined;
    const testsDir = fileURLToPath(new URL('requests/', import.meta.url));
    if (!mod) {
      const results = await runRuleTests(testsDir, r.policy);
      expect(results.length).toBeGreaterThan(5);
      for (const res of results) expect(res.failures.join()).toMatch(/classifier, which is not available/);
      return;
    }
    const classifier = mod.createClassifier();
    const results = await runRuleTests(testsDir, r.policy, (req, principal) => {
      const body = req.body === undefined ? undefined : Buffer.from(JSON.stringify(req.body));
      const out = classifier.classify({ method: req.method, url: req.url, principal, ...(body ? { body } : {}) });
      if (!out.ok) throw new Error(out.message);
      return out.operation as never;
    });
    expect(results.filter((x) => !x.pass).map((x) => `${x.name}: ${x.failures.join('; ')}`)).toEqual([]);
  });
});
