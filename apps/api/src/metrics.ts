/**
 * `GET /metrics`: Prometheus text, in base units (seconds, bytes). The
 * counters and the close lag histogram live in Redis (every ingester and
 * worker adds to them, see shared status.ts), as do the source's status and
 * each pair's last trade, so they are read at scrape time and any API
 * replica reports the whole deployment. Process metrics, request latency
 * and WebSocket connections are this process's own.
 */
import type { Request, RequestHandler, Response } from 'express';
import { Router } from 'express';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { AUDIT_RESULTS, COUNTERS, auditField, sourceNow, type CandleStore, type Logger, type Period, type SourceStatus, type Stats } from '@candlestack/shared';
import { registerCloseLag } from './close-lag-histogram.js';
import { HEARTBEAT_MAX_AGE_MS } from './readiness.js';
import { methodNotAllowed } from './errors.js';
import { SharedAnswer } from './shared-answer.js';

const PREFIX = 'candlestack_';

export interface Metrics {
  readonly registry: Registry;
  /** Middleware timing every request into the latency histogram. */
  readonly observe: RequestHandler;
  readonly router: Router;
  /** Where `candlestack_ws_connections` reads its figure (the WebSocket server is attached after the app). */
  countWsConnections(count: () => number): void;
}

/** What the per-deployment gauges read besides the counters. */
export interface DeploymentReads {
  readonly store: CandleStore;
  readSourceStatus(): Promise<SourceStatus | undefined>;
}

/** Source states counted as connected by `candlestack_source_connected`. */
const CONNECTED: ReadonlySet<string> = new Set(['connected', 'replaying']);

/**
 * The route pattern a request matched, never its raw URL, so the label's
 * values stay few: `/candles/:pair/:period`, or what a mounted sub-app set in
 * `res.locals.route`, or "unmatched".
 */
export function routeLabel(req: Request, res: Response): string {
  const local = res.locals.route as unknown;
  if (typeof local === 'string') return local;
  const path = (req.route as { path?: unknown } | undefined)?.path;
  return typeof path === 'string' ? path : 'unmatched';
}

/**
 * `maxAgeMs`: how long a scrape's text is given again before it is
 * computed anew (STATUS_MAX_AGE_MS in routes/health.ts): the shared
 * counters cost a pipelined HMGET per pair, so however often /metrics is
 * asked they are read at most once per `maxAgeMs`.
 */
export function createMetrics(stats: Stats, deployment: DeploymentReads, periods: readonly Period[], log: Logger, maxAgeMs = 0): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: PREFIX });

  // One HGETALL per scrape, shared by the collect() of every metric below
  // (the registry runs them concurrently).
  let pending: Promise<Record<string, number> | undefined> | undefined;
  const snapshot = () =>
    (pending ??= stats
      .read()
      .catch((err: unknown) => {
        log.warn({ err: (err as Error).message }, 'metrics: cannot read the shared stats from redis');
        return undefined;
      })
      .finally(() => {
        pending = undefined;
      }));

  new Gauge({
    name: `${PREFIX}stats_up`,
    help: '1 if the shared counters were read from Redis for this scrape, else 0 (the counters then keep their last values)',
    registers: [registry],
    async collect() {
      this.set((await snapshot()) ? 1 : 0);
    },
  });

  for (const [name, help] of Object.entries(COUNTERS)) {
    new Counter({
      name: `${PREFIX}${name}`,
      help,
      registers: [registry],
      async collect() {
        const s = await snapshot();
        if (!s) return;
        // A counter has no set(): reset and add the deployment-wide total.
        this.reset();
        this.inc(s[name] ?? 0);
      },
    });
  }

  new Counter({
    name: `${PREFIX}candles_audited_total`,
    help: "Closed candles compared with the exchange's own for the same bucket (docs/audit.md), by result: equal, differs, or unavailable (the exchange's candles could not be had)",
    labelNames: ['result'],
    registers: [registry],
    async collect() {
      const s = await snapshot();
      if (!s) return;
      this.reset();
      for (const result of AUDIT_RESULTS) this.inc({ result }, s[auditField(result)] ?? 0);
    },
  });

  registerCloseLag(registry, periods, snapshot);

  new Gauge({
    name: `${PREFIX}source_connected`,
    help: "1 while the ingester reports its source connected (a replay: replaying) and its heartbeat is fresh, else 0; per source",
    labelNames: ['source'],
    registers: [registry],
    async collect() {
      this.reset();
      const s = await deployment.readSourceStatus().catch(() => undefined);
      if (!s) return;
      const fresh = Date.now() - s.heartbeat < HEARTBEAT_MAX_AGE_MS;
      this.set({ source: s.source }, fresh && CONNECTED.has(s.state) ? 1 : 0);
    },
  });

  new Gauge({
    name: `${PREFIX}pair_last_trade_age_seconds`,
    help: "Per pair, how long ago (by the source's clock: the wall clock, or a replay's trade time) its latest stored trade happened",
    labelNames: ['pair'],
    registers: [registry],
    async collect() {
      this.reset();
      // One SMEMBERS, then one pipeline whatever the number of pairs (as /pairs).
      const read = async () => {
        const pairs = await deployment.store.pairs();
        const [times, clock] = await Promise.all([deployment.store.lastTradeTimes(pairs), deployment.store.readClock()]);
        return { pairs, times, now: sourceNow(clock) };
      };
      const r = await read().catch((err: unknown) => {
        log.warn({ err: (err as Error).message }, 'metrics: cannot read the last trade times from redis');
        return undefined;
      });
      if (!r || r.now === undefined) return;
      r.pairs.forEach((pair, i) => {
        const t = r.times[i];
        if (t !== undefined) this.set({ pair }, Math.max(0, r.now! - t) / 1000);
      });
    },
  });

  let wsConnections: () => number = () => 0;
  new Gauge({
    name: `${PREFIX}ws_connections`,
    help: 'WebSocket connections open on this API process',
    registers: [registry],
    collect() {
      this.set(wsConnections());
    },
  });

  const latency = new Histogram({
    name: `${PREFIX}http_request_duration_seconds`,
    help: 'HTTP request latency by method, route pattern and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });

  // Per request: a clock reading and one observe() on the labels' child,
  // looked up by one string (prom-client would hash the label object each
  // time). The label values are few (methods, route patterns, statuses).
  const children = new Map<string, { observe(v: number): void }>();
  const observe: RequestHandler = (req, res, next) => {
    const t0 = performance.now();
    res.once('finish', () => {
      const route = routeLabel(req, res);
      const key = `${req.method} ${res.statusCode} ${route}`;
      let child = children.get(key);
      if (!child) {
        child = latency.labels({ method: req.method, route, status: String(res.statusCode) });
        children.set(key, child);
      }
      child.observe((performance.now() - t0) / 1000);
    });
    next();
  };

  const scrapes = new SharedAnswer(() => registry.metrics(), maxAgeMs);
  const router = Router();
  router
    .route('/metrics')
    .get(async (_req, res) => {
      const text = scrapes.peek() ?? (await scrapes.get());
      res.set('Content-Type', registry.contentType).send(text);
    })
    .all(methodNotAllowed('GET, HEAD'));

  return {
    registry,
    observe,
    router,
    countWsConnections: (count) => {
      wsConnections = count;
    },
  };
}
