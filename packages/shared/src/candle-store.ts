/**
 * The candles in Redis: the thin layer between the apps and the Lua scripts
 * that own every write. The ingester adds ticks, the worker closes buckets,
 * the API reads closed candles and assembles the forming ones.
 */
import type { Cluster, Redis } from 'ioredis';
import { compareIds, rollUp, flatCandle, type StoredCandle, type Tick } from './candle.js';
import { clockFromHash, closeLimits, sourceNow, type SourceClock } from './clock.js';
import type { LiveEvent } from './events.js';
import type { Keys } from './keys.js';
import type { PeriodPlan } from './period.js';
import { defineScripts } from './scripts.js';

export type RedisClient = Redis | Cluster;

export interface AddResult {
  readonly added: number;
  readonly duplicates: number;
  /** Trades whose candle had already closed: it was revised. */
  readonly late: number;
}

export interface CandleEvent {
  readonly pair: string;
  readonly periodMs: number;
  readonly kind: 'closed' | 'revised';
  readonly candle: StoredCandle;
}

export interface CloseResult {
  readonly closed: number;
  readonly revised: number;
  /** The candles closed or revised (capped per script call; counts are exact). */
  readonly events: CandleEvent[];
}

/** What the store knows of a pair. */
export interface PairState {
  /** Start of the first base bucket with a trade. */
  readonly first?: number;
  /** Time of the latest trade (ms). */
  readonly lastTradeTime?: number;
  /** Per period (ms): start of the last closed bucket. */
  readonly closedThrough: ReadonlyMap<number, number>;
}

export interface RangeQuery {
  /** Inclusive bucket start (ms). */
  readonly from?: number;
  /** Exclusive bucket start (ms). */
  readonly to?: number;
  readonly limit: number;
}

const num = (s: string | undefined): number | undefined => {
  if (s === undefined || s === '') return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? n : undefined;
};

export class CandleStore {
  constructor(
    readonly redis: RedisClient,
    readonly keys: Keys,
    readonly plan: PeriodPlan,
    /** TICK_RETENTION: how long ticks and trade ids stay (trimmed as ticks are added). */
    readonly retentionMs = 86_400_000,
  ) {
    defineScripts(redis);
  }

  /** Stores one pair's trades once each and folds them into their base candles. */
  async addTicks(pair: string, ticks: readonly Tick[]): Promise<AddResult> {
    if (ticks.length === 0) return { added: 0, duplicates: 0, late: 0 };
    const args: (string | number)[] = [];
    for (const t of ticks) args.push(t.time, t.price, t.quantity, t.amount, t.side ?? '', t.id);
    const k = this.keys;
    const [added, duplicates, late] = await this.redis.addTicks(
      k.ticks(pair),
      k.ids(pair),
      k.state(pair),
      k.forming(pair),
      k.candles(pair, this.plan.baseMs),
      k.revised(pair),
      this.plan.baseMs,
      this.retentionMs,
      ...args,
    );
    return { added, duplicates, late };
  }

  /**
   * Closes every bucket of the pair that may close under `limits` (see
   * clock.ts), re-rolls revised ones, in script calls of at most `budget`
   * candles so a long catch-up never blocks Redis for long.
   */
  async closePair(
    pair: string,
    limits: ReadonlyMap<number, number | undefined>,
    budget = 2000,
  ): Promise<CloseResult> {
    const k = this.keys;
    const keys = [k.state(pair), k.forming(pair), k.revised(pair), ...this.plan.chain.map((c) => k.candles(pair, c.ms))];
    const args: (string | number)[] = [this.plan.chain.length, budget];
    for (const c of this.plan.chain) args.push(c.ms, c.sourceMs ?? 0, limits.get(c.ms) ?? '');
    let closed = 0;
    let revised = 0;
    const events: CandleEvent[] = [];
    for (;;) {
      const r = await this.redis.closePair(keys.length, ...keys, ...args);
      closed += Number(r[0]);
      revised += Number(r[1]);
      for (let i = 3; i + 2 < r.length; i += 3) {
        events.push({
          pair,
          periodMs: Number(r[i]),
          kind: r[i + 1] === 'revised' ? 'revised' : 'closed',
          candle: JSON.parse(String(r[i + 2])) as StoredCandle,
        });
      }
      if (Number(r[2]) !== 1) break;
    }
    return { closed, revised, events };
  }

  /**
   * The newest trade stored for the pair, for a live source resuming after a
   * restart: the highest id among the `scan` ids stored last (the ids are
   * scored by arrival, and sources hand trades over roughly in id order) and
   * the time of the pair's latest trade. Undefined when nothing is stored
   * (or all of it is older than the tick retention).
   */
  async latestTrade(pair: string, scan = 1000): Promise<{ id?: string; time?: number } | undefined> {
    const [ids, lt] = await Promise.all([
      this.redis.zrevrange(this.keys.ids(pair), 0, scan - 1),
      this.redis.hget(this.keys.state(pair), 'lt'),
    ]);
    let id: string | undefined;
    for (const x of ids) if (id === undefined || compareIds(x, id) > 0) id = x;
    const time = num(lt ?? undefined);
    if (id === undefined && time === undefined) return undefined;
    return { ...(id !== undefined && { id }), ...(time !== undefined && { time }) };
  }

  async state(pair: string): Promise<PairState> {
    return parseState(await this.redis.hgetall(this.keys.state(pair)));
  }

  /** Closed candles of one period, oldest first: the first `limit` from `from`, else the newest `limit`. */
  async closedCandles(pair: string, periodMs: number, q: RangeQuery): Promise<StoredCandle[]> {
    const key = this.keys.candles(pair, periodMs);
    const max = q.to === undefined ? '+inf' : `(${q.to}`;
    if (q.from !== undefined) {
      const raw = await this.redis.zrangebyscore(key, q.from, max, 'LIMIT', 0, q.limit);
      return raw.map((m) => JSON.parse(m) as StoredCandle);
    }
    const raw = await this.redis.zrevrangebyscore(key, max, '-inf', 'LIMIT', 0, q.limit);
    return raw.reverse().map((m) => JSON.parse(m) as StoredCandle);
  }

  /**
   * The candles of a period not closed yet, oldest first: normally one (the
   * bucket now forming), two during the grace time after a bucket's end.
   * Assembled from the closed candles of the shorter periods it is rolled up
   * from and the base buckets still forming, so it never re-reads ticks.
   */
  async formingCandles(pair: string, periodMs: number, clock?: SourceClock): Promise<StoredCandle[]> {
    const [stateHash, formingHash, clockHash] = await Promise.all([
      this.redis.hgetall(this.keys.state(pair)),
      this.redis.hgetall(this.keys.forming(pair)),
      clock ? Promise.resolve(undefined) : this.redis.hgetall(this.keys.clock()),
    ]);
    const clk = clock ?? clockFromHash(clockHash ?? {});
    const state = parseState(stateHash);
    if (state.first === undefined) return [];
    const now = sourceNow(clk);
    const forming = new Map<number, StoredCandle>();
    for (const [b, json] of Object.entries(formingHash)) forming.set(Number(b), JSON.parse(json) as StoredCandle);
    const newestForming = Math.max(...forming.keys(), now ?? -Infinity);
    if (!Number.isFinite(newestForming)) return [];

    // Walk the chain from the base up to the period asked for.
    const path: { ms: number; sourceMs: number | null }[] = [];
    for (let ms: number | null = periodMs; ms !== null; ) {
      const step = this.plan.chain.find((c) => c.ms === ms);
      if (!step) throw new Error(`period ${periodMs} ms is not built`);
      path.unshift(step);
      ms = step.sourceMs;
    }
    const unclosedStart = (ms: number) => {
      const c = state.closedThrough.get(ms);
      return c !== undefined ? c + ms : Math.floor(state.first! / ms) * ms;
    };

    // Base: forming buckets, flat ones at the running close in between.
    const base = path[0]!;
    let price = stateHash.last;
    let below: StoredCandle[] = [];
    const end = Math.floor(newestForming / base.ms) * base.ms;
    for (let b = unclosedStart(base.ms); b <= end; b += base.ms) {
      const c = forming.get(b) ?? (price !== undefined ? flatCandle(b, price) : undefined);
      if (!c) continue;
      below.push(c);
      price = c.close;
    }

    for (const step of path.slice(1)) {
      const ms = step.ms;
      const src = step.sourceMs!;
      const start = unclosedStart(ms);
      const srcStart = unclosedStart(src);
      const closedSrc =
        srcStart > start ? await this.closedCandles(pair, src, { from: start, to: srcStart, limit: 100_000 }) : [];
      const parts = [...closedSrc, ...below];
      const out: StoredCandle[] = [];
      for (let b = start; b <= end; b += ms) {
        const inside = parts.filter((p) => p.time >= b && p.time < b + ms);
        if (inside.length > 0) out.push(rollUp(b, inside));
      }
      below = out;
    }
    return below;
  }

  /** Tells the live feeds which pairs just got trades (see events.ts). */
  async announceTicks(pairs: readonly string[]): Promise<void> {
    if (pairs.length === 0) return;
    const event: LiveEvent = { type: 'ticks', pairs };
    await this.redis.publish(this.keys.events(), JSON.stringify(event));
  }

  async pairs(): Promise<string[]> {
    return (await this.redis.smembers(this.keys.pairs())).sort();
  }

  async registerPairs(pairs: readonly string[]): Promise<void> {
    if (pairs.length > 0) await this.redis.sadd(this.keys.pairs(), ...pairs);
  }

  async readClock(): Promise<SourceClock> {
    return clockFromHash(await this.redis.hgetall(this.keys.clock()));
  }

  /** The close limits per period right now, by the source's clock. */
  async limits(graceMs: number): Promise<Map<number, number | undefined>> {
    return closeLimits(this.plan, await this.readClock(), graceMs);
  }
}

function parseState(h: Record<string, string>): PairState {
  const closedThrough = new Map<number, number>();
  for (const [f, v] of Object.entries(h)) {
    if (f.startsWith('c:')) closedThrough.set(Number(f.slice(2)), Number(v));
  }
  return { first: num(h.first), lastTradeTime: num(h.lt), closedThrough };
}
