/**
 * Policy tests as data: YAML files of cases (principal, operation or request, directory fixture →
 * expected effect and reason codes) run against a compiled policy. Used by `graphwarden rules test` and by
 * the project's own test suite. Requests are classified through an injected function (the classifier).
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { Principal } from '../identity/principal.js';
import { decide } from '../decision/decide.js';
import type { Decision } from '../decision/decide.js';
import type { CompiledPolicy, Effect } from './compile.js';
import { agentKey, gatherFacts } from './inputs.js';
import type { OperationFacts, PermissionRequirement, RiskFacts } from './inputs.js';
import { createFixtureView } from './fixture-view.js';
import type { DirectoryFixture } from './fixture-view.js';

/** Turns a request into an operation; the CLI wires the classifier here. */
export type ClassifyFn = (request: { method: string; url: string; body?: unknown }, principal: Principal) => OperationFacts | Promise<OperationFacts>;

type PrincipalSpec = Partial<Principal>;
type OperationSpec = Partial<Omit<OperationFacts, 'permissions'>> & {
  /** Shorthand: these permissions authorise the call under both schemes, least privileged first. */
  needs?: string[];
  permissions?: Partial<Record<'Application' | 'DelegatedWork', Partial<PermissionRequirement>>>;
};

export interface RuleTestCase {
  name: string;
  principal: string | PrincipalSpec;
  operation?: OperationSpec;
  request?: { method: string; url: string; body?: unknown };
  /** Replaces the file's directory fixture for this case; `null` means no directory at all. */
  directory?: DirectoryFixture | null;
  /** Permissions this agent has already used through graphwarden (anything else is a first use). Omitted: first use unknown. */
  usage?: string[];
  risk?: RiskFacts;
  now?: string;
  holdApprovals?: boolean;
  expect: {
    effect?: Effect;
    enforced?: Effect;
    rule?: string;
    reasonCode?: string;
    /** Each must be among the reason codes of the matching rules. */
    reasonCodes?: string[];
    /** None may be among them. */
    notReasonCodes?: string[];
  };
}

export interface RuleTestFile {
  name?: string;
  now?: string;
  directory?: DirectoryFixture;
  principals?: Record<string, PrincipalSpec>;
  cases: RuleTestCase[];
}

export interface CaseResult {
  file: string;
  name: string;
  pass: boolean;
  failures: string[];
  actual?: { effect: Effect; enforced: Effect; rule?: string; reasonCode: string; reasonCodes: string[] };
}

const DEFAULT_NOW = '2026-01-05T10:00:00Z';

function principalFrom(spec: PrincipalSpec): Principal {
  const kind = spec.kind ?? (spec.userId ? 'delegated' : 'app');
  return {
    kind,
    tenantId: spec.tenantId ?? '00000000-0000-0000-0000-0000000000aa',
    appId: spec.appId ?? '00000000-0000-0000-0000-0000000000bb',
    roles: spec.roles ?? [],
    scopes: spec.scopes ?? [],
    wids: spec.wids ?? [],
    tokenId: spec.tokenId ?? 'test-token-id',
    clientAuth: spec.clientAuth ?? 'certificate',
    tokenVersion: spec.tokenVersion ?? '1.0',
    issuedAt: spec.issuedAt ?? 1_767_600_000,
    expiresAt: spec.expiresAt ?? 1_767_603_600,
    ...(spec.servicePrincipalId !== undefined ? { servicePrincipalId: spec.servicePrincipalId } : {}),
    ...(spec.userId !== undefined ? { userId: spec.userId } : {}),
    ...(spec.userPrincipalName !== undefined ? { userPrincipalName: spec.userPrincipalName } : {}),
    ...(spec.appDisplayName !== undefined ? { appDisplayName: spec.appDisplayName } : {}),
  };
}

const ACTIONS: Record<string, OperationFacts['action']> = { GET: 'read', HEAD: 'read', POST: 'create', PATCH: 'update', PUT: 'update', DELETE: 'delete' };

export function operationFrom(spec: OperationSpec): OperationFacts {
  const method = (spec.method ?? 'GET').toUpperCase();
  const req = (scheme: 'Application' | 'DelegatedWork'): PermissionRequirement => {
    const given = spec.permissions?.[scheme];
    const anyOf = given?.anyOf ?? spec.needs ?? [];
    return { anyOf, least: given?.least ?? anyOf.slice(0, 1), alsoRequires: given?.alsoRequires ?? [] };
  };
  const template = spec.template === undefined ? (spec.path ?? null) : spec.template;
  return {
    method,
    version: spec.version ?? 'v1.0',
    path: spec.path ?? template ?? '/',
    template,
    known: spec.known ?? template !== null,
    action: spec.action ?? ACTIONS[method] ?? 'invoke',
    permissions: { Application: req('Application'), DelegatedWork: req('DelegatedWork') },
    target: spec.target ?? { type: 'unknown' },
    tier: spec.tier ?? 'unknown',
    related: spec.related ?? { select: [], expand: [] },
    tokenHasPermission: spec.tokenHasPermission ?? null,
    isBatch: spec.isBatch ?? false,
  };
}

function check(c: RuleTestCase, d: Decision): string[] {
  const failures: string[] = [];
  const codes = d.matches.map((m) => m.reasonCode);
  const e = c.expect;
  if (e.effect !== undefined && d.effect !== e.effect) failures.push(`effect: expected ${e.effect}, got ${d.effect}`);
  if (e.enforced !== undefined && d.enforced !== e.enforced) failures.push(`enforced: expected ${e.enforced}, got ${d.enforced}`);
  if (e.rule !== undefined && d.ruleId !== e.rule) failures.push(`deciding rule: expected ${e.rule}, got ${d.ruleId ?? '(none)'}`);
  if (e.reasonCode !== undefined && d.reasonCode !== e.reasonCode) failures.push(`reason code: expected ${e.reasonCode}, got ${d.reasonCode}`);
  for (const r of e.reasonCodes ?? []) if (!codes.includes(r)) failures.push(`reason codes: expected ${r} among [${codes.join(', ')}]`);
  for (const r of e.notReasonCodes ?? []) if (codes.includes(r)) failures.push(`reason codes: did not expect ${r}`);
  return failures;
}

export async function runRuleTestFile(file: string, doc: RuleTestFile, policy: CompiledPolicy, classify?: ClassifyFn): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  for (const [i, c] of (doc.cases ?? []).entries()) {
    const name = c.name ?? `case ${i + 1}`;
    try {
      const pSpec = typeof c.principal === 'string' ? doc.principals?.[c.principal] : c.principal;
      if (!pSpec) throw new Error(`unknown principal '${String(c.principal)}'`);
      const principal = principalFrom(pSpec);
      let operation: OperationFacts;
      if (c.operation) operation = operationFrom(c.operation);
      else if (c.request) {
        if (!classify) throw new Error('request: cases need the operation classifier, which is not available here; write an operation: block instead');
        operation = await classify(c.request, principal);
      } else throw new Error('a case needs an operation: or a request:');
      const fixture = c.directory === undefined ? doc.directory : c.directory;
      const view = fixture ? createFixtureView(fixture) : undefined;
      const used = c.usage ? new Set(c.usage.map((p) => p.toLowerCase())) : undefined;
      const key = agentKey(principal);
      const facts = gatherFacts(principal, operation, view, {
        now: new Date(c.now ?? doc.now ?? DEFAULT_NOW),
        ...(c.risk ? { risk: c.risk } : {}),
        ...(used ? { usage: { has: (a: string, p: string) => a === key && used.has(p.toLowerCase()) } } : {}),
      });
      const d = decide(facts, policy, { decisionId: `test-${i + 1}`, holdApprovals: c.holdApprovals === true });
      const failures = check(c, d);
      results.push({
        file,
        name,
        pass: failures.length === 0,
        failures,
        actual: { effect: d.effect, enforced: d.enforced, reasonCode: d.reasonCode, reasonCodes: d.matches.map((m) => m.reasonCode), ...(d.ruleId ? { rule: d.ruleId } : {}) },
      });
    } catch (e) {
      results.push({ file, name, pass: false, failures: [(e as Error).message] });
    }
  }
  return results;
}

/** Runs every *.yaml test file of a directory against the policy. */
export async function runRuleTests(testsDir: string, policy: CompiledPolicy, classify?: ClassifyFn): Promise<CaseResult[]> {
  const names = (await readdir(testsDir)).filter((n) => /\.ya?ml$/i.test(n)).sort();
  const all: CaseResult[] = [];
  for (const n of names) {
    const file = path.join(testsDir, n);
    let doc: RuleTestFile;
    try {
      doc = parseYaml(await readFile(file, 'utf8')) as RuleTestFile;
    } catch (e) {
      all.push({ file, name: '(file)', pass: false, failures: [`not valid YAML: ${(e as Error).message}`] });
      continue;
    }
    all.push(...(await runRuleTestFile(file, doc, policy, classify)));
  }
  return all;
}
