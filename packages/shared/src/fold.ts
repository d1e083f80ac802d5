/**
 * The production fold: a batch of one pair's trades folded into one partial
 * candle per base bucket, in the ingester, so the store's script merges one
 * candle per bucket instead of folding every trade (lua/add-ticks.lua). The
 * rules are those of candle.ts's applyTick (the reference the tests compare
 * with): open and close are the first and last trade by (time, id), high and
 * low by value, volumes summed exactly. And the batch packed for the stream.
 */
import { compareTrades, type StoredCandle, type Tick } from './candle.js';
import * as D from './decimal.js';

interface Mutable {
  time: number;
  open: string;
  high: string;
  low: string;
  close: string;
  volume: Sum;
  quoteVolume: Sum;
  trades: number;
  ot: number;
  oi: string;
  ct: number;
  ci: string;
}

/**
 * An exact running sum of decimal strings: integer units at a scale while
 * they fit a double exactly (the common case: no string is built per
 * trade), else the decimal string itself.
 */
class Sum {
  private units = 0;
  private scale = 0;
  private text: string | undefined;

  constructor(first: string) {
    this.add(first);
  }

  add(s: string): void {
    if (this.text === undefined) {
      const dot = s.indexOf('.');
      const scale = dot < 0 ? 0 : s.length - dot - 1;
      const digits = dot < 0 ? s.length : s.length - 1;
      if (digits <= 15 && scale <= 22) {
        const x = dot < 0 ? Number(s) : Number(s.slice(0, dot) + s.slice(dot + 1));
        const to = Math.max(scale, this.scale);
        const u = this.units * POW10[to - this.scale]! + x * POW10[to - scale]!;
        if (Number.isSafeInteger(u)) {
          this.units = u;
          this.scale = to;
          return;
        }
      }
      this.text = this.value();
    }
    this.text = D.add(this.text, s);
  }

  value(): string {
    if (this.text !== undefined) return this.text;
    if (this.scale === 0) return String(this.units);
    let digits = String(this.units);
    if (digits.length <= this.scale) digits = '0'.repeat(this.scale - digits.length + 1) + digits;
    const int = digits.slice(0, digits.length - this.scale);
    const frac = digits.slice(digits.length - this.scale).replace(/0+$/, '');
    return frac ? `${int}.${frac}` : int;
  }
}

const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);

/** The batch's partial candles, one per base bucket touched, in the order first touched. */
export function foldBatch(ticks: readonly Tick[], baseMs: number): StoredCandle[] {
  return foldMutable(ticks, baseMs).map((c) => ({ ...c, volume: c.volume.value(), quoteVolume: c.quoteVolume.value() }));
}

function foldMutable(ticks: readonly Tick[], baseMs: number): Mutable[] {
  const byBucket = new Map<number, Mutable>();
  for (const t of ticks) {
    const b = Math.floor(t.time / baseMs) * baseMs;
    const c = byBucket.get(b);
    if (c === undefined) {
      byBucket.set(b, {
        time: b,
        open: t.price,
        high: t.price,
        low: t.price,
        close: t.price,
        volume: new Sum(t.quantity),
        quoteVolume: new Sum(t.amount),
        trades: 1,
        ot: t.time,
        oi: t.id,
        ct: t.time,
        ci: t.id,
      });
      continue;
    }
    if (compareTrades(t, { time: c.ot, id: c.oi }) < 0) {
      c.open = t.price;
      c.ot = t.time;
      c.oi = t.id;
    }
    if (compareTrades(t, { time: c.ct, id: c.ci }) > 0) {
      c.close = t.price;
      c.ct = t.time;
      c.ci = t.id;
    }
    if (D.compare(t.price, c.high) > 0) c.high = t.price;
    if (D.compare(t.price, c.low) < 0) c.low = t.price;
    c.volume.add(t.quantity);
    c.quoteVolume.add(t.amount);
    c.trades++;
  }
  return [...byBucket.values()];
}

/**
 * A candle as the store keeps it, byte for byte what enc() of
 * lua/includes/candle.lua writes (field order included: the read script
 * cuts the trade ids off at `,"ot":`).
 */
export function encodeStored(c: StoredCandle): string {
  const head = `{"time":${c.time},"open":"${c.open}","high":"${c.high}","low":"${c.low}","close":"${c.close}","volume":"${c.volume}","quoteVolume":"${c.quoteVolume}","trades":${c.trades}`;
  return c.ot === undefined ? `${head}}` : `${head},"ot":${c.ot},"oi":"${c.oi}","ct":${c.ct},"ci":"${c.ci}"}`;
}

/**
 * One stream entry's text: `time,price,quantity,side,id` per trade, `;`
 * between trades (side `b`, `s` or empty). Decimals and ids never hold
 * either separator (tick.ts checks ids).
 */
export function packTrades(ticks: readonly Tick[]): string {
  let out = '';
  for (let i = 0; i < ticks.length; i++) {
    const t = ticks[i]!;
    if (i > 0) out += ';';
    out += `${t.time},${t.price},${t.quantity},${t.side === 'buy' ? 'b' : t.side === 'sell' ? 's' : ''},${t.id}`;
  }
  return out;
}

/** A trade as the stream keeps it (no quote amount: GET /trades does not show it). */
export interface StoredTrade {
  readonly id: string;
  readonly time: number;
  readonly price: string;
  readonly quantity: string;
  readonly side?: 'buy' | 'sell';
}

/** The trades of one stream entry's text. */
export function unpackTrades(text: string): StoredTrade[] {
  if (text === '') return [];
  return text.split(';').map((row) => {
    const [time, price, quantity, side, id] = row.split(',') as [string, string, string, string, string];
    const s = side === 'b' ? 'buy' : side === 's' ? 'sell' : undefined;
    return s ? { id, time: Number(time), price, quantity, side: s } : { id, time: Number(time), price, quantity };
  });
}
