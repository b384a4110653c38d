/**
 * The admin API client used by `graphwarden approvals` and `graphwarden overrides`: HTTPS via
 * undici (trust from the system store plus NODE_EXTRA_CA_CERTS), bearer token from a file.
 * Owns transport and token loading only; printing is the CLI's job.
 */
import { readFileSync } from 'node:fs';
import { request } from 'undici';

export const DEFAULT_ADMIN_URL = 'https://127.0.0.1:9443';

export interface AdminTarget {
  adminUrl: string;
  token: string;
}

export interface AdminResponse {
  status: number;
  json: Record<string, unknown>;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** Resolves URL and token from flags, then environment; refuses a bearer token over plain HTTP off loopback. */
export function adminTarget(flags: { 'admin-url'?: string; 'token-file'?: string }, env: NodeJS.ProcessEnv = process.env): AdminTarget {
  const adminUrl = flags['admin-url'] ?? env.GRAPHWARDEN_ADMIN_URL ?? DEFAULT_ADMIN_URL;
  const url = new URL(adminUrl);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.has(url.hostname))) {
    throw new Error(`refusing to send an approver token to ${url.protocol}//${url.host}: use https`);
  }
  const file = flags['token-file'] ?? env.GRAPHWARDEN_ADMIN_TOKEN_FILE;
  const token = (file ? readFileSync(file, 'utf8') : (env.GRAPHWARDEN_ADMIN_TOKEN ?? '')).trim();
  if (!token) throw new Error('no approver token: pass --token-file FILE or set GRAPHWARDEN_ADMIN_TOKEN_FILE');
  return { adminUrl: adminUrl.replace(/\/+$/, ''), token };
}

export async function adminRequest(target: AdminTarget, method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<AdminResponse> {
  const res = await request(`${target.adminUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${target.token}`, accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    headersTimeout: 30_000,
    bodyTimeout: 30_000,
  });
  const text = await res.body.text();
  let json: Record<string, unknown> = {};
  try {
    json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    json = { error: { code: 'bad-response', message: `non-JSON answer (HTTP ${res.statusCode})` } };
  }
  return { status: res.statusCode, json };
}

/** "90", "90s", "15m", "2h", "1d" → seconds. */
export function parseDuration(s: string): number {
  const m = /^(\d+)\s*([smhd]?)$/.exec(s.trim());
  if (!m) throw new Error(`not a duration: ${s} (use e.g. 90s, 15m, 2h, 1d)`);
  const n = Number(m[1]);
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86_400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
  return n * unit;
}

export function errorText(r: AdminResponse): string {
  const e = r.json.error as { code?: string; message?: string } | undefined;
  return `HTTP ${r.status}${e?.code ? ` ${e.code}` : ''}${e?.message ? `: ${e.message}` : ''}`;
}

/** Prints a failed admin API answer as `graphwarden COMMAND: …` and returns the exit code; runs `ok` on success. */
export function reportAdminResponse(command: string, r: AdminResponse, ok: (json: Record<string, unknown>) => void, printError: (line: string) => void): number {
  if (r.status >= 200 && r.status < 300) {
    ok(r.json);
    return 0;
  }
  printError(`graphwarden ${command}: ${errorText(r)}`);
  return 1;
}

/**
 * Resolves the admin target from the CLI flags and runs `send` against it; prints configuration and
 * connection failures as `graphwarden COMMAND: …` and returns the exit code.
 */
export async function withAdminTarget(
  command: string,
  flags: { 'admin-url'?: string; 'token-file'?: string },
  send: (target: AdminTarget) => Promise<number>,
  printError: (line: string) => void,
): Promise<number> {
  let target: AdminTarget;
  try {
    target = adminTarget(flags);
  } catch (err) {
    printError(`graphwarden ${command}: ${(err as Error).message}`);
    return 1;
  }
  try {
    return await send(target);
  } catch (err) {
    // undici errors carry a code (ECONNREFUSED, UND_ERR_CONNECT_TIMEOUT, CERT_HAS_EXPIRED...).
    const e = err as { code?: string; message?: string };
    printError(`graphwarden ${command}: cannot reach the admin API: ${e.code ?? e.message ?? String(err)}`);
    return 1;
  }
}
