import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { approvalModuleConfig, approvalsConfigSchema, overridesConfigSchema, type ApprovalsConfigSlice, type OverridesConfigSlice } from '../../../src/approval/config.js';

// ajv-formats ships CommonJS: its default export is the plugin function.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

/** The slices are embedded in the one root schema, as the config module does. */
function compile() {
  const ajv = new Ajv({ useDefaults: true, allErrors: true, strict: true });
  addFormats(ajv);
  const root = ajv.compile({ type: 'object', additionalProperties: false, properties: { approvals: approvalsConfigSchema, overrides: overridesConfigSchema } });
  return {
    a: (slice: Record<string, unknown>) => root({ approvals: slice }),
    o: (slice: Record<string, unknown>) => root({ overrides: slice }),
  };
}

describe('approvals config slice', () => {
  it('fills defaults and maps seconds to milliseconds', () => {
    const { a, o } = compile();
    const slice: Record<string, unknown> = { approvers: [{ name: 'alice', tokenSha256: 'ab'.repeat(32) }] };
    const ov: Record<string, unknown> = {};
    expect(a(slice)).toBe(true);
    expect(o(ov)).toBe(true);
    const { module, waitMs } = approvalModuleConfig('/state', slice as unknown as ApprovalsConfigSlice, ov as unknown as OverridesConfigSlice);
    expect(waitMs).toBe(60_000);
    expect(module.approvals).toMatchObject({ pendingTtlMs: 3_600_000, retryAfterSec: 30, maxWaitMs: 120_000 });
    expect(module.overrides).toEqual({ maxDurationMs: 604_800_000, maxBreakGlassDurationMs: 86_400_000 });
    expect(module.approvers).toEqual([{ name: 'alice', ids: [], automation: false, tokenSha256: 'ab'.repeat(32) }]);
  });

  it('rejects plaintext tokens, unknown keys, a Retry-After the SDK would cap, and bad webhook formats', () => {
    const { a } = compile();
    expect(a({ approvers: [{ name: 'alice', token: 'secret' }] })).toBe(false);
    expect(a({ retryAfterSec: 600 })).toBe(false);
    expect(a({ bogus: 1 })).toBe(false);
    expect(a({ notify: { targets: [{ name: 't', url: 'https://hooks.example/x', format: 'email' }] } })).toBe(false);
    expect(a({ notify: { targets: [{ name: 't', url: 'https://hooks.example/x', format: 'slack' }] } })).toBe(true);
  });
});
