/**
 * Writing trades: the one call that stores a batch of one pair's trades
 * (lua/add-ticks.lua), and what a source needs to resume after a restart.
 */
import { compareIds, type Tick } from './candle.js';
import { TradeBatch } from './fold.js';
import type { LiveEvent } from './events.js';
import type { Keys } from './keys.js';
import type { PeriodPlan } from './period.js';
import { defineScripts } from './scripts.js';
import type { RedisClient } from './redis.js';

export interface AddOptions {
  /**
   * The source's clock (ms) when the oldest trade of the batch was accepted:
   * the wall clock for a live source, the replay's time for a replay. Trades
   * older than it minus MAX_LATE are refused. Default: the batch's newest
   * trade time (for tools and tests that write recorded trades directly).
   */
  readonly clock?: number;
  /** For a replay: its position after this batch, stored with the trades ("<file>:<pos>"). */
  readonly replayPosition?: string;
}

export interface AddResult {
  readonly added: number;
  readonly duplicates: number;
  /** Trades whose candle had already closed: it was revised. */
  readonly late: number;
  /** Indexes (in the batch) of trades refused as older than the pair's low bound (counted by the script). */
  readonly refused: readonly number[];
}

export interface WriteOptions {
  /** TICK_RETENTION: how long ticks stay in the stream (trimmed as ticks are added). */
  readonly tickRetentionMs: number;
  /** MAX_LATE (README, "Time bounds"). */
  readonly maxLateMs: number;
}

export class TickStore {
  /**
   * The longer periods of the chain, built as the trades come (their
   * candles merged in the same call), from the bucket after the newest
   * candle stored before the first such write (lua/add-ticks.lua).
   */
  private readonly longer: readonly number[];

  constructor(
    readonly redis: RedisClient,
    readonly keys: Keys,
    readonly plan: PeriodPlan,
    readonly opts: WriteOptions,
  ) {
    defineScripts(redis);
    this.longer = plan.chain.slice(1).map((c) => c.ms);
  }

  /**
   * Stores one pair's trades once each, folded into their base candles. The
   * batch is folded here (fold.ts) and checked and written by the script in
   * one atomic call; trades the script finds are not new, or older than the
   * pair's low bound, are dropped and the rest sent again, their count going
   * with that write. A crash at any instant leaves each trade either stored,
   * folded and counted, or not at all.
   */
  addTicks(pair: string, ticks: readonly Tick[], opts: AddOptions = {}): Promise<AddResult> {
    return this.addBatch(pair, TradeBatch.of(ticks, this.plan.baseMs), opts);
  }

  /** addTicks() of trades already folded and packed as they came (the ingester's way). */
  async addBatch(pair: string, batch: TradeBatch, opts: AddOptions = {}): Promise<AddResult> {
    if (batch.count === 0) return { added: 0, duplicates: 0, late: 0, refused: [] };
    const clock = opts.clock ?? batch.maxTime;
    const k = this.keys;
    const longer = this.longer;
    const keys = [k.ticks(pair), k.ids(pair), k.seen(pair), k.state(pair), k.candles(pair, this.plan.baseMs), k.revised(pair), ...longer.map((ms) => k.candles(pair, ms))];
    // Indexes (into the first batch) still to be written; built on a resend only.
    let live: number[] | undefined;
    let duplicates = 0;
    const refused: number[] = [];
    for (;;) {
      const args: (string | number | Buffer)[] = [
        this.plan.baseMs,
        this.opts.tickRetentionMs,
        this.opts.maxLateMs,
        clock,
        opts.replayPosition ?? '',
        duplicates,
        refused.length,
        batch.packed(),
        batch.summary(),
      ];
      batch.encodedCandles(args, longer);
      const r = await this.redis.addTicks(keys.length, ...keys, ...args);
      if (Number(r[0]) !== -1) {
        return { added: Number(r[0]), duplicates, late: Number(r[1]), refused: refused.sort((a, b) => a - b) };
      }
      const ticks = batch.ticks(pair);
      live ??= ticks.map((_, i) => i);
      const drop = new Set<number>();
      for (let j = 1; j + 1 < r.length; j += 2) {
        const i = Number(r[j]);
        drop.add(i);
        if (r[j + 1] === 'r') refused.push(live[i]!);
        else duplicates++;
      }
      live = live.filter((_, i) => !drop.has(i));
      batch = TradeBatch.of(
        ticks.filter((_, i) => !drop.has(i)),
        this.plan.baseMs,
      );
    }
  }

  /**
   * The newest trade stored for the pair, for a live source resuming after a
   * restart: the highest id among the `scan` newest by trade time, and the
   * time of the pair's latest trade. Undefined when nothing is stored.
   */
  async latestTrade(pair: string, scan = 1000): Promise<{ id?: string; time?: number } | undefined> {
    const [ids, ranges, lt] = await Promise.all([
      this.redis.zrevrange(this.keys.ids(pair), 0, scan - 1),
      // Integer ids: the range with the highest id holds the newest.
      this.redis.zrevrange(this.keys.seen(pair), 0, 0),
      this.redis.hget(this.keys.state(pair), 'lt'),
    ]);
    let id: string | undefined;
    for (const x of [...ids, ...ranges.map((m) => m.split(':')[1]!)]) if (id === undefined || compareIds(x, id) > 0) id = x;
    const t = lt === null || lt === '' ? undefined : Number(lt);
    const time = t !== undefined && Number.isFinite(t) ? t : undefined;
    if (id === undefined && time === undefined) return undefined;
    return { ...(id !== undefined && { id }), ...(time !== undefined && { time }) };
  }

  async registerPairs(pairs: readonly string[]): Promise<void> {
    if (pairs.length > 0) await this.redis.sadd(this.keys.pairs(), ...pairs);
  }

  /** Tells the live feeds which pairs just got trades (see events.ts). */
  async announceTicks(pairs: readonly string[]): Promise<void> {
    if (pairs.length === 0) return;
    const event: LiveEvent = { type: 'ticks', pairs };
    await this.redis.publish(this.keys.events(), JSON.stringify(event));
  }
}
