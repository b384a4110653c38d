import { describe, it, expect } from 'vitest';
import { Ajv } from 'ajv';
import { TOKEN_DEFAULTS, tokenConfigSchema, toVerifierOptions, type TokenConfig } from '../../../src/token/index.js';

const TID = '72f988bf-86f1-41af-91ab-2d7cd011db47';

function validate(input: unknown): { ok: boolean; value: unknown; errors: string[] } {
  const ajv = new Ajv({ useDefaults: true, allErrors: true, strict: true });
  const check = ajv.compile(tokenConfigSchema);
  const value = structuredClone(input);
  const ok = check(value);
  return { ok, value, errors: (check.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`) };
}

describe('tokenConfigSchema', () => {
  it('fills every default from a minimal slice', () => {
    const r = validate({ allowedTenants: [TID] });
    expect(r.errors).toEqual([]);
    expect(r.value).toEqual({ ...TOKEN_DEFAULTS, audiences: [...TOKEN_DEFAULTS.audiences], allowedTenants: [TID] });
  });

  it.each([
    [{}, 'allowedTenants'],
    [{ allowedTenants: [] }, '/allowedTenants'],
    [{ allowedTenants: ['contoso.onmicrosoft.com'] }, '/allowedTenants/0'],
    [{ allowedTenants: [TID], authorityHost: 'http://login.microsoftonline.com' }, '/authorityHost'],
    [{ allowedTenants: [TID], metadataUrlTemplate: { v2: 'https://x/.well-known/openid-configuration' } }, '/metadataUrlTemplate/v2'],
    [{ allowedTenants: [TID], clockSkewSec: -1 }, '/clockSkewSec'],
    [{ allowedTenants: [TID], cacheSize: 5 }, 'additional'],
  ])('rejects %o', (input, where) => {
    const r = validate(input);
    expect(r.ok).toBe(false);
    expect(r.errors.join('\n')).toContain(where);
  });

  it('maps a validated slice to verifier options, copying arrays', () => {
    const r = validate({ allowedTenants: [TID], metadataUrlTemplate: { v1: 'https://e/{tenant}/.well-known/openid-configuration' } });
    const cfg = r.value as TokenConfig;
    const now = () => 1;
    const opts = toVerifierOptions(cfg, { now });
    expect(opts).toMatchObject({ authorityHost: TOKEN_DEFAULTS.authorityHost, allowedTenants: [TID], now, metadataUrlTemplate: cfg.metadataUrlTemplate });
    expect(opts.allowedTenants).not.toBe(cfg.allowedTenants);
  });
});
