/**
 * `graphwarden token`: verifies or decodes an access token from stdin, to see why the proxy accepts
 * or refuses it. A terminal tool: prints the Principal or the refusal code, never the token itself.
 */
import { parseArgs } from 'node:util';
import { createTokenVerifier, decodeCompact, TOKEN_DEFAULTS } from './index.js';

export const usage = `Usage: graphwarden token verify --tenant GUID [--tenant GUID]... [--authority URL] [--audience AUD]...
       graphwarden token decode

Reads one access token (or a whole "Bearer ..." header value) from stdin.

  verify   fetches the tenant's OpenID metadata and keys from the authority and runs every check
           the proxy runs; prints the Principal, or the GW_ERR_* code and why. Exit 0 if valid.
  decode   prints the header and claims WITHOUT verifying anything (the signature is not shown).

  --tenant GUID      allowed tenant (repeatable; required for verify)
  --authority URL    Entra authority (default ${TOKEN_DEFAULTS.authorityHost}; the emulator URL offline)
  --audience AUD     accepted audience (repeatable; default: Microsoft Graph)
  --skew SEC         clock skew in seconds (default ${TOKEN_DEFAULTS.clockSkewSec})

TLS trust for the authority: the system store plus NODE_EXTRA_CA_CERTS.`;

/** Where the command reads and writes; tests pass their own. */
export interface TokenCliIo {
  stdin: AsyncIterable<Buffer | string> | Iterable<Buffer | string>;
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
}

export function run(args: string[]): Promise<number> {
  return runTokenCli(args, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
}

export async function runTokenCli(args: string[], io: TokenCliIo): Promise<number> {
  const readStdin = async (): Promise<string> => {
    const chunks: Buffer[] = [];
    for await (const chunk of io.stdin) chunks.push(Buffer.from(chunk));
    return Buffer.concat(chunks).toString('utf8').trim();
  };
  const out = (value: unknown) => io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      tenant: { type: 'string', multiple: true },
      authority: { type: 'string', default: TOKEN_DEFAULTS.authorityHost },
      audience: { type: 'string', multiple: true },
      skew: { type: 'string', default: String(TOKEN_DEFAULTS.clockSkewSec) },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const sub = positionals[0];
  if (values.help || (sub !== 'verify' && sub !== 'decode')) {
    io.stdout.write(`${usage}\n`);
    return values.help ? 0 : 2;
  }
  const input = await readStdin();
  const header = /^bearer\s/i.test(input) ? input : `Bearer ${input}`;

  if (sub === 'decode') {
    const decoded = decodeCompact(header.slice(7).trim());
    if (!decoded) {
      io.stderr.write('not a well-formed JWS compact token\n');
      return 1;
    }
    out({ verified: false, header: decoded.header, claims: decoded.payload });
    return 0;
  }

  const tenants = values.tenant ?? [];
  const skew = Number(values.skew);
  if (tenants.length === 0 || !Number.isInteger(skew) || skew < 0) {
    io.stderr.write(`${usage}\n`);
    return 2;
  }
  let verifier;
  try {
    verifier = createTokenVerifier({
      ...TOKEN_DEFAULTS,
      authorityHost: values.authority,
      allowedTenants: tenants,
      audiences: values.audience ?? [...TOKEN_DEFAULTS.audiences],
      clockSkewSec: skew,
      cacheMaxEntries: 0,
    });
  } catch (err) {
    io.stderr.write(`${(err as Error).message}\n`);
    return 2;
  }
  try {
    // Load keys first so a fetch failure is explained (URL, status), not just coded.
    await verifier.preload().catch((err: unknown) => io.stderr.write(`${(err as Error).message}\n`));
    const result = await verifier.verify(header);
    if (result.ok) {
      out({ ok: true, principal: result.principal, tokenDigest: result.tokenDigest, claimsDigest: result.claimsDigest });
      return 0;
    }
    out({ ok: false, code: result.code, message: result.message });
    return 1;
  } finally {
    verifier.close();
  }
}
