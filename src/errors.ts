/**
 * The closed set of graphwarden error codes: each maps to one HTTP status and the
 * Graph error code an SDK branches on. Owns the Graph error envelope shape; does not
 * decide when an error happens. `docs/errors.md` is kept in sync by a test.
 */

/** Graph error envelope (concepts/errors.md): `{error:{code,message,innerError:{request-id,date}}}`. */
export interface GraphErrorBody {
  error: {
    code: string;
    message: string;
    innerError: {
      'request-id': string;
      date: string;
      'client-request-id'?: string;
      /** graphwarden's own code, so a person reading agent logs knows the proxy answered. */
      'graphwarden-code': ErrorCode;
      [k: string]: unknown;
    };
  };
}

interface ErrorSpec {
  status: number;
  /** The top-level Graph `error.code` an SDK sees. */
  graphCode: string;
  /** What a user reads in docs/errors.md. */
  description: string;
}

export const ERRORS = {
  GW_ERR_TOKEN_MISSING: { status: 401, graphCode: 'InvalidAuthenticationToken', description: 'No bearer token in the Authorization header.' },
  GW_ERR_TOKEN_MALFORMED: { status: 401, graphCode: 'InvalidAuthenticationToken', description: 'The bearer token is not a well-formed JWS compact token.' },
  GW_ERR_TOKEN_SIGNATURE: { status: 401, graphCode: 'InvalidAuthenticationToken', description: 'The token signature does not verify against the tenant signing keys (including the Graph nonce rule), or its algorithm is not RS256.' },
  GW_ERR_TOKEN_UNKNOWN_KEY: { status: 401, graphCode: 'InvalidAuthenticationToken', description: 'The token names a signing key (kid) the tenant does not publish, even after a JWKS refresh.' },
  GW_ERR_TOKEN_EXPIRED: { status: 401, graphCode: 'InvalidAuthenticationToken', description: 'The token has expired (exp is past, beyond the allowed clock skew).' },
  GW_ERR_TOKEN_NOT_YET_VALID: { status: 401, graphCode: 'InvalidAuthenticationToken', description: 'The token is not yet valid (nbf is in the future, beyond the allowed clock skew).' },
  GW_ERR_TOKEN_AUDIENCE: { status: 401, graphCode: 'InvalidAuthenticationToken', description: 'The token audience is not Microsoft Graph.' },
  GW_ERR_TOKEN_ISSUER: { status: 401, graphCode: 'InvalidAuthenticationToken', description: 'The token issuer does not match its tenant, or the tid claim is missing or not a GUID.' },
  GW_ERR_TOKEN_TENANT: { status: 401, graphCode: 'InvalidAuthenticationToken', description: 'The token tenant is not in the allowed tenants list.' },
  GW_ERR_TOKEN_CLAIMS: { status: 401, graphCode: 'InvalidAuthenticationToken', description: 'Required claims (appid/azp, oid, roles or scp) are missing or malformed.' },
  GW_ERR_KEYS_UNAVAILABLE: { status: 503, graphCode: 'serviceNotAvailable', description: 'The tenant signing keys could not be fetched; the call is refused (fail closed).' },
  GW_ERR_REQUEST_INVALID: { status: 400, graphCode: 'BadRequest', description: 'The request URL or body cannot be understood safely (encoded slash, dot segment, double encoding, control character, malformed $batch...).' },
  GW_ERR_REQUEST_URI_TOO_LONG: { status: 414, graphCode: 'BadRequest', description: 'The request URL is longer than the configured limit.' },
  GW_ERR_REQUEST_BODY_TOO_LARGE: { status: 413, graphCode: 'RequestEntityTooLarge', description: 'The request body exceeds the configured limit.' },
  GW_ERR_REQUEST_TIMEOUT: { status: 408, graphCode: 'RequestTimeout', description: 'The client did not send its request body in time.' },
  GW_ERR_NOT_FOUND: { status: 404, graphCode: 'ResourceNotFound', description: 'The path is not under a Graph API version (/v1.0 or /beta).' },
  GW_ERR_POLICY_BLOCKED: { status: 403, graphCode: 'GraphwardenPolicyDenied', description: 'A graphwarden policy rule blocked the call. The message names the rule and reason; innerError.request-id is the decision id.' },
  GW_ERR_APPROVAL_DENIED: { status: 403, graphCode: 'GraphwardenApprovalDenied', description: 'A human approver denied the held call.' },
  GW_ERR_APPROVAL_PENDING: { status: 503, graphCode: 'GraphwardenApprovalPending', description: 'The call is held for human approval and the wait ended first; retry after Retry-After seconds.' },
  GW_ERR_UPSTREAM_UNREACHABLE: { status: 502, graphCode: 'BadGateway', description: 'Graph could not be reached (connection refused or reset, TLS failure).' },
  GW_ERR_UPSTREAM_TIMEOUT: { status: 504, graphCode: 'GatewayTimeout', description: 'Graph did not answer within the configured connect or headers timeout.' },
  GW_ERR_UPSTREAM_RESPONSE_INVALID: { status: 502, graphCode: 'BadGateway', description: 'Graph answered in a form graphwarden must decode but cannot (a $batch answer to merge in an unknown or corrupt content-coding).' },
  GW_ERR_UPSTREAM_UNAVAILABLE: { status: 503, graphCode: 'serviceNotAvailable', description: 'graphwarden cannot forward right now (shutting down or overloaded).' },
  GW_ERR_AUDIT_UNAVAILABLE: { status: 503, graphCode: 'serviceNotAvailable', description: 'The audit log could not be written and the configuration says sensitive calls fail closed.' },
  GW_ERR_DIRECTORY_UNAVAILABLE: { status: 503, graphCode: 'serviceNotAvailable', description: 'No directory snapshot is loaded yet (none saved and the first sync has not finished); the call is refused (fail closed).' },
  GW_ERR_INTERNAL: { status: 500, graphCode: 'generalException', description: 'An unexpected graphwarden error; the call was not forwarded.' },
  GW_ERR_POLICY_INVALID: { status: 500, graphCode: 'generalException', description: 'The rules directory does not validate or compile at startup (later invalid changes keep the last good rules instead).' },
  GW_ERR_AUDIT_CORRUPT: { status: 500, graphCode: 'generalException', description: 'The audit log does not continue from its head anchor at startup (truncated or altered); run `graphwarden audit verify`.' },
  GW_ERR_APPROVAL_EXPIRED: { status: 403, graphCode: 'GraphwardenApprovalExpired', description: 'Nobody decided on the held call before its approval request expired (not a denial); calling again asks afresh.' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

export function errorStatus(code: ErrorCode): number {
  return ERRORS[code].status;
}

/** Builds the Graph-shaped error body. `date` is passed in so callers own the clock. */
export function graphErrorBody(
  code: ErrorCode,
  message: string,
  requestId: string,
  date: Date,
  extra: { clientRequestId?: string; [k: string]: unknown } = {},
): GraphErrorBody {
  const { clientRequestId, ...rest } = extra;
  return {
    error: {
      code: ERRORS[code].graphCode,
      message,
      innerError: {
        'request-id': requestId,
        // Graph emits dates without fractional seconds in innerError.date.
        date: date.toISOString().replace(/\.\d{3}Z$/, 'Z'),
        ...(clientRequestId ? { 'client-request-id': clientRequestId } : {}),
        'graphwarden-code': code,
        ...rest,
      },
    },
  };
}

/** A typed error for the few places that must throw (config, startup); request paths return verdicts instead. */
export class GraphwardenError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'GraphwardenError';
    this.code = code;
  }
}
