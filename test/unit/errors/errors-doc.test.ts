import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { ERRORS, graphErrorBody } from '../../../src/errors.js';

describe('error catalogue', () => {
  it('docs/errors.md lists every code with its status and Graph code, and nothing else', () => {
    const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
    const rows = [...doc.matchAll(/^\| `(GW_ERR_[A-Z_]+)` \| (\d{3}) \| `([^`]+)` \|/gm)].map((m) => [m[1], Number(m[2]), m[3]]);
    const expected = Object.entries(ERRORS).map(([code, spec]) => [code, spec.status, spec.graphCode]);
    expect(rows).toEqual(expected);
  });

  it('builds the Graph error envelope SDKs parse', () => {
    const body = graphErrorBody('GW_ERR_POLICY_BLOCKED', 'blocked by rule x', 'dec-1', new Date('2026-05-01T10:00:00.123Z'), { clientRequestId: 'c-1' });
    expect(body).toEqual({
      error: {
        code: 'GraphwardenPolicyDenied',
        message: 'blocked by rule x',
        innerError: { 'request-id': 'dec-1', date: '2026-05-01T10:00:00Z', 'client-request-id': 'c-1', 'graphwarden-code': 'GW_ERR_POLICY_BLOCKED' },
      },
    });
  });
});
