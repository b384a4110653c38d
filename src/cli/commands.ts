/**
 * The subcommand registry. Each command lives in its own module exporting `usage`
 * and `run(args) → exit code`; modules load lazily so `--help` stays fast.
 */
export interface CommandModule {
  usage: string;
  run(args: string[]): Promise<number>;
}

interface CommandEntry {
  summary: string;
  load(): Promise<CommandModule>;
}

export const COMMANDS: Record<string, CommandEntry> = {
  certs: { summary: 'make a local CA and server certificate for TLS', load: () => import('./certs.js') },
  sync: { summary: 'read the Entra tenant(s) through Graph and save the directory snapshot', load: () => import('./sync.js') },
  permissions: { summary: "show an agent's effective permissions with provenance", load: () => import('./permissions.js') },
  report: { summary: 'directory posture report (text, JSON or HTML)', load: () => import('./report.js') },
  emulator: { summary: 'run the local Entra + Graph emulator (synthetic tenants, test agents)', load: () => import('./emulator.js') },
};

export function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const lines = Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(width)}  ${c.summary}`);
  return [
    'graphwarden — inline enforcement proxy for Microsoft Graph',
    '',
    'Usage: graphwarden <command> [options]',
    '',
    'Commands:',
    ...lines,
    '',
    'Run `graphwarden <command> --help` for a command’s options.',
  ].join('\n');
}
