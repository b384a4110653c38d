/** `graphwarden rules validate|test`: checks a rules directory and runs its policy tests (YAML cases). */
import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compilePolicy, readRuleSources, SHIPPED_RULES_DIR } from '../policy/compile.js';
import { runRuleTests } from '../policy/rule-tests.js';
import type { ClassifyFn } from '../policy/rule-tests.js';
import type { OperationFacts } from '../policy/inputs.js';
import type { Principal } from '../identity/principal.js';

export const usage = `Usage: graphwarden rules validate [DIR]
       graphwarden rules test [DIR] [--tests DIR] [--json]

validate  checks every rule file of DIR against rules/schema.json, compiles it and prints
          the content-hash revision it would run as. Exit 0 when valid, 1 otherwise.
test      runs the policy tests in DIR/tests/*.yaml (or --tests DIR) against the rules in
          DIR: each case gives a principal, an operation (or a request, classified the way
          the proxy does) and a directory fixture, and the expected effect and reason codes.

DIR defaults to ./rules when it exists, else the rules shipped with graphwarden.`;

function rulesDir(arg: string | undefined): string {
  if (arg) return path.resolve(arg);
  return existsSync('rules') ? path.resolve('rules') : fileURLToPath(SHIPPED_RULES_DIR);
}

/**
 * The proxy's classifier (src/classify), when this build has it; `request:` cases need it. Loaded by a
 * computed specifier so the policy module builds and tests without it. Contract used:
 * `createClassifier().classify({method, url, body?: Buffer, principal}) → {ok, operation} | {ok:false, code, message}`.
 */
async function loadClassifier(): Promise<ClassifyFn | undefined> {
  const spec = '../classify/index.js';
  let mod: { createClassifier?: () => unknown };
  try {
    mod = (await import(spec)) as typeof mod;
  } catch {
    return undefined;
  }
  if (typeof mod.createClassifier !== 'function') return undefined;
  type Outcome = { ok: true; operation: OperationFacts; batch?: unknown } | { ok: false; code: string; message: string };
  const classifier = mod.createClassifier() as { classify: (input: { method: string; url: string; body?: Buffer; principal?: Principal }) => Outcome };
  return (req, principal) => {
    const body = req.body === undefined ? undefined : Buffer.from(typeof req.body === 'string' ? req.body : JSON.stringify(req.body));
    const r = classifier.classify({ method: req.method, url: req.url, principal, ...(body ? { body } : {}) });
    if (!r.ok) throw new Error(`the request is refused before any rule runs: ${r.code}: ${r.message}`);
    if (r.batch !== undefined) throw new Error('a $batch request: write one case per item (each item is decided on its own)');
    return r.operation;
  };
}

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { tests: { type: 'string' }, json: { type: 'boolean', default: false } } });
  const [sub, dirArg] = positionals;
  if (sub !== 'validate' && sub !== 'test') {
    console.error(usage);
    return 2;
  }
  const dir = rulesDir(dirArg);
  const compiled = compilePolicy(await readRuleSources(dir));
  if (!compiled.ok) {
    console.error(`rules in ${dir} are invalid:`);
    for (const e of compiled.errors) console.error(`  ${e}`);
    return 1;
  }
  const { policy } = compiled;
  if (sub === 'validate') {
    console.log(`rules in ${dir} are valid: ${policy.rules.length} rules, mode ${policy.settings.mode}, revision ${policy.revision}`);
    return 0;
  }
  const testsDir = path.resolve(values.tests ?? path.join(dir, 'tests'));
  if (!existsSync(testsDir)) {
    console.error(`graphwarden rules test: no tests directory ${testsDir}`);
    return 1;
  }
  const results = await runRuleTests(testsDir, policy, await loadClassifier());
  const failed = results.filter((r) => !r.pass);
  if (values.json) console.log(JSON.stringify({ revision: policy.revision, results }, null, 2));
  else {
    for (const r of results) {
      console.log(`${r.pass ? 'ok  ' : 'FAIL'} ${path.basename(r.file)}: ${r.name}`);
      for (const f of r.failures) console.log(`       ${f}`);
    }
    console.log(`\n${results.length - failed.length} passed, ${failed.length} failed (rules revision ${policy.revision})`);
  }
  return failed.length === 0 && results.length > 0 ? 0 : 1;
}
