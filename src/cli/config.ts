/** `graphwarden config check FILE` validates a config; `graphwarden config schema` prints its JSON Schema. */
import { loadConfig, ConfigError } from '../config/load.js';
import { buildSchema } from '../config/schema.js';
import { renderConfigDoc } from '../config/doc.js';

export const usage = `Usage: graphwarden config check FILE
       graphwarden config schema
       graphwarden config docs

check   validate FILE (YAML) and print the effective configuration with defaults
        (secret references are shown as references, never resolved); exit 2 on errors
schema  print the configuration JSON Schema (for editors and CI checks)
docs    print the configuration reference (docs/configuration.md) as Markdown`;

export async function run(args: string[]): Promise<number> {
  const [sub, file] = args;
  if (sub === 'docs') {
    process.stdout.write(renderConfigDoc(buildSchema()));
    return 0;
  }
  if (sub === 'schema') {
    console.log(JSON.stringify(buildSchema(), null, 2));
    return 0;
  }
  if (sub === 'check' && file) {
    try {
      const cfg = await loadConfig(file);
      console.log(JSON.stringify(cfg, null, 2));
      console.error(`${file}: valid`);
      return 0;
    } catch (err) {
      if (err instanceof ConfigError) {
        console.error(err.message);
        return 2;
      }
      throw err;
    }
  }
  console.error(usage);
  return 2;
}
