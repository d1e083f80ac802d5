/**
 * The candle fold: pure functions, no I/O. The Lua scripts in `lua/` apply
 * the same rules inside Redis (one tick at a time, atomically); these are the
 * reference they are tested against, and what the API uses to assemble the
 * forming candle of a long period from shorter ones.
 *
 * The rules are Binance's klines (README, "Coming from Binance or ccxt"): open is the first trade of
 * the bucket and close the last, by trade time then trade id; a bucket with
 * no trade after the pair's first is flat at the previous close.
 */
import * as D from './decimal.js';

export type Side = 'buy' | 'sell';

/** One trade, as every source delivers it once validated. */
export interface Tick {
  /** Canonical pair, e.g. "BTC_USDT". */
  readonly pair: string;
  /** Trade time: ms since the epoch, UTC, by the exchange's clock. */
  readonly time: number;
  /** Canonical decimal strings (see decimal.ts). */
  readonly price: string;
  /** Base-currency quantity. */
  readonly quantity: string;
  /** Quote-currency amount: the exchange's figure, or price x quantity. */
  readonly amount: string;
  /** The taker's side, when the exchange says. */
  readonly side?: Side;
  /** Exchange trade id, unique per pair; the deduplication key. */
  readonly id: string;
}

/** A candle as users see it (docs/api.md). */
export interface Candle {
  /** Start of the bucket, ms since the epoch, UTC. */
  readonly time: number;
  readonly open: string;
  readonly high: string;
  readonly low: string;
  readonly close: string;
  /** Base-currency volume. */
  readonly volume: string;
  /** Quote-currency volume. */
  readonly quoteVolume: string;
  readonly trades: number;
  /**
   * Where the candle comes from, when not (only) from trades seen:
   * `exchange` for one imported from the exchange's own history (or rolled
   * up from such alone), `mixed` for a roll-up of both (the period where
   * imported history meets live trades). Absent: built from trades.
   */
  readonly origin?: CandleOrigin;
  readonly closed: boolean;
}

export type CandleOrigin = 'exchange' | 'mixed';

/**
 * A candle as stored: no `closed` flag (the store knows), plus, for candles
 * folded from ticks, the time and id of the opening and closing trades, so a
 * late trade can still become the open or the close.
 */
export interface StoredCandle extends Omit<Candle, 'closed'> {
  readonly ot?: number;
  readonly oi?: string;
  readonly ct?: number;
  readonly ci?: string;
}

const DIGITS = /^\d+$/;

/** Orders trade ids: numerically when both are digit strings, else as text. */
export function compareIds(a: string, b: string): number {
  if (DIGITS.test(a) && DIGITS.test(b)) {
    const x = a.replace(/^0+(?=\d)/, '');
    const y = b.replace(/^0+(?=\d)/, '');
    if (x.length !== y.length) return x.length < y.length ? -1 : 1;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Trade order within a bucket: by time, then id. */
export function compareTrades(
  a: { readonly time: number; readonly id: string },
  b: { readonly time: number; readonly id: string },
): number {
  return a.time !== b.time ? (a.time < b.time ? -1 : 1) : compareIds(a.id, b.id);
}

/** Folds one tick into the candle of its bucket (`time` is the bucket start). */
export function applyTick(c: StoredCandle | undefined, t: Tick, time: number): StoredCandle {
  if (!c || c.trades === 0) {
    return {
      time,
      open: t.price,
      high: t.price,
      low: t.price,
      close: t.price,
      volume: t.quantity,
      quoteVolume: t.amount,
      trades: 1,
      ot: t.time,
      oi: t.id,
      ct: t.time,
      ci: t.id,
    };
  }
  const first = compareTrades(t, { time: c.ot!, id: c.oi! }) < 0;
  const last = compareTrades(t, { time: c.ct!, id: c.ci! }) > 0;
  return {
    time,
    open: first ? t.price : c.open,
    high: D.max(c.high, t.price),
    low: D.min(c.low, t.price),
    close: last ? t.price : c.close,
    volume: D.add(c.volume, t.quantity),
    quoteVolume: D.add(c.quoteVolume, t.amount),
    trades: c.trades + 1,
    ot: first ? t.time : c.ot,
    oi: first ? t.id : c.oi,
    ct: last ? t.time : c.ct,
    ci: last ? t.id : c.ci,
  };
}

/** A bucket with no trade: every price at the previous close. */
export function flatCandle(time: number, price: string): StoredCandle {
  return { time, open: price, high: price, low: price, close: price, volume: '0', quoteVolume: '0', trades: 0 };
}

/**
 * Rolls consecutive candles (oldest first, all inside one bucket starting at
 * `time`) up into the candle of that bucket. Flat parts count only for their
 * price when every part is flat.
 */
export function rollUp(time: number, parts: readonly StoredCandle[]): StoredCandle {
  const traded = parts.filter((p) => p.trades > 0);
  const first = traded[0];
  const last = traded[traded.length - 1];
  if (!first || !last) {
    const p = parts[0];
    if (!p) throw new Error(`rollUp of bucket ${time} with no parts`);
    return flatCandle(time, p.open);
  }
  let { high, low } = first;
  for (const p of traded) {
    high = D.max(high, p.high);
    low = D.min(low, p.low);
  }
  const imported = traded.some((p) => p.origin !== undefined);
  const built = traded.some((p) => p.origin !== 'exchange');
  return {
    time,
    open: first.open,
    high,
    low,
    close: last.close,
    volume: D.sum(traded.map((p) => p.volume)),
    quoteVolume: D.sum(traded.map((p) => p.quoteVolume)),
    trades: traded.reduce((n, p) => n + p.trades, 0),
    ...(imported && { origin: built ? 'mixed' : 'exchange' }),
  };
}

/** The public form of a stored candle. */
export function toCandle(c: StoredCandle, closed: boolean): Candle {
  return {
    time: c.time,
    open: c.open,
    high: c.high,
    low: c.low,
    close: c.close,
    volume: c.volume,
    quoteVolume: c.quoteVolume,
    trades: c.trades,
    ...(c.origin !== undefined && { origin: c.origin }),
    closed,
  };
}

/**
 * Reference: every candle of period `ms` for one pair's ticks, flat ones
 * included, from the first traded bucket through `through` (a bucket start;
 * default: the last traded bucket). Used by tests and benchmarks.
 */
export function candlesFromTicks(ticks: readonly Tick[], ms: number, through?: number): StoredCandle[] {
  const buckets = new Map<number, StoredCandle>();
  for (const t of ticks) {
    const b = Math.floor(t.time / ms) * ms;
    buckets.set(b, applyTick(buckets.get(b), t, b));
  }
  const starts = [...buckets.keys()].sort((a, b) => a - b);
  const firstStart = starts[0];
  if (firstStart === undefined) return [];
  const end = through ?? starts[starts.length - 1]!;
  const out: StoredCandle[] = [];
  let prev: StoredCandle | undefined;
  for (let b = firstStart; b <= end; b += ms) {
    const c = buckets.get(b) ?? flatCandle(b, prev!.close);
    out.push(c);
    prev = c;
  }
  return out;
}
