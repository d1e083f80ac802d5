/**
 * One debug line per request once it is answered, naming the client as the
 * rate limit counts it (req.ip, see TRUST_PROXY). Headers are never logged
 * (Authorization carries the board's password).
 */
import type { RequestHandler } from 'express';
import type { Logger } from '@candlestack/shared';
import { routeLabel } from './metrics.js';

export function requestLog(log: Logger): RequestHandler {
  return (req, res, next) => {
    if (!log.isLevelEnabled('debug')) {
      next();
      return;
    }
    const t0 = performance.now();
    res.on('finish', () => {
      log.debug(
        {
          method: req.method,
          url: req.originalUrl,
          // The client (TRUST_PROXY: read through the trusted proxies).
          ip: req.ip,
          route: routeLabel(req, res),
          status: res.statusCode,
          code: res.locals.errorCode as string | undefined,
          ms: Math.round((performance.now() - t0) * 10) / 10,
        },
        'request',
      );
    });
    next();
  };
}
