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
