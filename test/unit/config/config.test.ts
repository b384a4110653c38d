import { describe, it, expect } from 'vitest';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, parseConfig, ConfigError } from '../../../src/config/load.js';

const TENANT = '11111111-2222-3333-4444-555555555555';

describe('configuration', () => {
  it('applies defaults, resolves relative paths against the file and freezes the result', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'gw-cfg-'));
    const file = path.join(dir, 'c.yaml');
    await writeFile(file, `identity:\n  allowedTenants: [${TENANT}]\n`);
    const cfg = await loadConfig(file);
    expect(cfg.upstream.url).toBe('https://graph.microsoft.com');
    expect(cfg.server.tls.enabled).toBe(true);
    expect(cfg.server.tls.cert).toBe(path.join(dir, 'certs/server.crt'));
    expect(cfg.state.dir).toBe(path.join(dir, 'state'));
    expect(cfg.identity.audiences).toContain('00000003-0000-0000-c000-000000000000');
    expect(Object.isFrozen(cfg.server)).toBe(true);
  });

  it('lists every problem, not just the first', () => {
    try {
      parseConfig({ identity: { allowedTenants: ['not-a-guid'] }, server: { listen: { port: 70000 }, bogus: 1 }, log: { level: 'loud' } }, 'x.yaml', '/');
      expect.unreachable('config should be rejected');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const problems = (err as ConfigError).problems.join('\n');
      expect(problems).toMatch(/\/identity\/allowedTenants\/0: must match pattern/);
      expect(problems).toMatch(/\/server\/listen\/port: must be <= 65535/);
      expect(problems).toMatch(/\/server: must NOT have additional properties 'bogus'/);
      expect(problems).toMatch(/\/log\/level: must be equal to one of the allowed values \(one of fatal/);
    }
  });

  it('requires the allowed tenants list', () => {
    expect(() => parseConfig({}, 'x.yaml', '/')).toThrow(/must have required property 'identity'/);
    expect(() => parseConfig({ identity: {} }, 'x.yaml', '/')).toThrow(/allowedTenants/);
  });
});

describe('configuration reference', () => {
  it('docs/configuration.md is the rendering of the schema', async () => {
    const { readFileSync } = await import('node:fs');
    const { renderConfigDoc } = await import('../../../src/config/doc.js');
    const { buildSchema } = await import('../../../src/config/schema.js');
    const doc = readFileSync(new URL('../../../docs/configuration.md', import.meta.url), 'utf8');
    expect(doc).toBe(renderConfigDoc(buildSchema() as Parameters<typeof renderConfigDoc>[0]));
  });

  it('the shipped example config is valid', async () => {
    const cfg = await loadConfig(new URL('../../../examples/config.yaml', import.meta.url).pathname);
    expect(cfg.identity.allowedTenants).toHaveLength(1);
  });
});
