/**
 * Limits on requests. The API reads no request body (the board's few
 * actions send small JSON), so a body over MAX_BODY_BYTES is refused before
 * anyone reads it, and a body of unknown size (chunked) is refused outright:
 * nothing here needs one, and its size would only be known after reading it.
 * Header size is Node's own limit (16 KiB, a 431 from client-error.ts).
 * The Host header HTTP/1.1 requires is checked here rather than by Node
 * (see server.ts), so that its absence too gets the JSON error body.
 */
import type { RequestHandler } from 'express';
import { HttpError } from '../errors.js';

export const MAX_BODY_BYTES = 1024;
/** Far above any real URL here (a candles query is under 200 bytes), far below the header limit. */
export const MAX_URL_BYTES = 8 * 1024;

export const requestLimits: RequestHandler = (req, res, next) => {
  if (req.httpVersion === '1.1' && req.headers.host === undefined) {
    throw new HttpError(400, 'bad_request', 'an HTTP/1.1 request needs a Host header');
  }
  if (Buffer.byteLength(req.originalUrl) > MAX_URL_BYTES) {
    throw new HttpError(414, 'uri_too_long', `the URL is longer than ${MAX_URL_BYTES} bytes`);
  }
  const length = req.headers['content-length'];
  // Node's parser has already checked that Content-Length is digits, and
  // refuses it together with Transfer-Encoding.
  if (length !== undefined ? Number(length) > MAX_BODY_BYTES : req.headers['transfer-encoding'] !== undefined) {
    // Close after answering, rather than read (and drop) a body we refused.
    res.set('Connection', 'close');
    if (length === undefined) throw new HttpError(411, 'length_required', 'a request body needs a Content-Length');
    throw new HttpError(413, 'payload_too_large', `request bodies are limited to ${MAX_BODY_BYTES} bytes`);
  }
  next();
};
