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
  serve: { summary: 'run the proxy and its admin listener from a config file', load: () => import('./serve.js') },
  config: { summary: 'validate a config file or print the config JSON Schema', load: () => import('./config.js') },
  demo: { summary: 'run the demo: emulated tenant, proxy and agents making real calls', load: () => import('./demo.js') },
  certs: { summary: 'make a local CA and server certificate for TLS', load: () => import('./certs.js') },
  token: { summary: 'verify or decode an Entra access token (why is it accepted or refused?)', load: () => import('../token/cli.js') },
  classify: { summary: 'show the operation, permissions, target and tier graphwarden sees for a Graph call', load: () => import('./classify.js') },
  rules: { summary: 'validate a rules directory or run its policy tests', load: () => import('./rules.js') },
  audit: { summary: 'verify the hash-chained decision log', load: () => import('./audit.js') },
  explain: { summary: 'print the narrative of one decision, for auditors', load: () => import('./explain.js') },
  sync: { summary: 'read the Entra tenant(s) through Graph and save the directory snapshot', load: () => import('./sync.js') },
  permissions: { summary: "show an agent's effective permissions with provenance", load: () => import('./permissions.js') },
  report: { summary: 'directory posture report (text, JSON or HTML)', load: () => import('./report.js') },
  emulator: { summary: 'run the local Entra + Graph emulator (synthetic tenants, test agents)', load: () => import('./emulator.js') },
  approvals: { summary: 'list, show, approve or deny calls held for approval', load: () => import('./approvals.js') },
  overrides: { summary: 'list, create, approve or revoke governed overrides', load: () => import('./overrides.js') },
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
