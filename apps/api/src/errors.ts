/**
 * Every error leaves the API as `{"error":{"code":"...","message":"..."}}`
 * (docs/api.md): routes throw HttpError, anything else thrown becomes a 500
 * (or a 503 while Redis is away) whose body says nothing of the internals.
 */
import type { Duplex } from 'node:stream';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from '@candlestack/shared';

export type ErrorCode =
  | 'bad_request'
  | 'bad_parameter'
  | 'bad_period'
  | 'unknown_pair'
  | 'not_found'
  | 'method_not_allowed'
  | 'unauthorized'
  | 'payload_too_large'
  | 'length_required'
  | 'uri_too_long'
  | 'rate_limited'
  | 'headers_too_large'
  | 'request_timeout'
  | 'forbidden_origin'
  | 'forbidden_host'
  | 'too_many_connections'
  | 'unavailable'
  | 'internal';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    /** Extra response headers, e.g. WWW-Authenticate or Allow. */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

export function errorBody(code: ErrorCode, message: string) {
  return { error: { code, message } };
}

/**
 * Answers with the JSON error body on a raw socket, for the places that
 * have no Express response (a refused WebSocket upgrade, a CONNECT, a
 * request Node's parser refused), and closes it.
 */
export function endWithError(socket: Duplex, status: number, reason: string, code: ErrorCode, message: string): void {
  // Node takes its own error listener off a socket it hands over (upgrade,
  // CONNECT): a peer that resets while we write would be an uncaught error.
  socket.on('error', () => socket.destroy());
  const body = JSON.stringify(errorBody(code, message));
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** The last route: whatever matched nothing. */
export const notFound: RequestHandler = (req) => {
  // A pair written BTC/USDT splits the path in two; say how to write it.
  const hint = req.path.startsWith('/candles/') ? ' (write a pair with "/" as %2F, or as BTC_USDT)' : '';
  throw new HttpError(404, 'not_found', `no such resource: ${req.method} ${req.path}${hint}`);
};

/** For `router.route(path).get(...).all(methodNotAllowed('GET'))`. */
export function methodNotAllowed(allow: string): RequestHandler {
  return (req) => {
    throw new HttpError(405, 'method_not_allowed', `${req.method} is not allowed here: use ${allow}`, { Allow: allow });
  };
}

/**
 * Errors from middleware such as body parsers (http-errors) carry a 4xx
 * `status` and an `expose` flag saying their message is safe to show.
 */
interface ClientError {
  readonly status: number;
  readonly expose?: boolean;
  readonly message: string;
}

function isClientError(err: unknown): err is ClientError {
  const s = (err as { status?: unknown } | null)?.status;
  return typeof s === 'number' && s >= 400 && s < 500;
}

function toHttpError(err: unknown, redisReady: boolean): HttpError {
  if (err instanceof HttpError) return err;
  if (isClientError(err)) {
    if (err.status === 413) return new HttpError(413, 'payload_too_large', 'request body too large');
    return new HttpError(err.status, 'bad_request', err.expose ? err.message : 'bad request');
  }
  // With the command client down, every Redis call fails at once (no
  // offline queue): that is an outage to retry, not a bug.
  if (!redisReady) return new HttpError(503, 'unavailable', 'the data store is unavailable; try again shortly');
  return new HttpError(500, 'internal', 'internal error');
}

export function errorHandler(log: Logger, redisReady: () => boolean): ErrorRequestHandler {
  return (err: unknown, req, res, next) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    const http = toHttpError(err, redisReady());
    const context = { method: req.method, url: req.originalUrl, status: http.status };
    if (http.status === 503) log.warn({ ...context, err: (err as Error).message }, 'request failed: redis unavailable');
    else if (http.status >= 500) log.error({ ...context, err }, 'request failed');
    // For the request log line (request-log.ts).
    res.locals.errorCode = http.code;
    res.status(http.status).set(http.headers).json(errorBody(http.code, http.message));
  };
}
