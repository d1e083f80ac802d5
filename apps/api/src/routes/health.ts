/**
 * `GET /healthz`: the process is up (no Redis needed, so a liveness probe
 * never restarts the API for Redis' sake). `GET /readyz`: the data served is
 * kept up to date (rules: readiness.ts); 503 with the reasons otherwise.
 */
import { Router } from 'express';
import type { Keys, Logger, Period, RedisClient, SourceStatus, Stats } from '@candlestack/shared';
import { methodNotAllowed } from '../errors.js';
import { AUDIT_WARN_DIFFERS, AUDIT_WARN_WINDOW_MS, assessReadiness } from '../readiness.js';
import { SharedAnswer } from '../shared-answer.js';

/** Redis answers a PING in well under a millisecond; a second means trouble. */
export const PING_TIMEOUT_MS = 1000;

export interface HealthDeps {
  readonly redis: RedisClient;
  readonly keys: Keys;
  readonly stats: Stats;
  readonly periods: readonly Period[];
  readonly graceMs: number;
  /** Wall time the API started. */
  readonly upSince: number;
  readonly startupGraceMs: number;
  readonly log: Logger;
  /** How long an answer of /readyz is given again before it is computed anew (STATUS_MAX_AGE_MS). */
  readonly maxAgeMs: number;
}

/**
 * /readyz and /metrics are computed at most once a second, however often
 * they are asked (probes of many replicas, a scrape storm): concurrent
 * callers share one computation, later ones within the second its answer.
 */
export const STATUS_MAX_AGE_MS = 1_000;

interface Answer {
  readonly status: number;
  readonly body: unknown;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/**
 * What /readyz says: Redis answers, then the rules of readiness.ts over the
 * source's status and the stats hash (the deployment's own fields: the
 * per-pair counters are not needed, so this costs the same at any number
 * of pairs).
 */
async function assess(deps: HealthDeps): Promise<Answer> {
  const t0 = Date.now();
  let facts: [SourceStatus | undefined, Record<string, number>, number];
  try {
    await withTimeout(deps.redis.ping(), PING_TIMEOUT_MS, 'PING');
    // The audit's differences of the last hour: the stream's IDs are their times; counted no further than the warning needs.
    const recent = deps.redis
      .xrange(deps.keys.auditDifferences(), String(Date.now() - AUDIT_WARN_WINDOW_MS), '+', 'COUNT', AUDIT_WARN_DIFFERS + 1)
      .then((r) => r.length);
    facts = await withTimeout(Promise.all([deps.stats.readSourceStatus(), deps.stats.readOwn(), recent]), PING_TIMEOUT_MS, 'reading status');
  } catch (err) {
    // The error names the Redis address: logged for the operator, kept out of the body.
    deps.log.warn({ err: (err as Error).message }, 'readyz: redis check failed');
    return {
      status: 503,
      body: { status: 'not ready', reasons: ['redis does not answer'], warnings: [], checks: { redis: { ok: false } } },
    };
  }
  const redis = { ok: true, latencyMs: Date.now() - t0 };
  const [source, stats, recentAuditDifferences] = facts;
  const r = assessReadiness({
    now: Date.now(),
    upSince: deps.upSince,
    startupGraceMs: deps.startupGraceMs,
    periods: deps.periods,
    graceMs: deps.graceMs,
    source,
    stats,
    recentAuditDifferences,
  });
  return {
    status: r.ready ? 200 : 503,
    body: {
      status: r.ready ? 'ready' : 'not ready',
      reasons: r.reasons,
      warnings: r.warnings,
      checks: { redis, source: r.source, closeJobs: r.closeJobs },
    },
  };
}

export function healthRouter(deps: HealthDeps): Router {
  const router = Router();
  const readiness = new SharedAnswer(() => assess(deps), deps.maxAgeMs);
  router
    .route('/healthz')
    .get((_req, res) => {
      res.set('Cache-Control', 'no-store').json({ status: 'ok' });
    })
    .all(methodNotAllowed('GET, HEAD'));

  router
    .route('/readyz')
    .get(async (_req, res) => {
      const answer = readiness.peek() ?? (await readiness.get());
      res.set('Cache-Control', 'no-store').status(answer.status).json(answer.body);
    })
    .all(methodNotAllowed('GET, HEAD'));
  return router;
}
