#!/usr/bin/env node
/**
 * The `graphwarden` binary: picks a subcommand and runs it. The only place that calls
 * process.exit; each command returns its exit code.
 */
import { COMMANDS, usage } from './cli/commands.js';

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? rest[0] : undefined;
    if (topic && COMMANDS[topic]) {
      const mod = await COMMANDS[topic].load();
      console.log(mod.usage);
      return 0;
    }
    console.log(usage());
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-v') {
    const { VERSION } = await import('./version.js');
    console.log(VERSION);
    return 0;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    console.error(`graphwarden: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  const mod = await cmd.load();
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(mod.usage);
    return 0;
  }
  return mod.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`graphwarden: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
