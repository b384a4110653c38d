/**
 * Turns graphwarden's own answers into HTTP responses shaped like Graph's, so SDK
 * error handling works unchanged (concepts/errors.md envelope, request-id headers).
 */
import type { ServerResponse } from 'node:http';
import { ERRORS, graphErrorBody, type ErrorCode } from '../errors.js';

export interface LocalReplyContext {
  requestId: string;
  clientRequestId?: string;
  date: Date;
}

// What Graph itself sends with a 401 (resource = Microsoft Graph's app id).
const WWW_AUTHENTICATE =
  'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"';

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

export function sendError(
  res: ServerResponse,
  code: ErrorCode,
  message: string,
  ctx: LocalReplyContext,
  opts: { headers?: Record<string, string>; extra?: Record<string, unknown>; closeConnection?: boolean } = {},
): number {
  const status = ERRORS[code].status;
  const headers: Record<string, string> = {
    'request-id': ctx.requestId,
    'x-graphwarden-request-id': ctx.requestId,
    ...(ctx.clientRequestId ? { 'client-request-id': ctx.clientRequestId } : {}),
    ...(status === 401 ? { 'www-authenticate': WWW_AUTHENTICATE } : {}),
    ...(opts.closeConnection ? { connection: 'close' } : {}),
    ...opts.headers,
  };
  sendJson(res, status, graphErrorBody(code, message, ctx.requestId, ctx.date, { clientRequestId: ctx.clientRequestId, ...opts.extra }), headers);
  return status;
}
