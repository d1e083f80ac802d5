/**
 * What every HTTP request goes through before a route (see issue "Doors to
 * close"): security headers first, so that every answer has them, errors
 * included; then the limits on a request's shape and size (cheap, and a
 * refused request goes no further), CORS, and the rate limit.
 */
import type { RequestHandler } from 'express';
import type { Logger } from '@candlestack/shared';
import type { ApiConfig } from '../env.js';
import { cors } from './cors.js';
import { securityHeaders } from './headers.js';
import { rateLimiter } from './rate-limit.js';
import { requestLimits } from './request-limits.js';

export function httpGuards(config: ApiConfig, log: Logger): RequestHandler[] {
  return [securityHeaders, requestLimits, cors(config.CORS_ORIGINS), rateLimiter(config.RATE_LIMIT, log.child({ component: 'rate-limit' }))];
}
