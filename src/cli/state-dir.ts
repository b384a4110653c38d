/** Where the CLI finds graphwarden's state directory: --dir, else GRAPHWARDEN_STATE_DIR, else ./state. */
import path from 'node:path';

export const STATE_DIR_HELP = 'state directory (default: $GRAPHWARDEN_STATE_DIR or ./state)';

export function stateDirFrom(dir: string | undefined): string {
  return path.resolve(dir ?? process.env.GRAPHWARDEN_STATE_DIR ?? 'state');
}

/** The audit log lives in `<state>/audit`. */
export function auditDirOf(stateDir: string): string {
  return path.join(stateDir, 'audit');
}
