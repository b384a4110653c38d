/**
 * Reads a YAML config, validates it once against the assembled JSON Schema (ajv, with
 * defaults), resolves relative paths against the file's directory and freezes it.
 * Every error is reported, not just the first.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import YAML from 'yaml';
import { buildSchema } from './schema.js';
import { validateDirectoryConfig, DirectoryConfigError } from '../directory/config.js';
import type { Config } from './types.js';
import { deepFreeze } from '../canonical.js';

// ajv-formats is CommonJS with a default export; under NodeNext the callable sits on .default.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(source: string, problems: string[]) {
    super(`invalid configuration in ${source}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

let validator: ReturnType<Ajv['compile']> | undefined;
function validate(): ReturnType<Ajv['compile']> {
  if (!validator) {
    const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true, allowUnionTypes: true });
    addFormats(ajv);
    validator = ajv.compile(buildSchema());
  }
  return validator;
}

/** Validates an already-parsed document. `source` names it in errors; `baseDir` anchors relative paths. */
export function parseConfig(doc: unknown, source: string, baseDir: string): Readonly<Config> {
  const data = structuredClone(doc ?? {}) as Record<string, unknown>;
  const v = validate();
  if (!v(data)) {
    const problems = (v.errors ?? []).map((e) => {
      const where = e.instancePath || '/';
      const extra = e.keyword === 'additionalProperties' ? ` '${(e.params as { additionalProperty: string }).additionalProperty}'` : '';
      const allowed = e.keyword === 'enum' ? ` (one of ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')})` : '';
      return `${where}: ${e.message ?? 'invalid'}${extra}${allowed}`;
    });
    throw new ConfigError(source, [...new Set(problems)]);
  }
  const cfg = data as unknown as Config;
  try {
    validateDirectoryConfig(cfg.directory);
  } catch (err) {
    if (err instanceof DirectoryConfigError) throw new ConfigError(source, err.problems);
    throw err;
  }
  cfg.baseDir = baseDir;
  const rel = (p: string) => path.resolve(baseDir, p);
  cfg.server.tls.cert = rel(cfg.server.tls.cert);
  cfg.server.tls.key = rel(cfg.server.tls.key);
  if (cfg.upstream.ca) cfg.upstream.ca = rel(cfg.upstream.ca);
  if (cfg.identity.ca) cfg.identity.ca = rel(cfg.identity.ca);
  cfg.state.dir = rel(cfg.state.dir);
  if (cfg.policy.rulesDir) cfg.policy.rulesDir = rel(cfg.policy.rulesDir);
  for (const t of cfg.directory.tenants) {
    const c = t.credentials as unknown as Record<string, string | undefined>;
    for (const k of ['clientSecretFile', 'certificateFile', 'privateKeyFile'] as const) if (c[k]) c[k] = rel(c[k]!);
  }
  cfg.upstream.url = cfg.upstream.url.replace(/\/$/, '');
  cfg.identity.authorityHost = cfg.identity.authorityHost.replace(/\/$/, '');
  return deepFreeze(cfg);
}

export async function loadConfig(file: string): Promise<Readonly<Config>> {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = await readFile(abs, 'utf8');
  } catch (err) {
    throw new ConfigError(abs, [`cannot read file: ${(err as NodeJS.ErrnoException).code ?? String(err)}`]);
  }
  const parsed = YAML.parseDocument(text, { prettyErrors: true });
  if (parsed.errors.length > 0) throw new ConfigError(abs, parsed.errors.map((e) => `YAML: ${e.message}`));
  return parseConfig(parsed.toJS(), abs, path.dirname(abs));
}
