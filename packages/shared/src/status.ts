/**
 * Facts the processes share through Redis so that any API process can report
 * on the whole deployment: counters for /metrics, the source's health and the
 * close jobs' last runs for /readyz.
 */
import type { RedisClient } from './candle-store.js';
import type { Keys } from './keys.js';

/** Counters (only ever increase). Field names are the metric names without the `candlestack_` prefix. */
export const COUNTERS = {
  ticks_ingested_total: 'Trades stored (after deduplication)',
  ticks_duplicate_total: 'Trades received again and ignored (same pair and id)',
  ticks_late_total: 'Trades that arrived after their candle closed and revised it',
  ticks_malformed_total: 'Exchange messages or trades set aside as malformed',
  ticks_dropped_total: 'Trades dropped because the ingest buffer was full while Redis was away',
  trades_missed_total: 'Trades known missed: gaps longer than the exchange still lists',
  candles_closed_total: 'Candles closed (all periods)',
  candles_revised_total: 'Closed candles revised by late trades',
  close_jobs_total: 'Close jobs run',
} as const;
export type CounterName = keyof typeof COUNTERS;

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

  async read(): Promise<Record<string, number>> {
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
