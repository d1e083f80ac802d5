/**
 * Facts the processes share through Redis so that any API process can report
 * on the whole deployment: counters for /metrics, the source's health and the
 * close jobs' last runs for /readyz.
 */
import { hmgetMany, type RedisClient } from './redis.js';
import type { Keys } from './keys.js';

/** Counters (only ever increase). Field names are the metric names without the `candlestack_` prefix. */
export const COUNTERS = {
  ticks_ingested_total: 'Trades stored (after deduplication)',
  ticks_duplicate_total: 'Trades received again and ignored (same pair and id)',
  ticks_late_total: 'Trades that arrived after their candle closed and revised it',
  ticks_malformed_total: 'Exchange messages or trades set aside as malformed',
  ticks_out_of_window_total:
    "Trades set aside for their time: older than the source's clock minus MAX_LATE, or more than 60 s ahead of the wall clock",
  ticks_poison_total: 'Trades set aside because storing them failed in Redis (a script error on that trade)',
  ticks_dropped_total: 'Trades dropped because the ingest buffer was full while Redis was away',
  dead_letters_failed_total: 'Set-aside input whose dead letter could not be written (it is still counted in its own counter)',
  trades_missed_total: 'Trades known missed: gaps longer than the exchange still lists',
  candles_closed_total: 'Candles closed (all periods)',
  candles_revised_total: 'Closed candles revised by late trades',
  close_jobs_total: 'Close jobs run',
  close_errors_total: "Pairs a close job could not close because the store's script failed on their data (the other pairs are closed)",
} as const;
export type CounterName = keyof typeof COUNTERS;

/**
 * The audit's results (docs/audit.md), each a counter in the `stats` hash
 * under `candles_audited_total:<result>`, reported as
 * `candlestack_candles_audited_total{result="..."}`.
 */
export const AUDIT_RESULTS = ['equal', 'differs', 'unavailable'] as const;
export const auditField = (result: (typeof AUDIT_RESULTS)[number]) => `candles_audited_total:${result}`;

/**
 * Counters the Lua scripts keep in each pair's state hash, in the same
 * atomic step as the data they count; the deployment's total is their sum
 * over pairs plus the `stats` hash.
 */
export const PAIR_COUNTERS = [
  'ticks_ingested_total',
  'ticks_duplicate_total',
  'ticks_late_total',
  'ticks_out_of_window_total',
  'candles_closed_total',
  'candles_revised_total',
] as const satisfies readonly CounterName[];

/**
 * Upper bounds (seconds) of the close lag histogram's buckets
 * (`candlestack_close_lag_seconds`). A healthy close lands just after
 * GRACE_MS (2 s by default); the long ones are a worker catching up.
 */
export const CLOSE_LAG_BUCKETS = [0.5, 1, 2, 2.5, 3, 5, 10, 30, 60, 300] as const;

/**
 * The `stats` hash fields of one period's close lag histogram, every
 * worker adding to them: one count per bucket (not cumulative: the run
 * adds 1 to the one bucket its lag falls in, the last being "+Inf"), the
 * number of runs and the sum of their lags in ms (an integer, so exact).
 */
export function closeLagFields(periodLabel: string): { buckets: string[]; count: string; sumMs: string } {
  return {
    buckets: [...CLOSE_LAG_BUCKETS.map(String), '+Inf'].map((le) => `close_lag_le:${periodLabel}:${le}`),
    count: `close_lag_count:${periodLabel}`,
    sumMs: `close_lag_sum_ms:${periodLabel}`,
  };
}

export type SourceState = 'connecting' | 'connected' | 'disconnected' | 'replaying' | 'done' | 'failed';

/** The ingester's report, refreshed every few seconds while it runs. */
export interface SourceStatus {
  readonly source: string;
  readonly state: SourceState;
  /** Human-readable reason, e.g. why it is disconnected. */
  readonly detail: string;
  /** Wall time (ms) of the last refresh; stale means no ingester is running. */
  readonly heartbeat: number;
  /** Trades known missed (a gap the exchange could not fill). */
  readonly gaps: number;
}

export class Stats {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
  ) {}

  async incr(counts: Partial<Record<CounterName, number>>): Promise<void> {
    const entries = Object.entries(counts).filter(([, n]) => n && n > 0);
    if (entries.length === 0) return;
    const multi = this.redis.multi();
    for (const [name, n] of entries) multi.hincrby(this.keys.stats(), name, n!);
    await multi.exec();
  }

  /**
   * When a period's close job last ran (a gauge), and how long after its
   * bucket's end it closed the newest bucket (`lagMs`, into the deployment's
   * close lag histogram, closeLagFields).
   */
  async closeRun(periodLabel: string, wallTime: number, lagMs: number | undefined): Promise<void> {
    const multi = this.redis.multi().hset(this.keys.stats(), `close_run:${periodLabel}`, wallTime);
    if (lagMs !== undefined) {
      const f = closeLagFields(periodLabel);
      const ms = Math.max(0, Math.round(lagMs));
      const i = CLOSE_LAG_BUCKETS.findIndex((le) => ms <= le * 1000);
      multi
        .hincrby(this.keys.stats(), f.buckets[i === -1 ? CLOSE_LAG_BUCKETS.length : i]!, 1)
        .hincrby(this.keys.stats(), f.count, 1)
        .hincrby(this.keys.stats(), f.sumMs, ms);
    }
    await multi.exec();
  }

  /**
   * The deployment's counters and gauges: the `stats` hash plus each pair's
   * counters (PAIR_COUNTERS), summed. One HMGET per pair, pipelined
   * (hmgetMany): a bounded number of round trips.
   */
  async read(): Promise<Record<string, number>> {
    const [out, pairs] = await Promise.all([this.readOwn(), this.redis.smembers(this.keys.pairs())]);
    const rows = await hmgetMany(
      this.redis,
      pairs.map((p) => this.keys.state(p)),
      PAIR_COUNTERS,
    );
    for (const row of rows) {
      PAIR_COUNTERS.forEach((name, j) => {
        const v = Number(row[j] ?? 0);
        if (v) out[name] = (out[name] ?? 0) + v;
      });
    }
    return out;
  }

  /**
   * The `stats` hash alone: the deployment's own counters and the close
   * jobs' gauges and histograms (close_run, close_lag_*), without the per-pair counters.
   * One call, whatever the number of pairs (what /readyz needs).
   */
  async readOwn(): Promise<Record<string, number>> {
    const h = await this.redis.hgetall(this.keys.stats());
    return Object.fromEntries(Object.entries(h).map(([k, v]) => [k, Number(v)]));
  }

  /**
   * Writes the source's status. An ingester that shares the pairs with
   * others (by lease) gives `ingester`: its id and the pairs it holds; its
   * status is then its own, beside the others', and readSourceStatus()
   * judges them together. Without it, the one status of the deployment.
   */
  async writeSourceStatus(s: Omit<SourceStatus, 'heartbeat'>, ingester?: { readonly id: string; readonly holds: number; readonly now?: number }): Promise<void> {
    const now = ingester?.now ?? Date.now();
    if (!ingester) {
      await this.redis.hset(this.keys.sourceStatus(), { ...s, heartbeat: now });
      return;
    }
    const key = this.keys.sourceStatusOf(ingester.id);
    await this.redis
      .multi()
      .hset(key, { ...s, heartbeat: now, holds: ingester.holds })
      .pexpire(key, REPORT_KEPT_MS)
      .zadd(this.keys.sourceReporters(), now, ingester.id)
      .zremrangebyscore(this.keys.sourceReporters(), '-inf', now - REPORT_KEPT_MS)
      .exec();
  }

  /**
   * The source's status as /readyz and the dashboard show it. With several
   * ingesters sharing the pairs, the status of the ones that report now
   * (heartbeat within HEARTBEAT_FRESH_MS) and hold pairs: the worst of them
   * (failed, then disconnected, then connecting), else a healthy one. An
   * ingester holding no pair (a restarted one waiting for leases) does not
   * make the deployment look down, nor does a healthy one hide another's
   * stale pairs. When none reports now, the latest report (its age says
   * the ingesters are silent).
   */
  async readSourceStatus(now = Date.now()): Promise<SourceStatus | undefined> {
    const [legacy, ids] = await Promise.all([this.redis.hgetall(this.keys.sourceStatus()), this.redis.zrangebyscore(this.keys.sourceReporters(), now - REPORT_KEPT_MS, '+inf')]);
    const rows = ids.length === 0 ? [] : await Promise.all(ids.map((id) => this.redis.hgetall(this.keys.sourceStatusOf(id))));
    const all = [legacy, ...rows].filter((h) => h.state).map((h) => ({ status: parseStatus(h), holds: h.holds === undefined ? undefined : Number(h.holds) }));
    if (all.length === 0) return undefined;
    if (all.length === 1) return all[0]!.status;
    const fresh = all.filter((e) => now - e.status.heartbeat <= HEARTBEAT_FRESH_MS);
    if (fresh.length === 0) return all.reduce((a, b) => (b.status.heartbeat > a.status.heartbeat ? b : a)).status;
    const holding = fresh.filter((e) => e.holds === undefined || e.holds > 0);
    const relevant = holding.length > 0 ? holding : fresh;
    const sev = (e: { status: SourceStatus }) => SEVERITY[e.status.state] ?? 0;
    const worst = relevant.reduce((a, b) => (sev(b) > sev(a) || (sev(b) === sev(a) && b.status.heartbeat > a.status.heartbeat) ? b : a));
    const gaps = fresh.reduce((n, e) => n + e.status.gaps, 0);
    const detail = relevant.length > 1 ? `${worst.status.detail} (${relevant.length} ingesters)` : worst.status.detail;
    return { ...worst.status, detail, gaps };
  }
}

/** How long an ingester's own status is kept after its last write. */
const REPORT_KEPT_MS = 60_000;
/** A report at most this old is current (as /readyz judges the heartbeat). */
const HEARTBEAT_FRESH_MS = 15_000;
/** Which state speaks for several ingesters: the worst. */
const SEVERITY: Partial<Record<string, number>> = { failed: 4, disconnected: 3, connecting: 2, connected: 0, replaying: 0, done: 0 };

function parseStatus(h: Record<string, string>): SourceStatus {
  return {
    source: h.source ?? 'unknown',
    state: h.state as SourceState,
    detail: h.detail ?? '',
    heartbeat: Number(h.heartbeat ?? 0),
    gaps: Number(h.gaps ?? 0),
  };
}
