/**
 * Runs once before any test worker starts: makes a throwaway local CA and a server
 * certificate for loopback, and makes every worker trust that CA through
 * NODE_EXTRA_CA_CERTS (read by Node at process start, so it must be set before the
 * forked workers spawn). Tests find the files through GW_TEST_PKI_DIR.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { writeLocalPki, CERT_FILES } from '../../src/certs/index.js';

let dir: string | undefined;

export async function setup(): Promise<void> {
  dir = await mkdtemp(path.join(os.tmpdir(), 'gw-test-pki-'));
  await writeLocalPki(dir);
  process.env.GW_TEST_PKI_DIR = dir;
  process.env.NODE_EXTRA_CA_CERTS = path.join(dir, CERT_FILES.caCert);
}

export async function teardown(): Promise<void> {
  if (dir) await rm(dir, { recursive: true, force: true });
}
