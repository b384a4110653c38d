// `graphwarden emulator` argument handling (the listener itself is covered by the integration tests).
import { describe, expect, it, vi } from 'vitest';
import { run, usage } from '../../../src/cli/emulator.js';

describe('graphwarden emulator CLI', () => {
  it('documents every option', () => {
    for (const o of ['--port', '--host', '--seed', '--size', '--tenants', '--latency-ms', '--throttle-every', '--certs']) expect(usage).toContain(o);
  });

  it('refuses bad numbers and a certs directory without server.crt/server.key, with exit code 2', async () => {
    const err = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    expect(await run(['--size=-5'])).toBe(2);
    expect(await run(['--no-such-option'])).toBe(2);
    expect(await run(['--latency-ms', 'soon'])).toBe(2);
    expect(await run(['--certs', 'no-such-directory-for-emulator-test'])).toBe(2);
    expect(err.mock.calls.map((c) => String(c[0])).join('\n')).toMatch(/--size must be a non-negative integer[\s\S]*no-such-option[\s\S]*--latency-ms[\s\S]*server\.crt/);
    err.mockRestore();
  });
});
