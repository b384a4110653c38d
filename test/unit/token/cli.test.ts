import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { randomUUID } from 'node:crypto';
import { runTokenCli } from '../../../src/token/cli.js';
import { COMMANDS } from '../../../src/cli/commands.js';
import { addTenant, makeKey, mint, startAuthority, v1AppClaims, type FakeAuthority, type SigningKey } from './support/authority.js';

const TID = randomUUID();
let auth: FakeAuthority;
let key: SigningKey;

beforeAll(async () => {
  key = await makeKey();
  auth = await startAuthority();
  addTenant(auth, TID, [key]);
});
afterAll(() => auth.close());

async function cli(args: string[], stdin: string) {
  let stdout = '';
  let stderr = '';
  const code = await runTokenCli(args, {
    stdin: [Buffer.from(stdin)],
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
  });
  return { code, stdout, stderr };
}

describe('graphwarden token', () => {
  it('is registered as a subcommand', async () => {
    const mod = await COMMANDS.token!.load();
    expect(mod.usage).toContain('graphwarden token verify');
  });

  it('verify prints the principal of a valid token and never the token', async () => {
    const token = await mint({ key, claims: v1AppClaims(TID, Math.floor(Date.now() / 1000)), header: { nonce: 'n' } });
    const r = await cli(['verify', '--tenant', TID, '--authority', auth.base], `Bearer ${token}\n`);
    expect(r.code).toBe(0);
    const printed = JSON.parse(r.stdout) as { ok: boolean; principal: { kind: string; tenantId: string } };
    expect(printed).toMatchObject({ ok: true, principal: { kind: 'app', tenantId: TID } });
    expect(r.stdout).not.toContain(token.split('.')[2]!);
  });

  it('verify explains a refusal with its code and exits 1', async () => {
    const token = await mint({ key, claims: v1AppClaims(TID, Math.floor(Date.now() / 1000), { aud: 'https://management.azure.com' }) });
    const r = await cli(['verify', '--tenant', TID, '--authority', auth.base], token);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, code: 'GW_ERR_TOKEN_AUDIENCE' });
  });

  it('verify reports why keys could not be loaded', async () => {
    const other = randomUUID();
    const token = await mint({ key, claims: v1AppClaims(other, Math.floor(Date.now() / 1000)) });
    const r = await cli(['verify', '--tenant', other, '--authority', auth.base], token);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ code: 'GW_ERR_KEYS_UNAVAILABLE' });
    expect(r.stderr).toContain('404');
  });

  it('decode prints header and claims marked unverified, without the signature', async () => {
    const token = await mint({ key, claims: v1AppClaims(TID, 1000) });
    const r = await cli(['decode'], token);
    expect(r.code).toBe(0);
    const printed = JSON.parse(r.stdout) as { verified: boolean; header: { kid: string }; claims: { tid: string } };
    expect(printed).toMatchObject({ verified: false, header: { kid: key.kid }, claims: { tid: TID } });
    expect(r.stdout).not.toContain(token.split('.')[2]!);
  });

  it('refuses bad usage with exit 2', async () => {
    expect((await cli(['verify'], 'x')).code).toBe(2);
    expect((await cli(['frobnicate'], 'x')).code).toBe(2);
    expect((await cli(['verify', '--tenant', 'not-a-guid'], 'x')).code).toBe(2);
  });
});
