import { describe, it, expect } from 'vitest';
import { runDemo } from '../../src/demo/index.js';
import { testPki } from '../support/pki.js';

describe('the quick-start demo', () => {
  it('runs its agents through the proxy: reads forwarded, a control-plane change blocked, a grant held until approved, a forged token refused before Graph', async () => {
    const lines: string[] = [];
    const demo = await runDemo({ pkiDir: testPki().dir, log: (l) => lines.push(l) });
    try {
      const byCall = new Map(demo.calls.map((c) => [`${c.agent} ${c.call.split(' ').slice(0, 2).join(' ')}`, c]));
      expect(byCall.get('provisioning-bot GET /users?$top=10,')).toMatchObject({ status: 200, outcome: 'forwarded' });
      expect(byCall.get('provisioning-bot GET /users?$top=10,')!.note).toContain(demo.proxyUrl);
      expect(byCall.get('copilot-assistant GET /me')).toMatchObject({ status: 200 });
      expect(byCall.get('overprivileged-agent POST /applications/{id}/addPassword')).toMatchObject({ status: 403, outcome: 'graphwarden: GW_ERR_POLICY_BLOCKED' });
      const held = byCall.get('overprivileged-agent POST /servicePrincipals/{graph}/appRoleAssignedTo');
      expect(held).toMatchObject({ status: 200 });
      expect(held!.note).toMatch(/^approved by security-reviewer, then forwarded: assignment /);
      expect(byCall.get('forger GET /users')).toMatchObject({ status: 401, outcome: 'graphwarden: GW_ERR_TOKEN_UNKNOWN_KEY' });
      expect(lines.join('\n')).toContain('requests that reached Graph for the forged call: 0');
    } finally {
      await demo.stop();
    }
  });
});
