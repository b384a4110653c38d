/** `graphwarden certs`: writes a local CA and a server certificate for the proxy's TLS listener. */
import { parseArgs } from 'node:util';
import path from 'node:path';
import { writeLocalPki, DEFAULT_HOSTS } from '../certs/index.js';

export const usage = `Usage: graphwarden certs [--out DIR] [--host NAME]... [--force]

Writes ca.crt/ca.key (kept if present unless --force) and server.crt/server.key
for localhost, 127.0.0.1 and ::1 plus any --host given.

  --out DIR     where to write (default: certs)
  --host NAME   extra DNS name or IP for the server certificate (repeatable)
  --force       make a new CA even if one exists`;

export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { out: { type: 'string', default: 'certs' }, host: { type: 'string', multiple: true }, force: { type: 'boolean', default: false } },
  });
  const hosts = [...DEFAULT_HOSTS, ...(values.host ?? [])];
  const dir = path.resolve(values.out);
  const { reusedCa } = await writeLocalPki(dir, hosts, values.force);
  console.log(`${reusedCa ? 'kept the existing CA' : 'made a new CA'} and issued a server certificate for ${hosts.join(', ')} in ${dir}`);
  console.log(`clients trust it with: NODE_EXTRA_CA_CERTS=${path.join(dir, 'ca.crt')}`);
  return 0;
}
