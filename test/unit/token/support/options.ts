/** Verifier options pointing at a FakeAuthority, with test-friendly defaults. */
import { TOKEN_DEFAULTS, type TokenVerifierOptions } from '../../../../src/token/index.js';
import type { FakeAuthority } from './authority.js';

export function verifierOptions(auth: FakeAuthority, allowedTenants: string[], over: Partial<TokenVerifierOptions> = {}): TokenVerifierOptions {
  return {
    ...TOKEN_DEFAULTS,
    audiences: [...TOKEN_DEFAULTS.audiences],
    authorityHost: auth.base,
    allowedTenants,
    fetchTimeoutMs: 5_000,
    ...over,
  };
}
