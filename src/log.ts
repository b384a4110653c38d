/**
 * The process logger: pino JSON lines on stdout. Redaction is by path and is the last
 * line of defence; modules log only allowlisted fields to begin with.
 */
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/** Paths pino censors wherever they appear in a log object. */
export const REDACT_PATHS = [
  'authorization',
  'token',
  'accessToken',
  'access_token',
  'refreshToken',
  'clientSecret',
  'client_secret',
  'secret',
  'secretText',
  'password',
  'body',
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
  '*.authorization',
  '*.token',
  '*.accessToken',
  '*.clientSecret',
  '*.secretText',
  '*.password',
  '*.body',
];

export function createLogger(opts: { level: string; name?: string }, destination?: DestinationStream): Logger {
  return pino(
    {
      name: opts.name ?? 'graphwarden',
      level: opts.level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
