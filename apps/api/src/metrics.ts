/**
 * `GET /metrics`: Prometheus text. The counters and close lags live in Redis
 * (every ingester and worker adds to them, see shared status.ts), so they
 * are read at scrape time and any API replica reports the whole deployment.
 * Process metrics and request latency are this process's own.
 */
import type { Request, RequestHandler, Response } from 'express';
import { Router } from 'express';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { COUNTERS, type Logger, type Period, type Stats } from '@candlestack/shared';
import { methodNotAllowed } from './errors.js';
import { SharedAnswer } from './shared-answer.js';

const PREFIX = 'candlestack_';

export interface Metrics {
  readonly registry: Registry;
  /** Middleware timing every request into the latency histogram. */
  readonly observe: RequestHandler;
  readonly router: Router;
}

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
export function createMetrics(stats: Stats, periods: readonly Period[], log: Logger, maxAgeMs = 0): Metrics {
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

  new Gauge({
    name: `${PREFIX}close_lag_ms`,
    help: "How long after its bucket's end the latest close job of a period closed it (ms)",
    labelNames: ['period'],
    registers: [registry],
    async collect() {
      const s = await snapshot();
      if (!s) return;
      this.reset();
      for (const p of periods) {
        const lag = s[`close_lag_ms:${p.label}`];
        if (lag !== undefined) this.set({ period: p.label }, lag);
      }
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

  return { registry, observe, router };
}
