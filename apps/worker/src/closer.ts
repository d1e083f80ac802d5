/**
 * One close run: for every pair, close each bucket that has ended by the
 * source's clock (plus GRACE_MS), re-roll revised ones, publish what changed.
 * Everything it writes goes through the close-pair script, so running it
 * twice, or on two workers at once, gives the same candles. (Ticks are
 * trimmed by the ingester as it adds them: a stalled worker costs no trade.)
 */
import {
  CandleReader,
  CloseStore,
  Keys,
  LogLimiter,
  Stats,
  closeLimits,
  closeShardOf,
  isScriptFault,
  periodLabel,
  toCandle,
  type CandleEvent,
  type CloseShard,
  type LiveEvent,
  type Logger,
  type PeriodPlan,
  type RedisClient,
} from '@candlestack/shared';
import { Cluster } from 'ioredis';

export interface CloseRunResult {
  readonly pairs: number;
  readonly closed: number;
  readonly revised: number;
}

/** Pairs closed at once: enough to hide round trips (ioredis pipelines them), few enough to stay fair to other clients. */
const PARALLEL_PAIRS = 64;

const NOBODY: ReadonlySet<number> = new Set();
/** A run over every period at least this often. */
const WHOLE_EVERY_MS = 60_000;

/** Candles sent one by one per period and pair in one close run; past that, one `gap` event (docs/websocket.md). */
export const EVENTS_PER_PERIOD = 200;

export class Closer {
  private readonly closes: CloseStore;
  private readonly reads: CandleReader;
  private readonly stats: Stats;
  private readonly served: Set<number>;
  /**
   * Per shard ("all" for every pair): the limits of this process's last
   * run, the time of its last run over every period, and whether a pair
   * failed in it. Per shard, since another worker may have run a shard in
   * between: its periods are judged by this process's own last run of it.
   */
  private readonly last = new Map<string, { limits: Map<number, number>; whole: number; failed: boolean }>();
  /** One error line per failing pair at a time, a bounded number in all. */
  private readonly logLimit = new LogLimiter(256, 20, 600_000);

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly plan: PeriodPlan,
    private readonly graceMs: number,
    private readonly log: Logger,
    /** CANDLE_RETENTION: period ms -> ms kept. */
    private readonly retention: ReadonlyMap<number, number> = new Map(),
  ) {
    this.closes = new CloseStore(redis, keys, plan);
    this.reads = new CandleReader(redis, keys, plan);
    this.stats = new Stats(redis, keys);
    this.served = new Set(plan.periods.map((p) => p.ms));
  }

  /**
   * Closes the periods of `periodMs`'s chain (the period and those it is
   * rolled up from), or every period when `periodMs` is undefined, for the
   * pairs of `shard` (every pair when undefined).
   */
  async run(periodMs: number | undefined, progress?: (done: number, total: number) => Promise<void>, shard?: CloseShard): Promise<CloseRunResult> {
    const clock = await this.reads.readClock();
    const wallNow = Date.now();
    const all = closeLimits(this.plan, clock, this.graceMs, wallNow);
    const wanted = periodMs === undefined ? undefined : this.chainOf(periodMs);
    const limits = new Map([...all].map(([ms, lim]) => [ms, wanted && !wanted.has(ms) ? undefined : lim]));
    const pairs = (await this.reads.pairs()).filter((p) => !shard || closeShardOf(p, shard.of) === shard.index);
    const lastKey = shard ? `${shard.index}/${shard.of}` : 'all';
    let last = this.last.get(lastKey);
    if (!last) this.last.set(lastKey, (last = { limits: new Map(), whole: 0, failed: false }));
    // Nobody listens (no API runs): no candle events to build or publish.
    const served = (await this.anyoneListens()) ? this.served : NOBODY;
    // Only the periods whose limit moved since this process's last run (and
    // those they roll up from): a live tick is then one period for most
    // pairs. Every period at start, after a failure, and at least once a
    // minute, so that a pair left behind catches up.
    const moved = new Set<number>();
    for (const [ms, lim] of limits) if (lim !== undefined && last.limits.get(ms) !== lim) moved.add(ms);
    const whole = wanted !== undefined || last.failed || wallNow - last.whole >= WHOLE_EVERY_MS;
    const periods = whole ? undefined : moved;
    let closed = 0;
    let revised = 0;
    let failed = 0;
    let closedAny = false;
    for (let i = 0; i < pairs.length; i += PARALLEL_PAIRS) {
      await Promise.all(
        pairs.slice(i, i + PARALLEL_PAIRS).map(async (pair) => {
          let r;
          try {
            r = await this.closes.closePair(pair, limits, {
              served,
              eventsPerPeriod: EVENTS_PER_PERIOD,
              retention: this.retention,
              ...(periods && { periods }),
            });
          } catch (err) {
            // A pair whose data the script fails on is skipped, counted and
            // logged; the other pairs are closed. (Redis away fails the job,
            // which BullMQ retries.)
            if (!isScriptFault(err)) throw err;
            failed++;
            if (this.logLimit.allow(pair)) this.log.error({ pair, err: (err as Error).message.slice(0, 300) }, `cannot close ${pair}: the store's script fails on its data`);
            return;
          }
          closed += r.closed;
          revised += r.revised;
          if (r.closed > 0) closedAny = true;
          await this.publish(r.events);
        }),
      );
      if (progress && pairs.length > PARALLEL_PAIRS) await progress(Math.min(pairs.length, i + PARALLEL_PAIRS), pairs.length);
    }
    for (const [ms, lim] of limits) if (lim !== undefined) last.limits.set(ms, lim);
    if (whole) last.whole = wallNow;
    last.failed = failed > 0;
    // candles_closed_total and candles_revised_total are counted by the
    // script itself, with the candles.
    await this.stats.incr({ close_jobs_total: 1, close_errors_total: failed });
    // Close lag: how long after its bucket's end the newest bucket this run
    // closed was readable, i.e. now (meaningful on the wall clock only, not
    // for a replay).
    const doneAt = Date.now();
    for (const ms of wanted ?? this.served) {
      if (!this.served.has(ms)) continue;
      const lim = limits.get(ms);
      const lag = closedAny && lim !== undefined && clock.source !== 'replay' ? doneAt - (lim + ms) : undefined;
      await this.stats.closeRun(periodLabel(ms), wallNow, lag);
    }
    return { pairs: pairs.length, closed, revised };
  }

  /**
   * Whether any API process is subscribed to the events channel. On a
   * cluster a node knows only its own subscribers, so there the answer is
   * always yes.
   */
  private async anyoneListens(): Promise<boolean> {
    if (this.redis instanceof Cluster) return true;
    try {
      const r = (await this.redis.pubsub('NUMSUB', this.keys.events())) as [string, number];
      return Number(r[1]) > 0;
    } catch {
      return true;
    }
  }

  /** The period and every period it is rolled up from. */
  private chainOf(periodMs: number): Set<number> {
    const out = new Set<number>();
    for (let ms: number | null = periodMs; ms !== null; ) {
      out.add(ms);
      ms = this.plan.chain.find((c) => c.ms === ms)?.sourceMs ?? null;
    }
    return out;
  }

  /** Closed and revised candles of the periods served, to the live feed. */
  private async publish(events: readonly CandleEvent[]): Promise<void> {
    const msgs = events.filter((e) => this.served.has(e.periodMs));
    if (msgs.length === 0) return;
    // A pipeline, not a MULTI: the messages need no transaction.
    const pipe = this.redis.pipeline();
    for (const e of msgs) {
      const period = periodLabel(e.periodMs);
      const event: LiveEvent =
        e.kind === 'gap'
          ? { type: 'gap', pair: e.pair, period, from: e.from, to: e.to }
          : { type: e.kind, pair: e.pair, period, candle: toCandle(e.candle, true) };
      pipe.publish(this.keys.events(), JSON.stringify(event));
    }
    await pipe.exec();
  }
}
