import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { LinkRewriter, rewriteLinksInBuffer, rewriteUrl } from '../../../src/forward/link-rewriter.js';

const opts = { from: ['https://graph.microsoft.com', 'https://127.0.0.1:4443'], to: 'https://proxy.local:8443' };

async function run(chunks: Buffer[]): Promise<string> {
  const rw = new LinkRewriter(opts);
  const out: Buffer[] = [];
  rw.on('data', (c: Buffer) => out.push(c));
  const done = new Promise<void>((r) => rw.on('end', r));
  for (const c of chunks) rw.write(c);
  rw.end();
  await done;
  return Buffer.concat(out).toString('utf8');
}

const page = JSON.stringify({
  '@odata.context': 'https://graph.microsoft.com/v1.0/$metadata#users',
  value: [{ id: 'a', displayName: 'Zoë “quoted” 日本', note: 'see https://graph.microsoft.com/v1.0/users for details' }],
  'members@odata.nextLink': 'https://graph.microsoft.com/v1.0/groups/x/members?$skiptoken=m1',
  '@odata.nextLink': 'https://graph.microsoft.com/v1.0/users?$skiptoken=abc',
  '@odata.deltaLink': 'https://127.0.0.1:4443/beta/users/delta?$deltatoken=d',
});

describe('LinkRewriter', () => {
  it('rewrites next and delta links (nested too) and nothing else', async () => {
    const out = JSON.parse(await run([Buffer.from(page)]));
    expect(out['@odata.nextLink']).toBe('https://proxy.local:8443/v1.0/users?$skiptoken=abc');
    expect(out['members@odata.nextLink']).toBe('https://proxy.local:8443/v1.0/groups/x/members?$skiptoken=m1');
    expect(out['@odata.deltaLink']).toBe('https://proxy.local:8443/beta/users/delta?$deltatoken=d');
    // Data that merely mentions Graph is left alone, and so is the metadata context.
    expect(out.value[0].note).toBe('see https://graph.microsoft.com/v1.0/users for details');
    expect(out['@odata.context']).toBe('https://graph.microsoft.com/v1.0/$metadata#users');
    expect(out.value[0].displayName).toBe('Zoë “quoted” 日本');
  });

  it('gives the same result however the body is split into chunks', async () => {
    const expected = await run([Buffer.from(page)]);
    const bytes = Buffer.from(page);
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 12 }), async (cuts) => {
        const sorted = [...cuts].sort((a, b) => a - b);
        const chunks: Buffer[] = [];
        let prev = 0;
        for (const c of sorted) {
          chunks.push(bytes.subarray(prev, c));
          prev = c;
        }
        chunks.push(bytes.subarray(prev));
        expect(await run(chunks)).toBe(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('splits one byte at a time', async () => {
    const bytes = Buffer.from(page);
    const chunks = [...bytes].map((b) => Buffer.from([b]));
    expect(await run(chunks)).toBe(await run([bytes]));
  });

  it('does not rewrite a lookalike host', async () => {
    const body = '{"@odata.nextLink":"https://graph.microsoft.com.evil.example/v1.0/users"}';
    expect(await run([Buffer.from(body)])).toBe(body);
  });
});

describe('rewriteUrl', () => {
  it('rewrites only the configured origins on a path boundary', () => {
    expect(rewriteUrl('https://GRAPH.microsoft.com/v1.0/x', opts)).toBe('https://proxy.local:8443/v1.0/x');
    expect(rewriteUrl('https://graph.microsoft.community/x', opts)).toBe('https://graph.microsoft.community/x');
    expect(rewriteUrl('https://contoso.sharepoint.com/x', opts)).toBe('https://contoso.sharepoint.com/x');
  });
});

describe('rewriteLinksInBuffer (the whole-body form)', () => {
  it('returns the very same buffer when there is no paging link', () => {
    const body = Buffer.from('{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#users","value":[]}');
    expect(rewriteLinksInBuffer(body, opts)).toBe(body);
  });

  it('rewrites exactly what the streaming form rewrites, on any mix of keys, spacing, origins and noise', async () => {
    const noise = fc.constantFrom(
      '{', '}', ',', '"', ':', ' ', '\t', '\n', '\u00a0', '\\"', 'Link"', '@odata.', 'next', 'delta', 'nextLink', 'deltaLink', 'navigationLink',
      '@odata.nextLink', '@odata.deltaLink', 'members', 'https://graph.microsoft.com', 'HTTPS://GRAPH.Microsoft.COM', 'https://127.0.0.1:4443',
      'https://graph.microsoft.com.evil', '/v1.0/users', '?$skiptoken=x', 'Zoë 日本', ' '.repeat(17),
      '@odata.nextLink":"', 'members@odata.nextLink":"', '@odata.deltaLink" :\n"',
    );
    const link = fc.constantFrom('@odata.nextLink":"https://graph.microsoft.com/v1.0/users?$skiptoken=y"', '"@odata.deltaLink": "HTTPS://127.0.0.1:4443?x"');
    const pieces = fc.oneof({ arbitrary: noise, weight: 8 }, { arbitrary: link, weight: 1 });
    let rewritten = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(pieces, { minLength: 20, maxLength: 40 }), async (parts) => {
        const body = Buffer.from(parts.join(''));
        const out = rewriteLinksInBuffer(body, opts);
        if (out !== body) rewritten++;
        expect(out.toString('utf8')).toBe(await run([body]));
      }),
      { numRuns: 500 },
    );
    // The property is only worth something if many generated bodies did have links to rewrite.
    expect(rewritten).toBeGreaterThan(250);
  });
});
