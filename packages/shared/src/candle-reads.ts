/**
 * Reading candles: lua/read-candles.lua answers a range of one pair's
 * candles, closed and forming, in one atomic, read-only call; the rest are
 * the small reads the API and the apps need (pairs, a pair's state, the
 * source's clock).
 */
import type { Candle, StoredCandle } from './candle.js';
import { clockFromHash, closeLimits, sourceNow, type SourceClock } from './clock.js';
import type { Keys } from './keys.js';
import type { PeriodPlan } from './period.js';
import { hmgetMany, type RedisClient } from './redis.js';
import { defineScripts } from './scripts.js';
import { unpackTrades, type StoredTrade } from './fold.js';
import { compareTrades } from './candle.js';
import { HISTORY_FIELDS, parseHistory, type PairHistory } from './history.js';

const byTime = (a: StoredTrade, b: StoredTrade) => compareTrades(a, b);
/** What the store knows of a pair. */
export interface PairState {
  /** Start of the first base bucket with a trade. */
  readonly first?: number;
  /** Time of the latest trade (ms). */
  readonly lastTradeTime?: number;
  /** Per period (ms): start of the last closed bucket. */
  readonly closedThrough: ReadonlyMap<number, number>;
  /** The exchange's candles imported on the pair's first start (issue 12); absent: none were. */
  readonly history?: PairHistory;
}

export interface RangeQuery {
  /** Inclusive bucket start (ms). */
  readonly from?: number;
  /** Exclusive bucket start (ms). */
  readonly to?: number;
  readonly limit: number;
}

export interface ReadQuery extends RangeQuery {
  /** Closed candles, the forming ones, or both (closed first). */
  readonly what: 'both' | 'closed' | 'forming';
  /** The source's now (ms): which buckets are forming; undefined: none is. */
  readonly now: number | undefined;
  /**
   * The start of the period's last bucket that may close now (clock.ts
   * closeLimits): a bucket at or before it reads as closed even before the
   * worker stores it. Undefined: only what the worker closed is closed.
   */
  readonly closeLimit?: number;
}

const num = (s: string | null | undefined): number | undefined => {
  if (s === undefined || s === null || s === '') return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? n : undefined;
};

/**
 * `{"time":123,...}`: the bucket of a stored member (encodeStored and the
 * Lua enc() write `time` first, as a whole number), read digit by digit:
 * 100 of them per request, and no string made for any.
 */
function memberTime(m: string): number {
  let t = 0;
  for (let i = 8; i < m.length; i++) {
    const d = m.charCodeAt(i) - 48;
    if (d < 0 || d > 9) break;
    t = t * 10 + d;
  }
  return t;
}

/**
 * The text of lua/read-candles.lua's reply (its end says the layout): the
 * closed range's members in the public form (trade ids cut off, `closed`
 * added, a flat candle at the close before it for a bucket with no member),
 * then the forming ones, `limit` in all: with `from` the first ones, else the
 * newest. Exactly what the script used to write itself.
 */
export function candlesText(reply: readonly (string | number)[], periodMs: number, q: Pick<ReadQuery, 'from' | 'limit'>): string {
  // reply[0] is the version; reply[1] the number of forming candles.
  const k = Number(reply[1]);
  const out: string[] = [];
  if (reply.length > 2 + k) {
    const lo = Number(reply[2 + k]);
    const hi = Number(reply[3 + k]);
    let price = reply[4 + k] === '' ? undefined : String(reply[4 + k]);
    let last: string | undefined;
    let j = 5 + k;
    for (let b = lo; b <= hi; b += periodMs) {
      while (j < reply.length && memberTime(reply[j] as string) < b) j++;
      const m = reply[j] as string | undefined;
      if (m !== undefined && memberTime(m) === b) {
        const ids = m.indexOf(',"ot":');
        out.push(`${m.slice(0, ids < 0 ? -1 : ids)},"closed":true}`);
        last = m;
        price = undefined;
        j++;
      } else {
        if (price === undefined && last !== undefined) price = /"close":"([^"]*)"/.exec(last)?.[1];
        if (price !== undefined) {
          out.push(`{"time":${b},"open":"${price}","high":"${price}","low":"${price}","close":"${price}","volume":"0","quoteVolume":"0","trades":0,"closed":true}`);
        }
      }
    }
  }
  for (let i = 2; i <= k + 1; i++) {
    if (out.length >= q.limit) {
      if (q.from !== undefined) break;
      out.shift();
    }
    out.push(reply[i] as string);
  }
  return out.join(',');
}

/** The candles of a read() text. */
export function parseCandles(text: string): Candle[] {
  return JSON.parse(`[${text}]`) as Candle[];
}

/** The public candle without `closed`, as the stored form the tests compare. */
function stored(candle: Candle): StoredCandle {
  const { closed: _closed, ...c } = candle;
  return c;
}

export class CandleReader {
  /** Per period: the path of periods it is rolled up along, base first. */
  private readonly paths = new Map<number, number[]>();

  constructor(
    readonly redis: RedisClient,
    readonly keys: Keys,
    readonly plan: PeriodPlan,
    /** CANDLE_RETENTION: period ms -> ms kept. */
    readonly retention: ReadonlyMap<number, number> = new Map(),
  ) {
    defineScripts(redis);
    for (const { ms } of plan.chain) {
      const path: number[] = [];
      for (let at: number | null = ms; at !== null; ) {
        path.unshift(at);
        at = plan.chain.find((c) => c.ms === at)?.sourceMs ?? null;
      }
      this.paths.set(ms, path);
    }
  }

  /**
   * One pair's candles of one period in the public form (docs/api.md), oldest
   * first, as JSON texts joined by commas ("" for none): `[${text}]` is the
   * array.
   */
  async read(pair: string, periodMs: number, q: ReadQuery): Promise<string> {
    return (await this.readVersioned(pair, periodMs, q)).text;
  }

  /**
   * read(), with the pair's data version it was read at (state field `v`,
   * moved by every script that writes what a read returns): an answer may
   * be reused, exactly, while version() still gives the same.
   */
  async readVersioned(pair: string, periodMs: number, q: ReadQuery): Promise<{ version: string; text: string }> {
    const path = this.paths.get(periodMs);
    if (!path) throw new Error(`period ${periodMs} ms is not built`);
    const keys = [this.keys.state(pair), ...path.map((ms) => this.keys.candles(pair, ms))];
    const reply = await this.redis.readCandles(
      keys.length,
      ...keys,
      path.length,
      ...path,
      q.now ?? '',
      q.from ?? '',
      q.to ?? '',
      q.limit,
      q.what,
      this.retention.get(periodMs) ?? '',
      q.closeLimit ?? '',
    );
    return { version: String(reply[0]), text: candlesText(reply, periodMs, q) };
  }

  /** The pair's data version now ('' before its first write): see readVersioned. */
  async version(pair: string): Promise<string> {
    return (await this.redis.hget(this.keys.state(pair), 'v')) ?? '';
  }

  /** Closed candles of one period, oldest first: the first `limit` from `from`, else the newest `limit`. */
  async closedCandles(pair: string, periodMs: number, q: RangeQuery): Promise<StoredCandle[]> {
    return parseCandles(await this.read(pair, periodMs, { ...q, what: 'closed', now: undefined })).map(stored);
  }

  /**
   * The candles of a period not closed yet, oldest first: normally one (the
   * bucket now forming), two during the grace time after a bucket's end.
   */
  async formingCandles(pair: string, periodMs: number, clock?: SourceClock): Promise<StoredCandle[]> {
    const now = sourceNow(clock ?? (await this.readClock()));
    if (now === undefined) return [];
    return parseCandles(await this.read(pair, periodMs, { what: 'forming', now, limit: 10 })).map(stored);
  }

  /**
   * The pair's trades still in its stream, oldest first by (time, id): with
   * `from`, the first `limit` at or after it; without, the newest `limit`;
   * `to` exclusive. Each stream entry is a stored batch whose ID is its
   * newest trade time (never going back), so a trade sits in an entry with
   * an ID at or after its own time: the scan starts there and stops a
   * minute past what it has collected. A trade stored more than a minute
   * after its own time (a backfill after a long outage) may be missing from
   * a window it belongs to; the candles always count it.
   */
  /**
   * The pair's retained trades in [from, to), oldest first (by time, then
   * id): with `from` the first `limit` from there, else the newest `limit`.
   *
   * A stream entry holds one batch, under an ID at or after each of its
   * trades, and at most `sl` ms after its oldest (the pair's state records
   * the most it has been: a late trade rides in a later batch). So entries
   * are read in ID order, a chunk per round trip, and the scan stops as soon
   * as no further entry can hold a trade that belongs in the answer. Each
   * chunk is a short command: a long scan never blocks Redis.
   */
  async trades(pair: string, q: RangeQuery): Promise<StoredTrade[]> {
    const key = this.keys.ticks(pair);
    const slack = num(await this.redis.hget(this.keys.state(pair), 'sl')) ?? 0;
    const inWindow = (t: StoredTrade) => (q.from === undefined || t.time >= q.from) && (q.to === undefined || t.time < q.to);
    // Only the best `limit` found so far are kept, sorted, after each chunk:
    // memory is bounded by the request, not by how far the scan goes.
    let found: StoredTrade[] = [];
    const CHUNK = 64;
    const entryMs = (id: string) => Number(id.slice(0, id.indexOf('-')));
    if (q.from !== undefined) {
      // No entry before `from` holds a trade at or after it.
      let start = String(q.from);
      for (;;) {
        const entries = await this.redis.xrange(key, start, '+', 'COUNT', CHUNK);
        for (const [, f] of entries) for (const t of unpackTrades(f[1] ?? '')) if (inWindow(t)) found.push(t);
        found = found.sort(byTime).slice(0, q.limit);
        const last = entries.at(-1);
        if (!last || entries.length < CHUNK) break;
        const lastMs = entryMs(last[0]);
        // Later entries hold trades at or after lastMs - slack.
        if (q.to !== undefined && lastMs - slack >= q.to) break;
        if (found.length === q.limit && lastMs - slack > found[q.limit - 1]!.time) break;
        start = `(${last[0]}`;
      }
      return found;
    }
    // Newest first: an entry holds no trade after its ID, so none at or
    // after `to` + slack holds one before `to`.
    let end = q.to === undefined ? '+' : String(q.to + slack);
    for (;;) {
      const entries = await this.redis.xrevrange(key, end, '-', 'COUNT', CHUNK);
      for (const [, f] of entries) for (const t of unpackTrades(f[1] ?? '')) if (inWindow(t)) found.push(t);
      found = found.sort(byTime).slice(-q.limit);
      const last = entries.at(-1);
      if (!last || entries.length < CHUNK) break;
      // Older entries hold no trade after their ID: none newer than the oldest kept.
      if (found.length === q.limit && entryMs(last[0]) < found[0]!.time) break;
      end = `(${last[0]}`;
    }
    return found;
  }

  async state(pair: string): Promise<PairState> {
    return parseState(await this.redis.hgetall(this.keys.state(pair)));
  }

  /**
   * Each pair's last trade time (ms) and imported history, in the order
   * given: one pipelined HMGET per pair (hmgetMany), as lastTradeTimes.
   */
  async pairSummaries(pairs: readonly string[]): Promise<{ lastTradeTime?: number; history?: PairHistory }[]> {
    const rows = await hmgetMany(
      this.redis,
      pairs.map((p) => this.keys.state(p)),
      ['lt', ...HISTORY_FIELDS],
    );
    return rows.map(([lt, hs, hm, hb, hx]) => {
      const lastTradeTime = num(lt);
      const history = parseHistory(hs, hm, hb, hx);
      return { ...(lastTradeTime !== undefined && { lastTradeTime }), ...(history && { history }) };
    });
  }

  /** Each pair's last trade time (ms), in the order given: one pipelined HMGET per pair (hmgetMany). */
  async lastTradeTimes(pairs: readonly string[]): Promise<(number | undefined)[]> {
    const rows = await hmgetMany(
      this.redis,
      pairs.map((p) => this.keys.state(p)),
      ['lt'],
    );
    return rows.map((row) => num(row[0]));
  }

  async pairs(): Promise<string[]> {
    return (await this.redis.smembers(this.keys.pairs())).sort();
  }

  async readClock(): Promise<SourceClock> {
    return clockFromHash(await this.redis.hgetall(this.keys.clock()));
  }

  /** The close limits per period right now, by the source's clock. */
  async limits(graceMs: number): Promise<Map<number, number | undefined>> {
    return closeLimits(this.plan, await this.readClock(), graceMs);
  }
}

export function parseState(h: Record<string, string>): PairState {
  const closedThrough = new Map<number, number>();
  for (const [f, v] of Object.entries(h)) {
    if (f.startsWith('c:')) closedThrough.set(Number(f.slice(2)), Number(v));
  }
  const history = parseHistory(h.hs, h.hm, h.hb, h.hx);
  return { first: num(h.first), lastTradeTime: num(h.lt), closedThrough, ...(history && { history }) };
}
