/**
 * Requests Node's HTTP parser refuses before Express sees them (headers
 * over 16 KiB, an unknown method, a malformed request line, a request too
 * slow to arrive) get the JSON error body too, instead of Node's bare
 * status line. Node's own handler does the same checks before writing.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { endWithError } from '../errors.js';

export function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  const response = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  // A reset peer cannot read an answer; a response already begun cannot get a second one.
  if (err.code === 'ECONNRESET' || !socket.writable || response?.headersSent) {
    socket.destroy();
    return;
  }
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    endWithError(socket, 431, 'Request Header Fields Too Large', 'headers_too_large', 'the request headers are too large');
  } else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    endWithError(socket, 408, 'Request Timeout', 'request_timeout', 'the request took too long to arrive');
  } else {
    endWithError(socket, 400, 'Bad Request', 'bad_request', 'malformed HTTP request');
  }
}

/**
 * CONNECT (a proxy's method) goes to the server's 'connect' event, not to
 * Express; with no listener Node drops the connection without a word.
 */
export function refuseConnect(_req: IncomingMessage, socket: Duplex): void {
  endWithError(socket, 405, 'Method Not Allowed', 'method_not_allowed', 'CONNECT is not allowed: this server is not a proxy');
}
