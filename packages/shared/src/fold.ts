/**
 * The production fold: a batch of one pair's trades folded into one partial
 * candle per base bucket, in the ingester, so the store's script merges one
 * candle per bucket instead of folding every trade (lua/add-ticks.lua). The
 * rules are those of candle.ts's applyTick (the reference the tests compare
 * with): open and close are the first and last trade by (time, id), high and
 * low by value, volumes summed exactly. And the batch packed for the stream.
 */
import { compareIds, type StoredCandle, type Tick } from './candle.js';
import * as D from './decimal.js';
import { slab, slabAt, slabUsed } from './slab.js';
import { CheckedTick } from './tick.js';

/**
 * An exact running sum of decimal strings: integer units at a scale while
 * they fit a double exactly (the common case: no string is built per
 * trade), else the decimal string itself.
 */
class Sum {
  private units = 0;
  private scale = 0;
  private text: string | undefined;
  /** The only value so far: most buckets of a sparse pair hold one trade, and need no arithmetic. */
  private single: string | undefined;

  constructor(first: string | undefined) {
    this.single = first;
  }

  /** A sum whose first value is `units / 10^scale` (a safe integer, scale at most 22). */
  static ofUnits(units: number, scale: number): Sum {
    const sum = new Sum(undefined);
    sum.units = units;
    sum.scale = scale;
    return sum;
  }

  /** A second value comes: the single one is added as a sum's first. */
  private unsingle(): void {
    if (this.single === undefined) return;
    const first = this.single;
    this.single = undefined;
    this.add(first);
  }

  /** add() of `units / 10^scale` (a safe integer, scale at most 22), without its text. */
  addUnits(x: number, scale: number): void {
    this.unsingle();
    if (this.text === undefined) {
      const to = Math.max(scale, this.scale);
      const u = this.units * POW10[to - this.scale]! + x * POW10[to - scale]!;
      if (Number.isSafeInteger(u)) {
        this.units = u;
        this.scale = to;
        return;
      }
      this.text = this.value();
    }
    this.text = D.add(this.text, D.formatUnits(x, scale));
  }

  add(s: string): void {
    if (this.text === undefined) {
      const dot = s.indexOf('.');
      const scale = dot < 0 ? 0 : s.length - dot - 1;
      const digits = dot < 0 ? s.length : s.length - 1;
      if (digits <= 15 && scale <= 22) {
        // Exact: the units are below 10^15, so the double's error (a few
        // parts in 10^16 from the parse and the product) stays under 0.5.
        this.addUnits(dot < 0 ? Number(s) : Math.round(Number(s) * POW10[scale]!), scale);
        return;
      }
    }
    this.unsingle();
    this.text ??= this.value();
    this.text = D.add(this.text, s);
  }

  /** Adds another sum's value (rolling partial candles up). */
  addSum(other: Sum): void {
    if (other.single === undefined && other.text === undefined) this.addUnits(other.units, other.scale);
    else this.add(other.value());
  }

  /** A copy to add to (the batch's base candles stay as they are). */
  copy(): Sum {
    const c = new Sum(this.single);
    c.units = this.units;
    c.scale = this.scale;
    c.text = this.text;
    return c;
  }

  /** At least the length of value(): a safe integer's 16 digits, a point and 22 fraction digits, or the text. */
  maxLength(): number {
    return this.single !== undefined ? this.single.length : this.text !== undefined ? this.text.length : 40;
  }

  /** value()'s bytes at `o` in `b`; the offset after them. */
  write(b: Buffer, o: number): number {
    if (this.single !== undefined) return ascii(b, o, this.single);
    if (this.text !== undefined) return ascii(b, o, this.text);
    return writeUnits(b, o, this.units, this.scale);
  }

  value(): string {
    if (this.single !== undefined) return this.single;
    if (this.text !== undefined) return this.text;
    if (this.scale === 0) return String(this.units);
    let digits = String(this.units);
    if (digits.length <= this.scale) digits = '0'.repeat(this.scale - digits.length + 1) + digits;
    const point = digits.length - this.scale;
    let end = digits.length;
    while (end > point && digits.charCodeAt(end - 1) === 48) end--;
    return end === point ? digits.slice(0, point) : `${digits.slice(0, point)}.${digits.slice(point, end)}`;
  }
}

const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);

/** The batch's partial candles, one per base bucket touched, in the order first touched. */
export function foldBatch(ticks: readonly Tick[], baseMs: number): StoredCandle[] {
  const buckets = new Buckets();
  for (const t of ticks) foldInto(buckets, t, baseMs);
  return buckets.candles();
}

// A bucket's numbers, NUMS of them per bucket in Buckets.num.
const TIME = 0;
const OT = 1;
const CT = 2;
/** High and low as doubles (NaN when longer than 16 characters). */
const HIGH_N = 3;
const LOW_N = 4;
const TRADES = 5;
/** The volume's units (at its scale in Buckets.scale) while no Sum holds them; the quote volume's next. */
const VOLUME_UNITS = 6;
const NUMS = 8;
// A bucket's texts, each a (start, length) pair in Buckets.ref of bytes in Buckets.bytes.
const OPEN = 0;
const HIGH = 2;
const LOW = 4;
const CLOSE = 6;
const OI = 8;
const CI = 10;
const REFS = 12;

/**
 * The partial candles of a batch, one per base bucket touched, in the order
 * first touched, as arrays rather than an object per candle: a candle's
 * numbers are one 64-byte row of a Float64Array, its two sums integer units
 * at a scale (a Sum object only when a sum leaves them: a general Tick's
 * text, or units past 2^53), and its texts (open, high, low, close and the
 * two ids) bytes in one Buffer, copied from where the trade was read. A
 * replay over many pairs touches a different pair's batch with every trade
 * and holds its batches for a second or more: what cost was memory touched
 * and kept, not arithmetic. A Map lookup and an object, five boxed doubles
 * and two Sums per candle were most of the fold's time; the trades' price
 * and id strings it held were most of what the garbage collector copied and
 * promoted. Texts are written after what is there, never over it, so a
 * batch's bytes grow with its trades (bounded as they are, by the batch
 * size).
 */
class Buckets {
  /** Buckets touched. */
  count = 0;
  num: Float64Array;
  /** Per bucket, its texts' places in `bytes`. */
  ref: Int32Array;
  bytes: Buffer;
  used = 0;
  /**
   * A general Tick's texts are its strings, held as they are (copying them
   * costs more than it saves when the trades are not read from bytes): a
   * text whose start is -1 is here, at bucket * 6 + its slot. Made for the
   * first such trade.
   */
  strs: string[] | undefined;
  /** Per bucket, the volume's and the quote volume's scale while no Sum holds them. */
  scale: Uint8Array;
  /** Per bucket, the volume's and the quote volume's Sum when they left their units (else undefined). */
  sums: (Sum | undefined)[] = [];
  /** Sums held in `sums`. */
  held = 0;
  /** The longest price and id in any bucket (encodedCandles' bound). */
  maxPrice = 0;
  maxId = 0;
  /**
   * The buckets' numbers, in order. A pair's trades come mostly in time
   * order: the bucket last met, or a new one past every other, is found
   * without a lookup; the first trade that goes back to an earlier bucket
   * makes `index` (bucket number -> index), kept from then on.
   */
  private readonly ns: number[] = [];
  private index: Map<number, number> | undefined;
  private lastN = NaN;
  private lastK = -1;
  private maxN = -Infinity;

  constructor(capacity = 8) {
    this.num = new Float64Array(capacity * NUMS);
    this.ref = new Int32Array(capacity * REFS);
    this.scale = new Uint8Array(capacity * 2);
    // Made for the first text copied (a batch of general Ticks has none).
    this.bytes = NO_BYTES;
  }

  /** The index of bucket number `n`, or -1. */
  find(n: number): number {
    if (n === this.lastN) return this.lastK;
    if (n > this.maxN) return -1;
    if (this.index === undefined) {
      this.index = new Map();
      for (let k = 0; k < this.count; k++) this.index.set(this.ns[k]!, k);
    }
    const k = this.index.get(n);
    if (k === undefined) return -1;
    this.lastN = n;
    this.lastK = k;
    return k;
  }

  /** A new bucket `n`, which find(n) did not find; its index. */
  add(n: number): number {
    const k = this.count++;
    if (k * NUMS >= this.num.length) this.grow();
    this.ns.push(n);
    this.index?.set(n, k);
    if (n > this.maxN) this.maxN = n;
    this.lastN = n;
    this.lastK = k;
    return k;
  }

  private grow(): void {
    const num = new Float64Array(this.num.length * 2);
    num.set(this.num);
    this.num = num;
    const ref = new Int32Array(this.ref.length * 2);
    ref.set(this.ref);
    this.ref = ref;
    const scale = new Uint8Array(this.scale.length * 2);
    scale.set(this.scale);
    this.scale = scale;
  }

  /** Room for `n` more bytes; `bytes` may be a new Buffer after. */
  private room(n: number): void {
    if (this.used + n > this.bytes.length) {
      const next = Buffer.allocUnsafe(Math.max(this.used + n, this.bytes.length * 2, 256));
      this.bytes.copy(next, 0, 0, this.used);
      this.bytes = next;
    }
  }

  /** Copies `src[from, to)` to the end of `bytes`; where it starts. */
  copy(src: Buffer, from: number, to: number): number {
    this.room(to - from);
    const b = this.bytes;
    const at = this.used;
    let o = at;
    for (let i = from; i < to; i++) b[o++] = src[i]!;
    this.used = o;
    return at;
  }

  /** An ASCII string's bytes at the end of `bytes` (decimals and ids, checked by toTick); where they start. */
  text(s: string): number {
    this.room(s.length);
    const at = this.used;
    this.used = ascii(this.bytes, at, s);
    return at;
  }

  /** Text `j` (OPEN, HIGH, ...) of bucket `k`, as a string. */
  string(k: number, j: number): string {
    const at = this.ref[k * REFS + j]!;
    if (at < 0) return this.strs![k * 6 + (j >> 1)]!;
    return this.bytes.toString('latin1', at, at + this.ref[k * REFS + j + 1]!);
  }

  /** Text `j` of bucket `k` written at `o` in `out`; the offset after it. */
  write(k: number, j: number, out: Buffer, o: number): number {
    const at = this.ref[k * REFS + j]!;
    if (at < 0) return ascii(out, o, this.strs![k * 6 + (j >> 1)]!);
    const b = this.bytes;
    const end = at + this.ref[k * REFS + j + 1]!;
    for (let i = at; i < end; i++) out[o++] = b[i]!;
    return o;
  }

  /** Text `j` of bucket `k` is text `j` of bucket `from` of `src`, whose bytes these share (rollUp). */
  take(k: number, j: number, src: Buckets, from: number): void {
    const at = src.ref[from * REFS + j]!;
    if (at < 0) this.setString(k, j, src.strs![from * 6 + (j >> 1)]!);
    else setRef(this.ref, k * REFS + j, at, src.ref[from * REFS + j + 1]!);
  }

  /** Text `j` of bucket `k` is the string `s` (a general Tick's). */
  setString(k: number, j: number, s: string): void {
    this.ref[k * REFS + j] = -1;
    this.ref[k * REFS + j + 1] = s.length;
    (this.strs ??= [])[k * 6 + (j >> 1)] = s;
  }

  /** Sum `j` (0 the volume, 1 the quote volume) of bucket `k` as a Sum (made from its units when not held). */
  sum(k: number, j: number): Sum {
    let sum = this.sums[k * 2 + j];
    if (sum === undefined) {
      sum = Sum.ofUnits(this.num[k * NUMS + VOLUME_UNITS + j]!, this.scale[k * 2 + j]!);
      this.sums[k * 2 + j] = sum;
      this.held++;
    }
    return sum;
  }

  /** Sets sum `j` of bucket `k`: units at a scale, or a Sum. */
  setSum(k: number, j: number, units: number, scale: number, sum: Sum | undefined): void {
    if (sum !== undefined) {
      this.sums[k * 2 + j] = sum;
      this.held++;
    } else {
      this.num[k * NUMS + VOLUME_UNITS + j] = units;
      this.scale[k * 2 + j] = scale;
    }
  }

  /** Sum.addUnits on sum `j` of bucket `k`, in place while the units stay exact. */
  addUnits(k: number, j: number, x: number, scale: number): void {
    if (this.held === 0 || this.sums[k * 2 + j] === undefined) {
      const at = k * NUMS + VOLUME_UNITS + j;
      const own = this.scale[k * 2 + j]!;
      const to = scale > own ? scale : own;
      const u = this.num[at]! * POW10[to - own]! + x * POW10[to - scale]!;
      if (Number.isSafeInteger(u)) {
        this.num[at] = u;
        this.scale[k * 2 + j] = to;
        return;
      }
    }
    this.sum(k, j).addUnits(x, scale);
  }

  value(k: number, j: number): string {
    const sum = this.held === 0 ? undefined : this.sums[k * 2 + j];
    return sum !== undefined ? sum.value() : D.formatUnits(this.num[k * NUMS + VOLUME_UNITS + j]!, this.scale[k * 2 + j]!);
  }

  /** At least the length of value(k, j). */
  maxLength(k: number, j: number): number {
    const sum = this.held === 0 ? undefined : this.sums[k * 2 + j];
    return sum !== undefined ? sum.maxLength() : 40;
  }

  /** value(k, j)'s bytes at `o` in `b`; the offset after them. */
  writeSum(k: number, j: number, b: Buffer, o: number): number {
    const sum = this.held === 0 ? undefined : this.sums[k * 2 + j];
    return sum !== undefined ? sum.write(b, o) : writeUnits(b, o, this.num[k * NUMS + VOLUME_UNITS + j]!, this.scale[k * 2 + j]!);
  }

  /**
   * These candles rolled up into the buckets of a longer period `ms` (per
   * bucket, not per trade): open and close by (time, id), high and low by
   * value, sums exact. The roll-up's texts are these candles' bytes (it
   * shares them, writing none); these are not changed.
   */
  rollUp(ms: number): Buckets {
    const out = new Buckets();
    out.bytes = this.bytes;
    out.used = this.used;
    out.maxPrice = this.maxPrice;
    out.maxId = this.maxId;
    const num = this.num;
    for (let k = 0; k < this.count; k++) {
      const x = k * NUMS;
      const n = Math.floor(num[x + TIME]! / ms);
      let j = out.find(n);
      if (j < 0) {
        j = out.add(n);
        const at = j * NUMS;
        for (let i = 0; i < NUMS; i++) out.num[at + i] = num[x + i]!;
        out.num[at + TIME] = n * ms;
        for (let i = 0; i < REFS; i += 2) out.take(j, i, this, k);
        for (let i = 0; i < 2; i++) {
          const held = this.held === 0 ? undefined : this.sums[k * 2 + i];
          if (held !== undefined) out.setSum(j, i, 0, 0, held.copy());
          else out.setSum(j, i, num[x + VOLUME_UNITS + i]!, this.scale[k * 2 + i]!, undefined);
        }
        continue;
      }
      const on = out.num;
      const at = j * NUMS;
      const ot = num[x + OT]!;
      if (ot < on[at + OT]! || (ot === on[at + OT]! && compareIds(this.string(k, OI), out.string(j, OI)) < 0)) {
        out.take(j, OPEN, this, k);
        out.take(j, OI, this, k);
        on[at + OT] = ot;
      }
      const ct = num[x + CT]!;
      if (ct > on[at + CT]! || (ct === on[at + CT]! && compareIds(this.string(k, CI), out.string(j, CI)) > 0)) {
        out.take(j, CLOSE, this, k);
        out.take(j, CI, this, k);
        on[at + CT] = ct;
      }
      // As foldInto: the doubles decide when they differ, the texts when not.
      const highN = num[x + HIGH_N]!;
      if (highN > on[at + HIGH_N]! || (!(highN < on[at + HIGH_N]!) && higher(this.string(k, HIGH), out.string(j, HIGH)))) {
        out.take(j, HIGH, this, k);
        on[at + HIGH_N] = highN;
      }
      const lowN = num[x + LOW_N]!;
      if (lowN < on[at + LOW_N]! || (!(lowN > on[at + LOW_N]!) && higher(out.string(j, LOW), this.string(k, LOW)))) {
        out.take(j, LOW, this, k);
        on[at + LOW_N] = lowN;
      }
      for (let i = 0; i < 2; i++) {
        const held = this.held === 0 ? undefined : this.sums[k * 2 + i];
        if (held !== undefined) out.sum(j, i).addSum(held);
        else out.addUnits(j, i, num[x + VOLUME_UNITS + i]!, this.scale[k * 2 + i]!);
      }
      on[at + TRADES] = on[at + TRADES]! + num[x + TRADES]!;
    }
    return out;
  }

  candles(): StoredCandle[] {
    const out: StoredCandle[] = [];
    const num = this.num;
    for (let k = 0; k < this.count; k++) {
      const x = k * NUMS;
      out.push({
        time: num[x + TIME]!,
        open: this.string(k, OPEN),
        high: this.string(k, HIGH),
        low: this.string(k, LOW),
        close: this.string(k, CLOSE),
        volume: this.value(k, 0),
        quoteVolume: this.value(k, 1),
        trades: num[x + TRADES]!,
        ot: num[x + OT]!,
        oi: this.string(k, OI),
        ct: num[x + CT]!,
        ci: this.string(k, CI),
      });
    }
    return out;
  }
}

const NO_BYTES = Buffer.alloc(0);

/** True when `units / 10^scale` can be summed as units (Sum.addUnits). */
const summable = (units: number, scale: number) => units === units && scale <= 22;

/**
 * A decimal of at most 15 digits: distinct ones are distinct doubles, in
 * their order (decimal.ts compare()), and none is the double of another
 * decimal of at most 16 characters (a 16-digit integer is 10^15 or more).
 */
const fewDigits = (d: string) => d.length <= 15 || (d.length === 16 && d.indexOf('.') >= 0);

/**
 * Keyed by the bucket's number (time / baseMs, a small integer), not its
 * start: no heap number per trade. A CheckedTick's quantity and amount are
 * summed from their units when it has them (their text is not made), and
 * its price and id copied from the bytes it was read from (their strings
 * are not made either).
 */
function foldInto(b: Buckets, t: Tick, baseMs: number): void {
  const checked = t instanceof CheckedTick;
  const q = checked && summable(t.quantityUnits, t.quantityScale);
  const a = checked && summable(t.amountUnits, t.amountScale);
  const time = t.time;
  const n = Math.floor(time / baseMs);
  // The price's double, and whether it is exact (at most 15 digits): from
  // its units when a parser found them (the same double as Number(price):
  // both are the correctly rounded value of units / 10^scale, both operands
  // exact), else from its text.
  let x: number;
  let exact: boolean;
  let priceLength: number;
  if (checked && t.priceUnits === t.priceUnits) {
    x = t.priceUnits / POW10[t.priceScale]!;
    exact = true;
    priceLength = t.priceEnd - t.priceAt;
  } else {
    const price = t.price;
    priceLength = price.length;
    x = priceLength <= 16 ? Number(price) : NaN;
    exact = fewDigits(price);
  }
  const idLength = checked && t.idAt >= 0 ? t.idEnd - t.idAt : t.id.length;
  if (priceLength > b.maxPrice) b.maxPrice = priceLength;
  if (idLength > b.maxId) b.maxId = idLength;
  // Where the trade's price and id are copied to in the batch's bytes, once each, when first needed.
  let priceAt = -1;
  let idAt = -1;
  let k = b.find(n);
  if (k < 0) {
    k = b.add(n);
    const num = b.num;
    const at = k * NUMS;
    num[at + TIME] = n * baseMs;
    num[at + OT] = time;
    num[at + CT] = time;
    num[at + HIGH_N] = x;
    num[at + LOW_N] = x;
    num[at + TRADES] = 1;
    if (checked) {
      priceAt = b.copy(t.src, t.priceAt, t.priceEnd);
      idAt = t.idAt >= 0 ? b.copy(t.src, t.idAt, t.idEnd) : b.text(t.id);
      const ref = b.ref;
      const r = k * REFS;
      ref[r + OPEN] = ref[r + HIGH] = ref[r + LOW] = ref[r + CLOSE] = priceAt;
      ref[r + OPEN + 1] = ref[r + HIGH + 1] = ref[r + LOW + 1] = ref[r + CLOSE + 1] = priceLength;
      ref[r + OI] = ref[r + CI] = idAt;
      ref[r + OI + 1] = ref[r + CI + 1] = idLength;
    } else {
      const price = t.price;
      b.setString(k, OPEN, price);
      b.setString(k, HIGH, price);
      b.setString(k, LOW, price);
      b.setString(k, CLOSE, price);
      b.setString(k, OI, t.id);
      b.setString(k, CI, t.id);
    }
    if (q) b.setSum(k, 0, t.quantityUnits, t.quantityScale, undefined);
    else b.setSum(k, 0, 0, 0, new Sum(t.quantity));
    if (a) b.setSum(k, 1, t.amountUnits, t.amountScale, undefined);
    else b.setSum(k, 1, 0, 0, new Sum(t.amount));
    return;
  }
  const num = b.num;
  const at = k * NUMS;
  const r = k * REFS;
  const ot = num[at + OT]!;
  if (time < ot || (time === ot && compareIds(t.id, b.string(k, OI)) < 0)) {
    if (checked) {
      if (priceAt < 0) priceAt = b.copy(t.src, t.priceAt, t.priceEnd);
      if (idAt < 0) idAt = t.idAt >= 0 ? b.copy(t.src, t.idAt, t.idEnd) : b.text(t.id);
      setRef(b.ref, r + OPEN, priceAt, priceLength);
      setRef(b.ref, r + OI, idAt, idLength);
    } else {
      b.setString(k, OPEN, t.price);
      b.setString(k, OI, t.id);
    }
    num[at + OT] = time;
  }
  const ct = num[at + CT]!;
  if (time > ct || (time === ct && compareIds(t.id, b.string(k, CI)) > 0)) {
    if (checked) {
      if (priceAt < 0) priceAt = b.copy(t.src, t.priceAt, t.priceEnd);
      if (idAt < 0) idAt = t.idAt >= 0 ? b.copy(t.src, t.idAt, t.idEnd) : b.text(t.id);
      setRef(b.ref, r + CLOSE, priceAt, priceLength);
      setRef(b.ref, r + CI, idAt, idLength);
    } else {
      b.setString(k, CLOSE, t.price);
      b.setString(k, CI, t.id);
    }
    num[at + CT] = time;
  }
  // High and low by value. Exact doubles (at most 15 digits) decide by
  // themselves, equal ones meaning equal decimals; otherwise, as
  // decimal.ts compare() on the texts when the doubles do not tell them
  // apart (the bounds' doubles are kept, so most trades parse no text).
  const highN = num[at + HIGH_N]!;
  if (x > highN || (!(x < highN) && !(exact && x === highN) && higher(t.price, b.string(k, HIGH)))) {
    if (!checked) b.setString(k, HIGH, t.price);
    else {
      if (priceAt < 0) priceAt = b.copy(t.src, t.priceAt, t.priceEnd);
      setRef(b.ref, r + HIGH, priceAt, priceLength);
    }
    num[at + HIGH_N] = x;
  }
  const lowN = num[at + LOW_N]!;
  if (x < lowN || (!(x > lowN) && !(exact && x === lowN) && higher(b.string(k, LOW), t.price))) {
    if (!checked) b.setString(k, LOW, t.price);
    else {
      if (priceAt < 0) priceAt = b.copy(t.src, t.priceAt, t.priceEnd);
      setRef(b.ref, r + LOW, priceAt, priceLength);
    }
    num[at + LOW_N] = x;
  }
  if (q) b.addUnits(k, 0, t.quantityUnits, t.quantityScale);
  else b.sum(k, 0).add(t.quantity);
  if (a) b.addUnits(k, 1, t.amountUnits, t.amountScale);
  else b.sum(k, 1).add(t.amount);
  num[at + TRADES] = num[at + TRADES]! + 1;
}

function setRef(ref: Int32Array, i: number, at: number, length: number): void {
  ref[i] = at;
  ref[i + 1] = length;
}

/** Decimal `p` is above `q` (canonical texts). */
const higher = (p: string, q: string) => p !== q && D.compare(p, q) > 0;

const SEMICOLON = 0x3b;

/**
 * One pair's trades for one store call, folded and packed as each arrives.
 * The ingester holds these while trades wait for their write, not the
 * trades: a waiting trade is bytes in a Buffer (its stream text, and its
 * quote amount for a resend), no object on the heap, so the garbage
 * collector neither copies nor promotes hundreds of thousands of them (it
 * took a third of the ingester's CPU). The stream text goes to Redis as
 * those bytes. The trades themselves are read back only on the rare paths:
 * a resend without duplicates, a batch split to find a poison trade, a
 * dead letter.
 */
export class TradeBatch {
  /** Trades in the batch. */
  count = 0;
  /** The newest trade time in the batch (ms). */
  maxTime = -Infinity;
  private text: Buffer;
  private len = 0;
  private amounts: Buffer;
  private alen = 0;
  private readonly buckets = new Buckets();
  /** The oldest trade time in the batch (ms). */
  private minTime = Infinity;
  /**
   * The integer ids (the script's rule: at most 15 digits, no leading zero)
   * as runs of consecutive ids, three numbers each: lo, hi, the run's newest
   * time; in the order the trades came. Undefined once some id is not one.
   */
  private runs: number[] | undefined = [];

  constructor(
    readonly baseMs: number,
    capacity = 1024,
  ) {
    this.text = Buffer.allocUnsafe(capacity);
    this.amounts = Buffer.allocUnsafe(capacity >> 1);
  }

  static of(ticks: readonly Tick[], baseMs: number): TradeBatch {
    const b = new TradeBatch(baseMs, Math.max(64, ticks.length * 48));
    for (const t of ticks) b.push(t);
    return b;
  }

  /** Adds a trade checked by toTick (its decimals and id are ASCII without `,` or `;`). */
  push(t: Tick): void {
    if (t instanceof CheckedTick) {
      this.pushChecked(t);
      return;
    }
    foldInto(this.buckets, t, this.baseMs);
    const row = `${this.count === 0 ? '' : ';'}${t.time},${t.price},${t.quantity},${t.side === 'buy' ? 'b' : t.side === 'sell' ? 's' : ''},${t.id}`;
    if (this.len + row.length > this.text.length) this.text = grow(this.text, this.len + row.length);
    this.len += this.text.write(row, this.len, 'latin1');
    if (this.alen + t.amount.length + 1 > this.amounts.length) this.amounts = grow(this.amounts, this.alen + t.amount.length + 1);
    this.alen += this.amounts.write(t.amount, this.alen, 'latin1');
    this.amounts[this.alen++] = SEMICOLON;
    this.count++;
    if (t.time > this.maxTime) this.maxTime = t.time;
    this.track(integerId(t.id), t.time);
  }

  /** The time bounds and id runs summary() gives, for one more trade. */
  private track(x: number, time: number): void {
    if (time < this.minTime) this.minTime = time;
    const runs = this.runs;
    if (runs === undefined) return;
    if (x < 0) {
      this.runs = undefined;
      return;
    }
    const n = runs.length;
    if (n > 0 && x === runs[n - 2]! + 1) {
      runs[n - 2] = x;
      if (time > runs[n - 1]!) runs[n - 1] = time;
    } else {
      runs.push(x, x, time);
    }
  }

  /**
   * What lets the script check the batch by run instead of trade by trade
   * (lua/add-ticks.lua, ARGV[9]): "count:oldest:newest", then
   * ";lo:hi:newest" per run of consecutive integer ids, by lo, disjoint and
   * not adjacent. "" when some id is not an integer, or two trades of the
   * batch share one: the script then checks each trade, and names those
   * that conflict.
   */
  summary(): string {
    const runs = this.runs;
    if (runs === undefined || this.count === 0) return '';
    let order = Array.from({ length: runs.length / 3 }, (_, i) => i * 3);
    for (let i = 1; i < order.length; i++) {
      if (runs[order[i]!]! <= runs[order[i - 1]! + 1]!) {
        order = order.sort((a, b) => runs[a]! - runs[b]!);
        break;
      }
    }
    let out = `${this.count}:${this.minTime}:${this.maxTime}`;
    let lo = -2;
    let hi = -2;
    let t = 0;
    for (const i of order) {
      const a = runs[i]!;
      // Two trades with one id: trade by trade, so the script names the second.
      if (a <= hi) return '';
      if (a === hi + 1) {
        hi = runs[i + 1]!;
        if (runs[i + 2]! > t) t = runs[i + 2]!;
        continue;
      }
      if (hi >= 0) out += `;${lo}:${hi}:${t}`;
      lo = a;
      hi = runs[i + 1]!;
      t = runs[i + 2]!;
    }
    return `${out};${lo}:${hi}:${t}`;
  }

  /**
   * push() of a trade read by a fast parser: its row's bytes copied from
   * where it was read (the time's digits are its canonical text there), its
   * quote amount written from its units; the same bytes push() writes.
   */
  private pushChecked(t: CheckedTick): void {
    foldInto(this.buckets, t, this.baseMs);
    const src = t.src;
    const idLength = t.idAt < 0 ? t.id.length : t.idEnd - t.idAt;
    const need = this.len + 6 + (t.timeEnd - t.timeAt) + (t.priceEnd - t.priceAt) + (t.quantityEnd - t.quantityAt) + idLength;
    if (need > this.text.length) this.text = grow(this.text, need);
    const b = this.text;
    let o = this.len;
    if (this.count > 0) b[o++] = SEMICOLON;
    for (let k = t.timeAt; k < t.timeEnd; k++) b[o++] = src[k]!;
    b[o++] = COMMA;
    for (let k = t.priceAt; k < t.priceEnd; k++) b[o++] = src[k]!;
    b[o++] = COMMA;
    for (let k = t.quantityAt; k < t.quantityEnd; k++) b[o++] = src[k]!;
    b[o++] = COMMA;
    if (t.side !== undefined) b[o++] = t.side === 'buy' ? LOWER_B : LOWER_S;
    b[o++] = COMMA;
    if (t.idAt < 0) o += b.write(t.id, o, 'latin1');
    else for (let k = t.idAt; k < t.idEnd; k++) b[o++] = src[k]!;
    this.len = o;
    // The amount: at most 17 digits, a point and 30 fraction digits, or its text.
    const exact = t.amountUnits === t.amountUnits;
    const room = this.alen + (exact ? 50 : t.amount.length + 1);
    if (room > this.amounts.length) this.amounts = grow(this.amounts, room);
    if (exact) this.alen = writeUnits(this.amounts, this.alen, t.amountUnits, t.amountScale);
    else this.alen += this.amounts.write(t.amount, this.alen, 'latin1');
    this.amounts[this.alen++] = SEMICOLON;
    this.count++;
    if (t.time > this.maxTime) this.maxTime = t.time;
    // The id from its bytes: no string per trade.
    this.track(t.idAt >= 0 ? integerIdAt(t.src, t.idAt, t.idEnd) : integerId(t.id), t.time);
  }

  /** The stream entry's text (what packTrades gives for the same trades). */
  packed(): Buffer {
    return this.text.subarray(0, this.len);
  }

  /** One partial candle per base bucket touched (what foldBatch gives). */
  /** One partial candle per base bucket touched (what foldBatch gives), or per bucket of a longer period `ms`, rolled up. */
  candles(ms?: number): StoredCandle[] {
    return (ms === undefined || ms === this.baseMs ? this.buckets : this.buckets.rollUp(ms)).candles();
  }

  /**
   * The script's candle arguments, appended to `out`: the number of
   * `longer` periods, then for each its length, its number of buckets
   * touched and per bucket its start and the batch's candle of it; then per
   * base bucket touched its start and candle. A longer period's candles are
   * the base ones rolled up (per bucket, not per trade: the cost does not
   * grow with the trades). Each candle is encodeStored's text, as bytes,
   * written into a slab, each argument a view of it: Redis gets the same
   * bytes, without a string per candle for the client to measure and
   * encode again.
   */
  encodedCandles(out: (string | number | Buffer)[], longer: readonly number[] = []): void {
    out.push(longer.length);
    for (const ms of longer) {
      const rolled = this.buckets.rollUp(ms);
      out.push(ms, rolled.count);
      writeCandles(rolled, out);
    }
    writeCandles(this.buckets, out);
  }

  /** The trades back, in the order pushed. */
  ticks(pair: string): Tick[] {
    const amounts = this.amounts.toString('latin1', 0, this.alen).split(';');
    return unpackTrades(this.text.toString('latin1', 0, this.len)).map((t, i) =>
      t.side ? { pair, time: t.time, price: t.price, quantity: t.quantity, amount: amounts[i]!, side: t.side, id: t.id } : { pair, time: t.time, price: t.price, quantity: t.quantity, amount: amounts[i]!, id: t.id },
    );
  }
}

/** Each of `bk`'s candles as stored (encodeStored's text) into a slab; its start and a view of its bytes appended to `out`. */
function writeCandles(bk: Buckets, out: (string | number | Buffer)[]): void {
  // A bound from the longest price and id, without reading every candle.
  let sums = 2 * 40;
  if (bk.held > 0) for (let k = 0; k < bk.count; k++) sums = Math.max(sums, bk.maxLength(k, 0) + bk.maxLength(k, 1));
  const size = bk.count * (CANDLE_FIXED + 4 * bk.maxPrice + 2 * bk.maxId + sums);
  const b = slab(size);
  const start = slabAt;
  let o = start;
  const num = bk.num;
  for (let k = 0; k < bk.count; k++) {
    const x = k * NUMS;
    const from = o;
    const time = num[x + TIME]!;
    o = bytes(b, o, P_TIME);
    o = writeUnits(b, o, time, 0);
    o = bytes(b, o, P_OPEN);
    o = bk.write(k, OPEN, b, o);
    o = bytes(b, o, P_HIGH);
    o = bk.write(k, HIGH, b, o);
    o = bytes(b, o, P_LOW);
    o = bk.write(k, LOW, b, o);
    o = bytes(b, o, P_CLOSE);
    o = bk.write(k, CLOSE, b, o);
    o = bytes(b, o, P_VOLUME);
    o = bk.writeSum(k, 0, b, o);
    o = bytes(b, o, P_QUOTE_VOLUME);
    o = bk.writeSum(k, 1, b, o);
    o = bytes(b, o, P_TRADES);
    o = writeUnits(b, o, num[x + TRADES]!, 0);
    o = bytes(b, o, P_OT);
    o = writeUnits(b, o, num[x + OT]!, 0);
    o = bytes(b, o, P_OI);
    o = bk.write(k, OI, b, o);
    o = bytes(b, o, P_CT);
    o = writeUnits(b, o, num[x + CT]!, 0);
    o = bytes(b, o, P_CI);
    o = bk.write(k, CI, b, o);
    o = bytes(b, o, P_END);
    out.push(time, b.subarray(from, o));
  }
  slabUsed(o);
  // A Buffer drops writes past its end: a bound too small must not pass unseen.
  if (o - start > size) throw new Error(`encodedCandles: ${o - start} bytes written into ${size}`);
}

// encodeStored's text, between its values.
const P_TIME = Buffer.from('{"time":');
const P_OPEN = Buffer.from(',"open":"');
const P_HIGH = Buffer.from('","high":"');
const P_LOW = Buffer.from('","low":"');
const P_CLOSE = Buffer.from('","close":"');
const P_VOLUME = Buffer.from('","volume":"');
const P_QUOTE_VOLUME = Buffer.from('","quoteVolume":"');
const P_TRADES = Buffer.from('","trades":');
const P_OT = Buffer.from(',"ot":');
const P_OI = Buffer.from(',"oi":"');
const P_CT = Buffer.from('","ct":');
const P_CI = Buffer.from(',"ci":"');
const P_END = Buffer.from('"}');
/** A candle's bytes but for its strings and sums: the text between, and four integers of at most 16 digits. */
const CANDLE_FIXED = [P_TIME, P_OPEN, P_HIGH, P_LOW, P_CLOSE, P_VOLUME, P_QUOTE_VOLUME, P_TRADES, P_OT, P_OI, P_CT, P_CI, P_END].reduce((n, p) => n + p.length, 0) + 4 * 16;

function bytes(b: Buffer, o: number, p: Buffer): number {
  for (let k = 0; k < p.length; k++) b[o++] = p[k]!;
  return o;
}

/** An ASCII string's bytes (decimals and ids, checked by toTick). */
function ascii(b: Buffer, o: number, s: string): number {
  for (let k = 0; k < s.length; k++) b[o++] = s.charCodeAt(k);
  return o;
}

/** An id as the script keeps it in ranges (at most 15 digits, no leading zero: exact in a double), or -1. */
export function integerId(id: string): number {
  const n = id.length;
  if (n === 0 || n > 15) return -1;
  if (n > 1 && id.charCodeAt(0) === 48) return -1;
  for (let k = 0; k < n; k++) {
    const c = id.charCodeAt(k);
    if (c < 48 || c > 57) return -1;
  }
  return Number(id);
}

/** integerId() of the bytes `src[at, end)`. */
export function integerIdAt(src: Buffer, at: number, end: number): number {
  const n = end - at;
  if (n <= 0 || n > 15) return -1;
  if (n > 1 && src[at] === 48) return -1;
  let x = 0;
  for (let k = at; k < end; k++) {
    const c = src[k]!;
    if (c < 48 || c > 57) return -1;
    x = x * 10 + (c - 48);
  }
  return x;
}

const COMMA = 0x2c;
const LOWER_B = 0x62;
const LOWER_S = 0x73;
const DIGITS = new Uint8Array(32);

/**
 * The digits of a non-negative safe integer into DIGITS, least significant
 * first; their count. In 32-bit integer arithmetic: above 2^31 the number
 * is split at 10^8 (both parts exact), as a double's `%` is a call to fmod.
 */
function digitsOf(units: number): number {
  let n = 0;
  let v = units;
  if (v > 0x7fffffff) {
    // hi < 2^53 / 10^8 < 2^31; hi * 10^8 and the difference are exact.
    const hi = Math.floor(v / 1e8);
    let lo = (v - hi * 1e8) | 0;
    for (let k = 0; k < 8; k++) {
      const q = (lo / 10) | 0;
      DIGITS[n++] = 48 + lo - q * 10;
      lo = q;
    }
    v = hi;
  }
  let x = v | 0;
  do {
    const q = (x / 10) | 0;
    DIGITS[n++] = 48 + x - q * 10;
    x = q;
  } while (x > 0);
  return n;
}

/** Writes `units / 10^scale` canonically (decimal.ts formatUnits' text) at `o`; returns the offset after it. Units a non-negative safe integer, scale at most 30. */
export function writeUnits(b: Buffer, o: number, units: number, scale: number): number {
  let n = digitsOf(units);
  if (scale === 0) {
    while (n > 0) b[o++] = DIGITS[--n]!;
    return o;
  }
  // As many digits as the point needs (leading zeros), the fraction's trailing zeros dropped.
  while (n <= scale) DIGITS[n++] = 48;
  let low = 0;
  while (low < scale && DIGITS[low] === 48) low++;
  for (let k = n - 1; k >= scale; k--) b[o++] = DIGITS[k]!;
  if (low < scale) {
    b[o++] = 0x2e;
    for (let k = scale - 1; k >= low; k--) b[o++] = DIGITS[k]!;
  }
  return o;
}

function grow(b: Buffer, need: number): Buffer {
  const next = Buffer.allocUnsafe(Math.max(need, b.length * 2));
  b.copy(next, 0, 0, b.length);
  return next;
}

/**
 * A candle as the store keeps it, byte for byte what enc() of
 * lua/includes/candle.lua writes (field order included: the read script
 * cuts the trade ids off at `,"ot":`).
 */
export function encodeStored(c: StoredCandle): string {
  const head = `{"time":${c.time},"open":"${c.open}","high":"${c.high}","low":"${c.low}","close":"${c.close}","volume":"${c.volume}","quoteVolume":"${c.quoteVolume}","trades":${c.trades}${c.origin === undefined ? '' : `,"origin":"${c.origin}"`}`;
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
