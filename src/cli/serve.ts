/** `graphwarden serve`: runs the proxy from a config file until SIGINT/SIGTERM. */
import { parseArgs } from 'node:util';
import { loadConfig, ConfigError } from '../config/load.js';
import { createApp } from '../app.js';

export const usage = `Usage: graphwarden serve --config FILE

Runs the proxy (agents' Graph base URL) and the admin listener (/metrics, /healthz,
/readyz, admin API) as configured in FILE (YAML; see docs/configuration.md).
An invalid configuration exits with status 2 and lists every problem.`;

export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { config: { type: 'string', short: 'c' } } });
  if (!values.config) {
    console.error(usage);
    return 2;
  }
  let config;
  try {
    config = await loadConfig(values.config);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      return 2;
    }
    throw err;
  }
  const app = await createApp(config);
  await app.start();
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      app.logger.info({ signal }, 'shutting down');
      resolve();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  await app.stop();
  return 0;
}
