/**
 * How long a client may take, set on the http.Server (server.ts). Node's
 * defaults let one slow client hold a connection for minutes: a body
 * trickled a byte at a time held one for 312 s (requestTimeout 300 s,
 * checked every 30 s). Nothing here needs long: the API reads no body over
 * 1 KiB, and answers from Redis in milliseconds.
 *
 * A request cut by the first two gets 408 with the JSON error body (see
 * client-error.ts). WebSocket connections are not affected: once upgraded,
 * the socket belongs to the ws library, which turns its timeout off.
 */
import type { Server, ServerOptions } from 'node:http';

export interface HttpTimeouts {
  /** The request line and headers must have arrived within this (ms). Node: 60 s. */
  readonly headersMs: number;
  /** The whole request, body included (ms). Node: 300 s. */
  readonly requestMs: number;
  /** A kept-alive connection waiting for its next request is closed after this (ms). Node: 5 s. */
  readonly keepAliveMs: number;
  /**
   * A socket with no traffic either way for this long is closed (ms), e.g.
   * a client that stopped reading its answer. Node: never.
   */
  readonly idleMs: number;
  /**
   * How often Node looks for requests past the first two limits (ms): a
   * slow request is cut up to this late. Node: 30 s.
   */
  readonly checkEveryMs: number;
}

export const DEFAULT_HTTP_TIMEOUTS: HttpTimeouts = {
  headersMs: 10_000,
  requestMs: 30_000,
  keepAliveMs: 5_000,
  idleMs: 30_000,
  checkEveryMs: 1_000,
};

/** For http.createServer. */
export function timeoutOptions(t: HttpTimeouts): ServerOptions {
  return {
    headersTimeout: t.headersMs,
    requestTimeout: t.requestMs,
    keepAliveTimeout: t.keepAliveMs,
    connectionsCheckingInterval: t.checkEveryMs,
  };
}

/** What createServer's options cannot set. */
export function applyIdleTimeout(server: Server, t: HttpTimeouts): void {
  // With no 'timeout' listener, Node destroys the idle socket itself.
  server.setTimeout(t.idleMs);
}
