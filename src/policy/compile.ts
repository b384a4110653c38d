/**
 * Rules as data → a compiled policy: YAML sources validated against rules/schema.json (ajv), rule ids and
 * control ids checked, every condition compiled once into matcher closures, and a content-hash revision.
 * Pure over its inputs (the sources); reading the rules directory is `readRuleSources()`, watching it is store.ts.
 */
import { readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Ajv } from 'ajv';
import type { ValidateFunction } from 'ajv';
import { parse as parseYaml } from 'yaml';
import type { DecisionFacts } from './inputs.js';
import { canonicalJson, sha256Hex } from '../canonical.js';
import { isShared } from './shared-json.js';
import { lowerCased } from './lower.js';

export type Effect = 'allow' | 'alert' | 'block' | 'approve';
export type Mode = 'enforce' | 'shadow';

/** One file of the rules directory, as text: what a revision is computed over and persisted as. */
export interface RuleSource {
  name: string;
  text: string;
}

export interface PolicySettings {
  mode: Mode;
  approvalFallback: 'block' | 'alert';
  defaultEffect: 'allow' | 'alert' | 'block';
}

export interface Control {
  id: string;
  framework: string;
  ref: string;
  title: string;
  text?: string;
}

export interface CompiledRule {
  id: string;
  file: string;
  description?: string;
  effect: Effect;
  reasonCode: string;
  reason: string;
  controls: string[];
  mode: Mode;
  match(facts: DecisionFacts): boolean;
}

/** A rule that can match a call, with what is left to check of it for that call. */
export interface Candidate {
  rule: CompiledRule;
  /** The rule's selectors that the indexed parts did not settle: for this call, `rest(facts)` is `rule.match(facts)`. */
  rest(facts: DecisionFacts): boolean;
}

export interface CompiledPolicy {
  /** sha256 (hex) of the canonical sources: the same files give the same revision on every host. */
  revision: string;
  settings: PolicySettings;
  rules: readonly CompiledRule[];
  controls: ReadonlyMap<string, Control>;
  sources: readonly RuleSource[];
  /**
   * The rules, in order, that the agent, operation, target and permission facts leave able to match (the
   * others cannot), each with the rest of its condition. Answered once per combination of shared parts
   * and remembered (see ruleIndex).
   */
  candidates(facts: DecisionFacts): readonly Candidate[];
}

export type CompileResult = { ok: true; policy: CompiledPolicy } | { ok: false; errors: string[] };

export const CONTROLS_FILE = 'controls.yaml';
export const DEFAULT_SETTINGS: PolicySettings = { mode: 'enforce', approvalFallback: 'block', defaultEffect: 'allow' };

/** The shipped rules directory (rules/ at the package root), for src/ and dist/ alike. */
export const SHIPPED_RULES_DIR = new URL('../../rules/', import.meta.url);

let validator: ValidateFunction | undefined;
function validateRulesFile(doc: unknown): ValidateFunction {
  if (!validator) {
    const schema = JSON.parse(readFileSync(new URL('schema.json', SHIPPED_RULES_DIR), 'utf8')) as object;
    const ajv = new Ajv({ allErrors: true, strict: false });
    validator = ajv.compile(schema);
  }
  validator(doc);
  return validator;
}

/** Reads the rule files (top-level *.yaml / *.yml) and controls.yaml of a directory, sorted by name. */
export async function readRuleSources(dir: string): Promise<RuleSource[]> {
  const names = (await readdir(dir, { withFileTypes: true }))
    .filter((d) => d.isFile() && /\.ya?ml$/i.test(d.name))
    .map((d) => d.name)
    .sort();
  return Promise.all(names.map(async (name) => ({ name, text: await readFile(path.join(dir, name), 'utf8') })));
}

export function revisionOf(sources: readonly RuleSource[]): string {
  const sorted = [...sources].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return sha256Hex(canonicalJson(sorted.map((s) => ({ name: s.name, text: s.text }))));
}

// ---------------------------------------------------------------------------------------------
// Matchers

type Pred = (f: DecisionFacts) => boolean;
type StrList = string | string[];

const list = (v: StrList): string[] => (Array.isArray(v) ? v : [v]);

/** Glob → RegExp: `**` any characters, `*` within one path segment, `{name}` a placeholder segment; case-insensitive. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        re += '.*';
        i++;
      } else re += '[^/]*';
    } else if (c === '{') {
      const end = glob.indexOf('}', i);
      if (end > i) {
        re += '[^/]*';
        i = end;
      } else re += '\\{';
    } else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^$()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 'i');
}

// Each `**` is a `.*`: several in one pattern backtrack polynomially over long paths, so cap them.
const MAX_DOUBLE_STARS = 3;

interface GlobMatcher {
  /** Any of the values matches. A frozen list (shared facts parts) is tested once and remembered. */
  (values: readonly (string | undefined)[]): boolean;
  /** One value matches. */
  one(value: string | undefined): boolean;
}

// Remembered answers per matcher for values from a finite set (map templates): bounded all the same.
const MEMO_MAX = 512;

function globAny(patterns: StrList, where = 'glob', errors: string[] = []): GlobMatcher {
  for (const g of list(patterns)) {
    if ((g.match(/\*\*/g) ?? []).length > MAX_DOUBLE_STARS) errors.push(`${where}: '${g}' has more than ${MAX_DOUBLE_STARS} '**'`);
  }
  const res = list(patterns).map(globToRegExp);
  const one = (v: string | undefined): boolean => {
    if (v === undefined) return false;
    for (const r of res) if (r.test(v)) return true;
    return false;
  };
  const any = (values: readonly (string | undefined)[]): boolean => values.some(one);
  // Frozen lists cannot change, so the answer for one stays right (facts share the operation's lists).
  const byList = new WeakMap<readonly (string | undefined)[], boolean>();
  const matcher = (values: readonly (string | undefined)[]): boolean => {
    if (!Object.isFrozen(values)) return any(values);
    let hit = byList.get(values);
    if (hit === undefined) {
      hit = any(values);
      byList.set(values, hit);
    }
    return hit;
  };
  return Object.assign(matcher, { one });
}

/** A template selector: templates come from the compiled map (a finite set), so answers are remembered. */
function templateMatcher(m: GlobMatcher): (template: string | null) => boolean {
  const memo = new Map<string, boolean>();
  return (template) => {
    if (template === null) return false;
    let hit = memo.get(template);
    if (hit === undefined) {
      if (memo.size >= MEMO_MAX) memo.clear();
      hit = m.one(stripVersion(template));
      memo.set(template, hit);
    }
    return hit;
  };
}

function exactAny(wanted: StrList, fold = false): (v: string | undefined) => boolean {
  const set = new Set(list(wanted).map((s) => (fold ? s.toLowerCase() : s)));
  if (!fold) return (v) => v !== undefined && set.has(v);
  // Lower-casing the same few strings (appId, tenant, method) for each of hundreds of rules dominated
  // evaluation time: the shared memo makes it once per distinct value.
  return (v) => v !== undefined && set.has(lowerCased(v));
}

// Templates and paths are matched without the version prefix so one rule covers v1.0 and beta.
const stripVersion = (p: string | null): string | undefined => (p === null ? undefined : p.replace(/^\/(v1\.0|beta)(?=\/|$)/i, ''));

// Every time-window rule reads the decision time: parse it once per decision, not once per rule.
let lastAtText = '';
let lastAt = new Date(Number.NaN);
function dateOf(at: string): Date {
  if (at !== lastAtText) {
    lastAt = new Date(at);
    lastAtText = at;
  }
  return lastAt;
}

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
const WEEKDAY_INDEX: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };

interface TimeWindowSpec {
  timezone: string;
  days?: string[];
  from?: string;
  to?: string;
}

const minutes = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

function compileWindow(w: TimeWindowSpec, where: string, errors: string[]): (at: Date) => boolean {
  let fmt: Intl.DateTimeFormat;
  try {
    fmt = new Intl.DateTimeFormat('en-US', { timeZone: w.timezone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  } catch {
    errors.push(`${where}: unknown time zone '${w.timezone}'`);
    return () => false;
  }
  const days = new Set((w.days ?? DAYS).map((d) => DAYS.indexOf(d as (typeof DAYS)[number])));
  const from = minutes(w.from ?? '00:00');
  const to = minutes(w.to ?? '24:00');
  // Local day and minute change once a minute; Intl formatting costs microseconds, so remember the last one.
  let lastMinute = Number.NaN;
  let day = -1;
  let mins = 0;
  return (at) => {
    const minute = Math.floor(at.getTime() / 60_000);
    if (minute !== lastMinute) {
      day = -1;
      mins = 0;
      for (const p of fmt.formatToParts(at)) {
        if (p.type === 'weekday') day = WEEKDAY_INDEX[p.value] ?? -1;
        else if (p.type === 'hour') mins += Number(p.value) * 60;
        else if (p.type === 'minute') mins += Number(p.value);
      }
      lastMinute = minute;
    }
    if (from <= to) return days.has(day) && mins >= from && mins < to;
    // Wraps past midnight: the late part belongs to the start day, the early part to the day before.
    if (mins >= from) return days.has(day);
    return mins < to && days.has((day + 6) % 7);
  };
}

interface Condition {
  agent?: Record<string, unknown>;
  operation?: Record<string, unknown>;
  target?: Record<string, unknown>;
  permissions?: Record<string, unknown>;
  context?: { time?: TimeWindowSpec | TimeWindowSpec[]; risk?: { scoreAtLeast?: number; flags?: StrList } };
  all?: Condition[];
  any?: Condition[];
  not?: Condition;
}

function boolPred(v: unknown, get: (f: DecisionFacts) => boolean): Pred {
  const want = v === true;
  return (f) => get(f) === want;
}

/**
 * The parts of the facts a selector can read alone. Each is shared between calls (frozen, see
 * shared-json.ts) whenever its inputs are, so selectors that read one part only are answered once per
 * shared part (the rule index below) instead of once per call. Time and risk change with every call.
 */
const PARTS = ['agent', 'operation', 'target', 'permissions'] as const;
type Part = (typeof PARTS)[number];

/**
 * An `any` whose branches read the time or risk as well as the indexed parts: `fixed` is the disjunction
 * of the branches that read only indexed parts, `varying` of the others (none when every branch reads
 * indexed parts, spread over several). For a combination of shared parts, a true `fixed` settles the
 * `any`, and a false one leaves only `varying` to check on each call (the rule index's partial evaluation).
 */
interface MixedAny {
  fixed: Pred;
  varying: Pred | undefined;
}

/**
 * A condition compiled to the conjunction of its selectors, grouped by the one part they read, `mixed`
 * (any of several), or `other` (reading the time or risk, or a `not` of selectors over several parts).
 */
type CompiledCondition = Record<Part | 'other', Pred[]> & { mixed: MixedAny[] };

// Loops rather than every/some(callback): these run for every call, and a callback per call is garbage.
function and(preds: readonly Pred[]): Pred {
  if (preds.length === 0) return () => true;
  if (preds.length === 1) return preds[0]!;
  return (f) => {
    for (const p of preds) if (!p(f)) return false;
    return true;
  };
}

function or(preds: readonly Pred[]): Pred {
  if (preds.length === 1) return preds[0]!;
  return (f) => {
    for (const p of preds) if (p(f)) return true;
    return false;
  };
}

const mixedPred = (m: MixedAny): Pred => (m.varying ? or([m.fixed, m.varying]) : m.fixed);
const whole = (c: CompiledCondition): Pred => and([...c.agent, ...c.operation, ...c.target, ...c.permissions, ...c.other, ...c.mixed.map(mixedPred)]);
/** The condition reads the indexed parts only (any number of them). */
const indexedOnly = (c: CompiledCondition): boolean => c.other.length === 0 && c.mixed.every((m) => m.varying === undefined);

/** The one part every sub-condition reads, if there is one. */
function onePart(subs: readonly CompiledCondition[]): Part | undefined {
  const reads = new Set<Part | 'other'>();
  for (const sub of subs) {
    for (const g of [...PARTS, 'other'] as const) if (sub[g].length > 0) reads.add(g);
    if (sub.mixed.length > 0) reads.add('other');
  }
  const [only] = reads;
  return reads.size === 1 && only !== 'other' ? only : undefined;
}

function compileCondition(c: Condition, where: string, errors: string[]): CompiledCondition {
  const out: CompiledCondition = { agent: [], operation: [], target: [], permissions: [], other: [], mixed: [] };
  const { agent: agentPreds, operation: opPreds, target: targetPreds, permissions: permPreds, other: preds } = out;
  const a = c.agent;
  if (a) {
    for (const [k, v] of Object.entries(a)) {
      switch (k) {
        case 'appId': { const m = exactAny(v as StrList, true); agentPreds.push((f) => m(f.agent.appId)); break; }
        case 'servicePrincipalId': { const m = exactAny(v as StrList, true); agentPreds.push((f) => m(f.agent.servicePrincipalId)); break; }
        case 'displayName':
        case 'servicePrincipalName': { const m = globAny(v as StrList, `${where}.${k}`, errors); agentPreds.push((f) => m.one(f.agent.displayName)); break; }
        case 'tags': { const m = exactAny(v as StrList, true); agentPreds.push((f) => f.agent.tags.some(m)); break; }
        case 'owners': { const m = exactAny(v as StrList, true); agentPreds.push((f) => f.agent.owners.some((o) => m(o.id))); break; }
        case 'hasOwners': agentPreds.push(boolPred(v, (f) => f.agent.owners.length > 0)); break;
        case 'kind': { const m = exactAny(v as StrList); agentPreds.push((f) => m(f.agent.kind)); break; }
        case 'user': { const m = exactAny(v as StrList, true); agentPreds.push((f) => m(f.agent.userId)); break; }
        case 'tenant': { const m = exactAny(v as StrList, true); agentPreds.push((f) => m(f.agent.tenantId)); break; }
        case 'unknownToDirectory': agentPreds.push(boolPred(v, (f) => !f.agent.knownToDirectory)); break;
        case 'disabled': agentPreds.push(boolPred(v, (f) => f.agent.disabled)); break;
        case 'multiTenant': agentPreds.push(boolPred(v, (f) => f.agent.multiTenant === true)); break;
        case 'agentIdentity': agentPreds.push(boolPred(v, (f) => f.agent.agentIdentity === true)); break;
        default: errors.push(`${where}.agent: unknown selector '${k}'`);
      }
    }
  }
  const o = c.operation;
  if (o) {
    for (const [k, v] of Object.entries(o)) {
      switch (k) {
        case 'method': { const m = exactAny(v as StrList, true); opPreds.push((f) => m(f.operation.method)); break; }
        case 'template': { const m = templateMatcher(globAny(v as StrList, `${where}.${k}`, errors)); opPreds.push((f) => m(f.operation.template)); break; }
        case 'path': { const m = globAny(v as StrList, `${where}.${k}`, errors); opPreds.push((f) => m.one(stripVersion(f.operation.path))); break; }
        case 'action': { const m = exactAny(v as StrList); opPreds.push((f) => m(f.operation.action)); break; }
        case 'permission': { const m = globAny(v as StrList, `${where}.${k}`, errors); opPreds.push((f) => m(f.operation.needs)); break; }
        case 'tier': { const m = exactAny(v as StrList); opPreds.push((f) => m(f.operation.tier)); break; }
        case 'version': { const m = exactAny(v as StrList, true); opPreds.push((f) => m(f.operation.version)); break; }
        case 'unknown': opPreds.push(boolPred(v, (f) => !f.operation.known)); break;
        case 'batch': opPreds.push(boolPred(v, (f) => f.operation.isBatch)); break;
        case 'select': { const m = globAny(v as StrList, `${where}.${k}`, errors); opPreds.push((f) => m(f.operation.select)); break; }
        case 'expand': { const m = globAny(v as StrList, `${where}.${k}`, errors); opPreds.push((f) => m(f.operation.expand)); break; }
        default: errors.push(`${where}.operation: unknown selector '${k}'`);
      }
    }
  }
  const t = c.target;
  if (t) {
    for (const [k, v] of Object.entries(t)) {
      switch (k) {
        case 'id': { const m = exactAny(v as StrList, true); targetPreds.push((f) => m(f.target.id) || f.target.relatedIds.some(m)); break; }
        case 'type': { const m = exactAny(v as StrList, true); targetPreds.push((f) => m(f.target.type)); break; }
        case 'knownToDirectory': targetPreds.push(boolPred(v, (f) => f.target.knownToDirectory)); break;
        case 'privilegedRole': targetPreds.push(boolPred(v, (f) => f.target.privilegedRole)); break;
        case 'roleAssignableGroup': targetPreds.push(boolPred(v, (f) => f.target.roleAssignableGroup)); break;
        case 'holdsControlPlane': targetPreds.push(boolPred(v, (f) => f.target.holdsControlPlane)); break;
        case 'callerOwnsTarget': targetPreds.push(boolPred(v, (f) => f.target.callerOwnsTarget)); break;
        case 'callerOwnApp': targetPreds.push(boolPred(v, (f) => f.target.callerOwnApp)); break;
        case 'isCaller': targetPreds.push(boolPred(v, (f) => f.target.isCaller)); break;
        default: errors.push(`${where}.target: unknown selector '${k}'`);
      }
    }
  }
  const p = c.permissions;
  if (p) {
    for (const [k, v] of Object.entries(p)) {
      switch (k) {
        case 'held': {
          const want = v === 'unknown' ? null : v === true;
          permPreds.push((f) => f.permissions.held === want);
          break;
        }
        case 'inToken': permPreds.push(boolPred(v, (f) => f.permissions.inToken === true)); break;
        case 'revokedInToken': permPreds.push(boolPred(v, (f) => f.permissions.revokedInToken.length > 0)); break;
        case 'withheld': permPreds.push(boolPred(v, (f) => f.permissions.withheld.length > 0)); break;
        // firstUse only matches when the usage store gave an answer: "don't know" is never "first".
        case 'firstUse': { const want = v === true; permPreds.push((f) => f.permissions.firstUse !== null && f.permissions.firstUse === want); break; }
        case 'holds': { const m = globAny(v as StrList, `${where}.${k}`, errors); permPreds.push((f) => m(f.permissions.holds)); break; }
        case 'latentPrivilege': permPreds.push(boolPred(v, (f) => f.permissions.latentPrivilege)); break;
        case 'privilegedRoleActive': permPreds.push(boolPred(v, (f) => f.permissions.privilegedRoleActive)); break;
        default: errors.push(`${where}.permissions: unknown selector '${k}'`);
      }
    }
  }
  const ctx = c.context;
  if (ctx) {
    if (ctx.time) {
      const windows = (Array.isArray(ctx.time) ? ctx.time : [ctx.time]).map((w, i) => compileWindow(w, `${where}.context.time[${i}]`, errors));
      preds.push((f) => {
        const at = dateOf(f.at);
        for (const w of windows) if (w(at)) return true;
        return false;
      });
    }
    if (ctx.risk) {
      const { scoreAtLeast, flags } = ctx.risk;
      const flagMatch = flags !== undefined ? exactAny(flags, true) : undefined;
      // No assessment never matches: a missing risk engine must not look like "risk is low" or "high".
      preds.push((f) => {
        const r = f.risk;
        if (!r) return false;
        if (scoreAtLeast !== undefined && !(r.score >= scoreAtLeast)) return false;
        if (flagMatch && !r.flags.some(flagMatch)) return false;
        return true;
      });
    }
  }
  if (c.all) {
    c.all.forEach((s, i) => {
      const sub = compileCondition(s, `${where}.all[${i}]`, errors);
      for (const g of [...PARTS, 'other'] as const) out[g].push(...sub[g]);
      out.mixed.push(...sub.mixed);
    });
  }
  if (c.any) {
    const subs = c.any.map((s, i) => compileCondition(s, `${where}.any[${i}]`, errors));
    const part = onePart(subs);
    const fixed = subs.filter(indexedOnly).map(whole);
    const varying = subs.filter((s) => !indexedOnly(s)).map(whole);
    if (part) out[part].push(or(subs.map(whole)));
    else if (fixed.length > 0) out.mixed.push({ fixed: or(fixed), varying: varying.length > 0 ? or(varying) : undefined });
    else out.other.push(or(varying));
  }
  if (c.not) {
    const sub = compileCondition(c.not, `${where}.not`, errors);
    const p = whole(sub);
    const negated: Pred = (f) => !p(f);
    const part = onePart([sub]);
    if (part) out[part].push(negated);
    else if (indexedOnly(sub)) out.mixed.push({ fixed: negated, varying: undefined });
    else out.other.push(negated);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Compilation

interface RawRule {
  id: string;
  description?: string;
  effect: Effect;
  reasonCode: string;
  reason: string;
  controls?: string[];
  mode?: Mode;
  enabled?: boolean;
  when: Condition;
}

interface RawFile {
  settings?: Partial<PolicySettings>;
  rules: RawRule[];
}

/** A rule's condition as the index uses it: one check per indexed part, the mixed `any`s, and the rest. */
type PartChecks = Record<Part, Pred> & { mixed: readonly MixedAny[]; other: Pred; rest: Pred };

/**
 * The rule index: which rules' selectors over one part pass for that part (a mask per shared part,
 * answered once and remembered), and the candidate list once per combination of shared parts: a call
 * evaluates only the rest (time, risk) of the rules that its agent, operation, target and permission
 * facts let through, not every rule. For such a combination the index also evaluates what of a mixed
 * `any` reads those parts alone, keeping of it only what the call must still check, or dropping the rule
 * when nothing can make it match. Parts that are not shared (a target read from a request body, facts
 * parsed from an audit record on replay) are checked afresh, with the same checks.
 */
function ruleIndex(rules: readonly CompiledRule[], checks: readonly PartChecks[]): (facts: DecisionFacts) => readonly Candidate[] {
  const masks: Record<Part, WeakMap<object, Uint8Array>> = { agent: new WeakMap(), operation: new WeakMap(), target: new WeakMap(), permissions: new WeakMap() };
  const maskOf = (facts: DecisionFacts, part: Part): Uint8Array | undefined => {
    const key = facts[part];
    if (!isShared(key)) return undefined;
    let m = masks[part].get(key);
    if (!m) {
      m = Uint8Array.from(checks, (c) => (c[part](facts) ? 1 : 0));
      masks[part].set(key, m);
    }
    return m;
  };
  const passes = (facts: DecisionFacts, i: number, part: Part, mask: Uint8Array | undefined): boolean => (mask ? mask[i] === 1 : checks[i]![part](facts));
  const select = (facts: DecisionFacts, m: Record<Part, Uint8Array | undefined>, settle: boolean): Candidate[] => {
    const out: Candidate[] = [];
    for (let i = 0; i < rules.length; i++) {
      if (!(passes(facts, i, 'agent', m.agent) && passes(facts, i, 'operation', m.operation) && passes(facts, i, 'target', m.target) && passes(facts, i, 'permissions', m.permissions))) {
        continue;
      }
      const c = checks[i]!;
      if (!settle || c.mixed.length === 0) {
        out.push({ rule: rules[i]!, rest: c.rest });
        continue;
      }
      const left: Pred[] = [];
      let possible = true;
      for (const mixed of c.mixed) {
        if (mixed.fixed(facts)) continue;
        if (!mixed.varying) {
          possible = false;
          break;
        }
        left.push(mixed.varying);
      }
      if (possible) out.push({ rule: rules[i]!, rest: left.length === 0 ? c.other : and([c.other, ...left]) });
    }
    return out;
  };
  // agent → operation → target → permissions → candidates, each level weak so lists go with their parts.
  type Level = WeakMap<object, Level | readonly Candidate[]>;
  const lists: Level = new WeakMap();
  return (facts) => {
    const m = { agent: maskOf(facts, 'agent'), operation: maskOf(facts, 'operation'), target: maskOf(facts, 'target'), permissions: maskOf(facts, 'permissions') };
    if (!m.agent || !m.operation || !m.target || !m.permissions) return select(facts, m, false);
    let level = lists;
    for (const part of ['agent', 'operation', 'target'] as const) {
      let next = level.get(facts[part]) as Level | undefined;
      if (!next) level.set(facts[part], (next = new WeakMap()));
      level = next;
    }
    let list = level.get(facts.permissions) as readonly Candidate[] | undefined;
    if (!list) {
      list = Object.freeze(select(facts, m, true));
      level.set(facts.permissions, list);
    }
    return list;
  };
}

/** Parses controls.yaml (id → framework, ref, title); problems are pushed to `errors`. */
export function parseControls(source: RuleSource, errors: string[]): Map<string, Control> {
  const out = new Map<string, Control>();
  let doc: unknown;
  try {
    doc = parseYaml(source.text);
  } catch (e) {
    errors.push(`${source.name}: not valid YAML: ${(e as Error).message}`);
    return out;
  }
  const controls = (doc as { controls?: unknown } | null)?.controls;
  if (!controls || typeof controls !== 'object' || Array.isArray(controls)) {
    errors.push(`${source.name}: expected a 'controls' mapping of id → {framework, ref, title}`);
    return out;
  }
  for (const [id, v] of Object.entries(controls as Record<string, unknown>)) {
    const c = v as Partial<Control> | null;
    if (!c || typeof c.framework !== 'string' || typeof c.ref !== 'string' || typeof c.title !== 'string') {
      errors.push(`${source.name}: control '${id}' needs string framework, ref and title`);
      continue;
    }
    out.set(id, { id, framework: c.framework, ref: c.ref, title: c.title, ...(typeof c.text === 'string' ? { text: c.text } : {}) });
  }
  return out;
}

/** Validates and compiles a set of sources. Every problem is listed; nothing is partially accepted. */
export function compilePolicy(sources: readonly RuleSource[]): CompileResult {
  const errors: string[] = [];
  const sorted = [...sources].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const controlsSource = sorted.find((s) => s.name === CONTROLS_FILE);
  const controls = controlsSource ? parseControls(controlsSource, errors) : new Map<string, Control>();
  const settings: PolicySettings = { ...DEFAULT_SETTINGS };
  const settingFrom = new Map<string, string>();
  const rules: CompiledRule[] = [];
  const checks: PartChecks[] = [];
  const ruleFrom = new Map<string, string>();
  const ruleFiles = sorted.filter((s) => s.name !== CONTROLS_FILE);
  if (ruleFiles.length === 0) errors.push('no rule files (*.yaml) found');

  for (const src of ruleFiles) {
    let doc: unknown;
    try {
      doc = parseYaml(src.text);
    } catch (e) {
      errors.push(`${src.name}: not valid YAML: ${(e as Error).message}`);
      continue;
    }
    const v = validateRulesFile(doc);
    if (v.errors && v.errors.length > 0) {
      for (const err of v.errors) {
        const extra = err.keyword === 'additionalProperties' ? ` '${String((err.params as { additionalProperty?: string }).additionalProperty)}'` : '';
        errors.push(`${src.name}: ${err.instancePath || '/'} ${err.message ?? 'is invalid'}${extra}`);
      }
      continue;
    }
    const file = doc as RawFile;
    for (const [k, val] of Object.entries(file.settings ?? {})) {
      const prev = settingFrom.get(k);
      if (prev !== undefined) errors.push(`${src.name}: setting '${k}' is already set in ${prev}`);
      settingFrom.set(k, src.name);
      (settings as unknown as Record<string, unknown>)[k] = val;
    }
    file.rules.forEach((r, i) => {
      const where = `${src.name}: rules[${i}] (${r.id})`;
      const prev = ruleFrom.get(r.id);
      if (prev !== undefined) errors.push(`${where}: duplicate rule id, also in ${prev}`);
      ruleFrom.set(r.id, src.name);
      for (const c of r.controls ?? []) {
        if (!controls.has(c)) errors.push(`${where}: control '${c}' is not in ${CONTROLS_FILE}`);
      }
      const cond = compileCondition(r.when, `${where}.when`, errors);
      if (r.enabled === false) return;
      const other = and(cond.other);
      const rest = and([...cond.other, ...cond.mixed.map(mixedPred)]);
      checks.push({ agent: and(cond.agent), operation: and(cond.operation), target: and(cond.target), permissions: and(cond.permissions), mixed: cond.mixed, other, rest });
      const rule: CompiledRule = {
        id: r.id,
        file: src.name,
        effect: r.effect,
        reasonCode: r.reasonCode,
        reason: r.reason,
        controls: [...(r.controls ?? [])],
        mode: r.mode ?? 'enforce',
        match: whole(cond),
      };
      if (r.description !== undefined) rule.description = r.description;
      rules.push(rule);
    });
  }
  if (errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    policy: Object.freeze({
      revision: revisionOf(sorted),
      settings: Object.freeze(settings),
      rules: Object.freeze(rules),
      controls,
      sources: Object.freeze(sorted.map((s) => ({ ...s }))),
      candidates: ruleIndex(rules, checks),
    }),
  };
}
