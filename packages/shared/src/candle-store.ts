/**
 * The candles in Redis, by role: writes (candle-writes.ts, the ingester),
 * closes (candle-closes.ts, the worker) and reads (candle-reads.ts, the API).
 * Each is a thin layer over one Lua script that owns its writes. CandleStore
 * bundles the three for code that needs more than one (tests, tools).
 */
import type { StoredCandle, Tick } from './candle.js';
import { CloseStore, type CloseOptions, type CloseResult } from './candle-closes.js';
import { CandleReader, type PairState, type RangeQuery, type ReadQuery } from './candle-reads.js';
import { TickStore, type AddOptions, type AddResult } from './candle-writes.js';
import type { SourceClock } from './clock.js';
import type { Keys } from './keys.js';
import type { PeriodPlan } from './period.js';
import type { RedisClient } from './redis.js';

export * from './candle-closes.js';
export * from './candle-reads.js';
export * from './candle-writes.js';

export interface StoreOptions {
  /** TICK_RETENTION (default 24 h). */
  readonly tickRetentionMs?: number;
  /** MAX_LATE (default 24 h). */
  readonly maxLateMs?: number;
  /** CANDLE_RETENTION (default: keep all). */
  readonly candleRetention?: ReadonlyMap<number, number>;
}

export class CandleStore {
  readonly writes: TickStore;
  readonly closes: CloseStore;
  readonly reads: CandleReader;

  constructor(
    readonly redis: RedisClient,
    readonly keys: Keys,
    readonly plan: PeriodPlan,
    readonly opts: StoreOptions = {},
  ) {
    this.writes = new TickStore(redis, keys, plan, {
      tickRetentionMs: opts.tickRetentionMs ?? 86_400_000,
      maxLateMs: opts.maxLateMs ?? 86_400_000,
    });
    this.closes = new CloseStore(redis, keys, plan);
    this.reads = new CandleReader(redis, keys, plan, opts.candleRetention);
  }

  addTicks(pair: string, ticks: readonly Tick[], opts?: AddOptions): Promise<AddResult> {
    return this.writes.addTicks(pair, ticks, opts);
  }
  closePair(pair: string, limits: ReadonlyMap<number, number | undefined>, opts?: CloseOptions): Promise<CloseResult> {
    return this.closes.closePair(pair, limits, { retention: this.opts.candleRetention, ...opts });
  }
  read(pair: string, periodMs: number, q: ReadQuery): Promise<string> {
    return this.reads.read(pair, periodMs, q);
  }
  closedCandles(pair: string, periodMs: number, q: RangeQuery): Promise<StoredCandle[]> {
    return this.reads.closedCandles(pair, periodMs, q);
  }
  formingCandles(pair: string, periodMs: number, clock?: SourceClock): Promise<StoredCandle[]> {
    return this.reads.formingCandles(pair, periodMs, clock);
  }
  state(pair: string): Promise<PairState> {
    return this.reads.state(pair);
  }
  pairs(): Promise<string[]> {
    return this.reads.pairs();
  }
  lastTradeTimes(pairs: readonly string[]): Promise<(number | undefined)[]> {
    return this.reads.lastTradeTimes(pairs);
  }
  readClock(): Promise<SourceClock> {
    return this.reads.readClock();
  }
  latestTrade(pair: string): Promise<{ id?: string; time?: number } | undefined> {
    return this.writes.latestTrade(pair);
  }
  registerPairs(pairs: readonly string[]): Promise<void> {
    return this.writes.registerPairs(pairs);
  }
  announceTicks(pairs: readonly string[]): Promise<void> {
    return this.writes.announceTicks(pairs);
  }
}
