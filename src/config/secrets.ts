/**
 * Secret references in configuration: `{ env: NAME }` or `{ file: PATH }`, never inline
 * values in files that get committed. Owns resolution only; callers never log the result.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

export type SecretRef = { env: string } | { file: string };

export const secretRefSchema = {
  description: 'A secret read from an environment variable or a file (never written inline).',
  oneOf: [
    { type: 'object', additionalProperties: false, required: ['env'], properties: { env: { type: 'string', minLength: 1, description: 'Environment variable holding the secret.' } } },
    { type: 'object', additionalProperties: false, required: ['file'], properties: { file: { type: 'string', minLength: 1, description: 'File holding the secret (trailing newline trimmed). Relative to the config file.' } } },
  ],
} as const;

/** Resolves a secret; throws an error naming the reference (never the value) when it is missing. */
export function resolveSecret(ref: SecretRef, baseDir: string, env: NodeJS.ProcessEnv = process.env): string {
  if ('env' in ref) {
    const v = env[ref.env];
    if (v === undefined || v === '') throw new Error(`secret environment variable ${ref.env} is not set`);
    return v;
  }
  const p = path.resolve(baseDir, ref.file);
  try {
    return readFileSync(p, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    throw new Error(`secret file ${p} cannot be read: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}
