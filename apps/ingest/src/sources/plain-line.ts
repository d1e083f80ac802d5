/**
 * The replay's fast path for JSON lines: a line written exactly as
 * docs/configuration.md shows one, with values toTick takes as they are,
 * read straight from the bytes the file was read into, into the Tick toTick
 * would make of it (a CheckedTick). No string of the line, no pattern's
 * captures, no raw trade and no second object per trade, and the quote
 * amount multiplied from the integer units found while reading.
 *
 * It recognises only lines whose every byte it understands:
 *
 *   {"pair":"BASE_QUOTE","time":<ms>,"price":"<d>","quantity":"<d>"[,"side":"buy"|"sell"][,"id":"<id>"]}
 *
 * the pair already canonical (upper-case ASCII letters and digits, `_`),
 * the time digits within toTick's bounds, the decimals canonical but for
 * zeros ending a fraction (their canonical form is a prefix of their
 * text), not zero and within toTick's digit bounds, the id toTick's plain id; an
 * optional CR before the line's end (the line reader strips one). Anything
 * else (another spelling, other keys, escapes, spaces, a value toTick would
 * refuse or rewrite) is undefined: the general path (replay-formats.ts
 * JsonLines, then toTick) reads it, so every malformed line is still set
 * aside with today's reason and sample. plain-line.fuzz.test.ts checks that
 * whatever this returns equals the general path's result.
 */
import { CheckedTick, MAX_TICK_TIME, MIN_TICK_TIME, decimal } from '@candlestack/shared';

const QUOTE = 0x22;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const CR = 0x0d;
const BRACE_OPEN = 0x7b;
const BRACE_CLOSE = 0x7d;
const UNDERSCORE = 0x5f;

const bytes = (s: string) => Buffer.from(s, 'latin1');
const PAIR_KEY = bytes('{"pair":"');
const TIME_KEY = bytes('","time":');
const PRICE_KEY = bytes(',"price":"');
const QUANTITY_KEY = bytes('","quantity":"');
const SIDE_KEY = bytes(',"side":"');
const ID_KEY = bytes(',"id":"');
const BUY = bytes('buy"');
const SELL = bytes('sell"');

/** toTick's bounds (tick.ts): digits before and after the point, id length, pair part length. */
const MAX_INT_DIGITS = 24;
const MAX_FRACTION_DIGITS = 24;
const MAX_ID = 64;
const MAX_PAIR_PART = 20;
/** The general path's pattern reads decimals of at most 60 characters (replay-formats.ts PLAIN_LINE). */
const MAX_RAW = 60;

/** Where the last decimal read ended, and its units when they are exact in a double (mulCanonical's rule). */
interface Scan {
  /** The closing quote. */
  end: number;
  /** The end of its canonical form (a prefix of the text). */
  canonicalEnd: number;
  units: number;
  scale: number;
  /** The units are exact: at most 16 characters and 15 digits (decimal.ts small()). */
  small: boolean;
}

function at(buf: Buffer, i: number, lit: Buffer, end: number): boolean {
  if (i + lit.length > end) return false;
  for (let k = 0; k < lit.length; k++) if (buf[i + k] !== lit[k]) return false;
  return true;
}

const isUpperOrDigit = (c: number) => (c >= ZERO && c <= NINE) || (c >= 0x41 && c <= 0x5a);
/** toTick's plain id: [A-Za-z0-9_.:-]. */
const isIdByte = (c: number) => (c >= ZERO && c <= 0x3a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === UNDERSCORE || c === DOT || c === 0x2d;

/**
 * A non-zero decimal starting at `i` and ending at a quote that toTick
 * takes, canonical but for zeros at the end of its fraction (exchanges
 * write prices to a fixed number of places): `0|[1-9]\d*`, then
 * optionally `.\d+`, at most 60 characters (the general path's pattern),
 * its canonical form (those zeros and a bare point dropped: a prefix of its
 * text) within toTick's digit bounds. False when it is not one.
 */
function decimalAt(buf: Buffer, i: number, end: number, s: Scan): boolean {
  const start = i;
  let units = 0;
  let c = buf[i];
  if (c === ZERO) {
    i++;
  } else if (c !== undefined && c > ZERO && c <= NINE) {
    while (i < end && (c = buf[i]!) >= ZERO && c <= NINE) {
      units = units * 10 + (c - ZERO);
      i++;
    }
    if (i - start > MAX_INT_DIGITS) return false;
  } else return false;
  // The canonical text ends here unless the fraction has a digit other than 0.
  let canonicalEnd = i;
  let scale = 0;
  if (i < end && buf[i] === DOT) {
    i++;
    const from = i;
    let u = units;
    while (i < end && (c = buf[i]!) >= ZERO && c <= NINE) {
      u = u * 10 + (c - ZERO);
      i++;
      if (c !== ZERO) {
        units = u;
        canonicalEnd = i;
        scale = i - from;
      }
    }
    // "1." is left to the general path.
    if (i === from || scale > MAX_FRACTION_DIGITS) return false;
  }
  if (units === 0 || i >= end || buf[i] !== QUOTE || i - start > MAX_RAW) return false; // zero, or not the value's end
  const length = canonicalEnd - start;
  s.end = i;
  s.canonicalEnd = canonicalEnd;
  s.units = units;
  s.scale = scale;
  s.small = length <= 16 && (scale === 0 ? length : length - 1) <= 15;
  return true;
}

/**
 * Pairs met, by a hash of their bytes: a trade's pair is the same string
 * each time (no string per trade, and its hash, which every Map the trade
 * meets on its way needs, computed once). Bounded: a file of more pairs
 * than this decodes the others each time.
 */
const PAIRS = new Map<number, string>();
const MAX_PAIRS_KEPT = 20_000;
/**
 * In front of PAIRS, a table indexed by the hash's low bits (its full hash
 * beside it): one typed-array load and the pair's bytes compared, where a
 * Map lookup was a fifth of this parser's time (a replay over many pairs
 * meets a different pair with every line). Pairs sharing a slot take turns
 * in it, and PAIRS still gives each its one string.
 */
const SLOTS = 8192;
const slotHash = new Int32Array(SLOTS).fill(-1);
const slotPair: string[] = Array.from({ length: SLOTS }, () => '');

function pairAt(buf: Buffer, from: number, to: number): string {
  let h = 0x811c9dc5;
  for (let k = from; k < to; k++) h = Math.imul(h ^ buf[k]!, 0x01000193);
  // A small integer key (no heap number per lookup).
  h &= 0x3fffffff;
  const slot = h & (SLOTS - 1);
  if (slotHash[slot] === h) {
    const known = slotPair[slot]!;
    if (sameBytes(known, buf, from, to)) return known;
  }
  const pair = pairOf(buf, from, to, h);
  slotHash[slot] = h;
  slotPair[slot] = pair;
  return pair;
}

function sameBytes(s: string, buf: Buffer, from: number, to: number): boolean {
  if (s.length !== to - from) return false;
  for (let k = 0; k < s.length; k++) if (s.charCodeAt(k) !== buf[from + k]) return false;
  return true;
}

/** The pair's one string from PAIRS (a new one when PAIRS is full). */
function pairOf(buf: Buffer, from: number, to: number, h: number): string {
  const known = PAIRS.get(h);
  if (known !== undefined && sameBytes(known, buf, from, to)) return known;
  const pair = buf.toString('latin1', from, to);
  if (known !== undefined || PAIRS.size < MAX_PAIRS_KEPT) PAIRS.set(h, pair);
  return pair;
}

const price: Scan = { end: 0, canonicalEnd: 0, units: 0, scale: 0, small: false };
const quantity: Scan = { end: 0, canonicalEnd: 0, units: 0, scale: 0, small: false };

/** The trade of a plain JSON line in `buf[start, end)` (without its newline), or undefined for the general path to read. */
export function parsePlainLine(buf: Buffer, start: number, end: number, lineNo: number): CheckedTick | undefined {
  if (end > start && buf[end - 1] === CR) end--;
  if (buf[start] !== BRACE_OPEN || buf[end - 1] !== BRACE_CLOSE || !at(buf, start, PAIR_KEY, end)) return undefined;
  // The pair: BASE_QUOTE, each 1 to 20 upper-case letters or digits (normalizePair's own result).
  let i = start + PAIR_KEY.length;
  const pairStart = i;
  while (i < end && isUpperOrDigit(buf[i]!)) i++;
  const base = i - pairStart;
  if (base < 1 || base > MAX_PAIR_PART || buf[i] !== UNDERSCORE) return undefined;
  i++;
  const quoteStart = i;
  while (i < end && isUpperOrDigit(buf[i]!)) i++;
  const quote = i - quoteStart;
  if (quote < 1 || quote > MAX_PAIR_PART || !at(buf, i, TIME_KEY, end)) return undefined;
  const pairEnd = i;
  i += TIME_KEY.length;
  // The time: ms digits within toTick's bounds (12 or 13 of them); a leading zero is left to the general path.
  const timeStart = i;
  let time = 0;
  let c: number;
  while (i < end && (c = buf[i]!) >= ZERO && c <= NINE) {
    time = time * 10 + (c - ZERO);
    i++;
  }
  const timeEnd = i;
  if (i - timeStart > 13 || buf[timeStart] === ZERO || time < MIN_TICK_TIME || time > MAX_TICK_TIME || !at(buf, i, PRICE_KEY, end)) return undefined;
  i += PRICE_KEY.length;
  const priceStart = i;
  if (!decimalAt(buf, i, end, price) || !at(buf, price.end, QUANTITY_KEY, end)) return undefined;
  i = price.end + QUANTITY_KEY.length;
  const quantityStart = i;
  if (!decimalAt(buf, i, end, quantity)) return undefined;
  i = quantity.end + 1;
  let side: 'buy' | 'sell' | undefined;
  if (at(buf, i, SIDE_KEY, end)) {
    i += SIDE_KEY.length;
    if (at(buf, i, BUY, end)) {
      side = 'buy';
      i += BUY.length;
    } else if (at(buf, i, SELL, end)) {
      side = 'sell';
      i += SELL.length;
    } else return undefined;
  }
  let idText: string | undefined;
  let idAt = -1;
  let idEnd = -1;
  if (at(buf, i, ID_KEY, end)) {
    i += ID_KEY.length;
    idAt = i;
    while (i < end && isIdByte(buf[i]!)) i++;
    const n = i - idAt;
    if (n < 1 || n > MAX_ID || buf[i] !== QUOTE) return undefined;
    idEnd = i;
    i++;
  } else {
    idText = String(lineNo);
  }
  if (i !== end - 1) return undefined;
  // mulCanonical(price, quantity), from the units read: the same product (decimal.ts small(): exact units of at most 15 digits).
  const u = price.small && quantity.small ? price.units * quantity.units : NaN;
  const exact = Number.isSafeInteger(u);
  return new CheckedTick(
    pairAt(buf, pairStart, pairEnd),
    time,
    side,
    idText,
    buf,
    timeStart,
    timeEnd,
    priceStart,
    price.canonicalEnd,
    price.end,
    quantityStart,
    quantity.canonicalEnd,
    quantity.end,
    idAt,
    idEnd,
    price.small ? price.units : NaN,
    price.scale,
    quantity.small ? quantity.units : NaN,
    quantity.scale,
    exact ? u : NaN,
    price.scale + quantity.scale,
    exact ? undefined : decimal.mulCanonical(buf.toString('latin1', priceStart, price.canonicalEnd), buf.toString('latin1', quantityStart, quantity.canonicalEnd)),
  );
}
