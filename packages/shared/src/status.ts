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

  /** Gauges: the latest close lag of a period (ms after the bucket's end) and when its job last ran. */
  async closeRun(periodLabel: string, wallTime: number, lagMs: number | undefined): Promise<void> {
    const fields: (string | number)[] = [`close_run:${periodLabel}`, wallTime];
    if (lagMs !== undefined) fields.push(`close_lag_ms:${periodLabel}`, lagMs);
    await this.redis.hset(this.keys.stats(), ...fields);
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
   * jobs' gauges (close_run, close_lag_ms), without the per-pair counters.
   * One call, whatever the number of pairs (what /readyz needs).
   */
  async readOwn(): Promise<Record<string, number>> {
    const h = await this.redis.hgetall(this.keys.stats());
    return Object.fromEntries(Object.entries(h).map(([k, v]) => [k, Number(v)]));
  }

  async writeSourceStatus(s: Omit<SourceStatus, 'heartbeat'>): Promise<void> {
    await this.redis.hset(this.keys.sourceStatus(), { ...s, heartbeat: Date.now() });
  }

  async readSourceStatus(): Promise<SourceStatus | undefined> {
    const h = await this.redis.hgetall(this.keys.sourceStatus());
    if (!h.state) return undefined;
    return {
      source: h.source ?? 'unknown',
      state: h.state as SourceState,
      detail: h.detail ?? '',
      heartbeat: Number(h.heartbeat ?? 0),
      gaps: Number(h.gaps ?? 0),
    };
  }
}
