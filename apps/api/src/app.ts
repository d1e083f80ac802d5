/**
 * The Express app: every HTTP route of docs/api.md, in the order a request
 * meets them. It does no I/O of its own at creation; server.ts makes the
 * clients and the http.Server it runs on.
 */
import compression from 'compression';
import express, { type Express, type RequestHandler } from 'express';
import type { Queue } from 'bullmq';
import type { CandleStore, Logger, RedisClient, Stats } from '@candlestack/shared';
import { boardRouter, type AdminCredentials } from './board.js';
import type { ApiConfig } from './env.js';
import { errorHandler, notFound } from './errors.js';
import { ADMIN_PREFIX, adminDoors } from './guards/admin-doors.js';
import { httpGuards } from './guards/http-guards.js';
import { createMetrics, type Metrics } from './metrics.js';
import { requestLog } from './request-log.js';
import { KnownPairs } from './known-pairs.js';
import { candlesRouter } from './routes/candles.js';
import { healthRouter } from './routes/health.js';
import { pairsRouter } from './routes/pairs.js';
import { tradesRouter } from './routes/trades.js';
import { openApiRouter } from './routes/openapi.js';
import { auditRouter } from './routes/audit.js';
import { deadLetterRouter } from './routes/dead-letter.js';

export interface AppDeps {
  readonly config: ApiConfig;
  /** The command client (fails fast while Redis is away). */
  readonly redis: RedisClient;
  readonly store: CandleStore;
  readonly stats: Stats;
  /** The queues shown on the board. */
  readonly queues: readonly Queue[];
  /** The board's credentials; undefined: open (loopback only, see board.ts). */
  readonly credentials: AdminCredentials | undefined;
  readonly log: Logger;
  /** Wall time the API started (for /readyz). */
  readonly upSince: number;
  readonly startupGraceMs: number;
  /** How long /readyz's and /metrics' answers are given again before they are computed anew. */
  readonly statusMaxAgeMs: number;
  /** The dashboard (`/` and its static files), mounted after the API routes and before the 404. */
  readonly dashboard?: RequestHandler;
}

export function createApp(deps: AppDeps): { app: Express; metrics: Metrics } {
  const { config, log } = deps;
  const periods = config.PERIODS;
  const metrics = createMetrics(deps.stats, { store: deps.store, readSourceStatus: () => deps.stats.readSourceStatus() }, periods, log, deps.statusMaxAgeMs);
  const app = express();
  app.disable('x-powered-by');
  // Plain key=value parsing: a value is a string, or an array when repeated
  // (which the query schemas reject); never nested objects.
  app.set('query parser', 'simple');
  // Unset: Express' default, no proxy trusted (req.ip is the TCP peer).
  if (config.TRUST_PROXY !== undefined) app.set('trust proxy', config.TRUST_PROXY);

  app.use(metrics.observe, requestLog(log));
  // gzip or br as the client accepts, for bodies over 1 KiB: every answer but
  // /candles', which come compressed from their cache (routes/candles.ts).
  // Those skip the middleware altogether: passing over an answer still cost
  // its wrapping of the response, about 15% of a /candles request's CPU.
  const compress = compression();
  app.use((req, res, next) => (req.path.startsWith('/candles/') ? next() : compress(req, res, next)));
  app.use(httpGuards(config, log));
  // One view of the pairs followed, shared by the routes that check a pair.
  const knownPairs = new KnownPairs(deps.store.redis, deps.store.keys);
  // The busiest route first: a request walks the routers in order.
  app.use(candlesRouter(deps.store, periods, config.GRACE_MS, config.MAX_LATE, knownPairs));
  app.use(
    healthRouter({
      redis: deps.redis,
      keys: deps.store.keys,
      stats: deps.stats,
      periods,
      graceMs: config.GRACE_MS,
      upSince: deps.upSince,
      startupGraceMs: deps.startupGraceMs,
      log,
      maxAgeMs: deps.statusMaxAgeMs,
    }),
  );
  app.use(metrics.router);
  app.use(tradesRouter(deps.store, knownPairs));
  app.use(pairsRouter(deps.store, deps.stats, periods));
  app.use(openApiRouter(periods));
  // Before the board and the dead-letter route: other sites' requests never reach them.
  app.use(ADMIN_PREFIX, adminDoors(deps.credentials === undefined));
  app.use(boardRouter(deps.queues, deps.credentials, log.child({ component: 'board' }), () => deps.redis.status === 'ready'));
  app.use(deadLetterRouter(deps.redis, deps.store.keys, deps.credentials));
  app.use(auditRouter(deps.redis, deps.store.keys, deps.credentials));
  if (deps.dashboard) app.use(deps.dashboard);

  app.use(notFound);
  app.use(errorHandler(log, () => deps.redis.status === 'ready'));
  return { app, metrics };
}
