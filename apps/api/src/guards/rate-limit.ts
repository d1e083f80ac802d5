/**
 * RATE_LIMIT requests per minute per client address (docs/configuration.md), counted in
 * this process's memory: each API process counts on its own, so behind a
 * load balancer over N processes a client may make up to N times the limit.
 * The client is `req.ip`: the TCP peer, unless TRUST_PROXY names the
 * proxies in front (Express' `trust proxy`), in which case it is the
 * address X-Forwarded-For gives before the trusted hops. Untrusted, the
 * header is ignored (anyone can write it), so behind a reverse proxy every
 * client shares the proxy's address and its budget. IPv6 clients are
 * counted per /56, as one host usually holds a whole prefix.
 */
import type { RequestHandler } from 'express';
import { rateLimit } from 'express-rate-limit';
import type { Logger } from '@candlestack/shared';
import { HttpError } from '../errors.js';

const WINDOW_MS = 60_000;

/**
 * Probes are never limited: a liveness or readiness check that got a 429
 * would restart or unroute a healthy API, and a scrape must not leave gaps.
 */
const EXEMPT = new Set(['/healthz', '/readyz', '/metrics']);

export function rateLimiter(limit: number, log: Logger): RequestHandler {
  if (limit === 0) return (_req, _res, next) => next();
  return rateLimit({
    windowMs: WINDOW_MS,
    limit,
    // RateLimit and RateLimit-Policy on every answer; Retry-After on a 429.
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    skip: (req) => EXEMPT.has(req.path),
    handler: (_req, _res, next) => {
      next(new HttpError(429, 'rate_limited', `more than ${limit} requests in a minute from this address; retry after the time in Retry-After`));
    },
    // Its one-time configuration checks, logged like everything else. Without
    // TRUST_PROXY the forwarding headers are ignored on purpose (see above),
    // not by mistake; `trust proxy: true` is refused by the config.
    logger: log,
    validate: { xForwardedForHeader: false, forwardedHeader: false },
  });
}
