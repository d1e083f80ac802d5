/**
 * Turning a source's trade into a Tick: every field checked, decimals made
 * canonical, the quote amount computed exactly when the source gives none.
 * Anything wrong throws TickError with a reason short enough for a log line
 * and a dead-letter entry.
 */
import type { Side, Tick } from './candle.js';
import { DecimalError, canonical, formatUnits, mulCanonical } from './decimal.js';
import { PairError, normalizePair } from './pair.js';
import { shown } from './shown.js';
import { parseUtcTime } from './time.js';

export class TickError extends Error {}

/** A trade as a source read it, before validation. */
export interface RawTrade {
  readonly pair: unknown;
  /** ms since the epoch, or an ISO 8601 string. */
  readonly time: unknown;
  readonly price: unknown;
  readonly quantity: unknown;
  /** Quote amount; computed as price x quantity when absent. */
  readonly amount?: unknown;
  readonly side?: unknown;
  readonly id: unknown;
}

/** Trade ids go into JSON built by Lua and into logs: keep them plain. */
const ID = /^[A-Za-z0-9_.:-]{1,64}$/;
/**
 * Far beyond any real price or size (a satoshi is 8 decimals, wei 18), yet
 * small enough that a hostile "1e400" cannot blow up a candle's strings.
 */
const MAX_INT_DIGITS = 24;
const MAX_FRACTION_DIGITS = 24;
/** 2000-01-01 .. 2100-01-01: anything outside is a unit mistake (s vs ms). */
export const MIN_TICK_TIME = 946_684_800_000;
export const MAX_TICK_TIME = 4_102_444_800_000;
const MIN_TIME = MIN_TICK_TIME;
const MAX_TIME = MAX_TICK_TIME;

/** Canonical and within the digit bounds already (the common case): no work to do. */
const PLAIN_DECIMAL = /^(?:0|[1-9]\d{0,23})(?:\.\d{0,23}[1-9])?$/;

function decimal(name: string, v: unknown): string {
  if (typeof v === 'string' && v !== '0' && PLAIN_DECIMAL.test(v)) return v;
  if (typeof v !== 'string' && typeof v !== 'number') throw new TickError(`${name} is missing or not a decimal`);
  try {
    const d = canonical(v);
    if (d === '0') throw new TickError(`${name} is zero`);
    const dot = d.indexOf('.');
    const int = dot < 0 ? d.length : dot;
    const frac = dot < 0 ? 0 : d.length - dot - 1;
    if (int > MAX_INT_DIGITS || frac > MAX_FRACTION_DIGITS) {
      throw new TickError(`${name} ${JSON.stringify(String(v)).slice(0, 40)} is out of range (at most ${MAX_INT_DIGITS} digits before the point and ${MAX_FRACTION_DIGITS} after)`);
    }
    return d;
  } catch (e) {
    if (e instanceof DecimalError) throw new TickError(`${name}: ${e.message}`);
    throw e;
  }
}

/**
 * A trade's time: ms (number or digit string) or ISO 8601, UTC unless it
 * carries an offset (time.ts), and between 2000 and 2100.
 */
export function parseTime(v: unknown): number {
  if (typeof v !== 'number' && typeof v !== 'string') throw new TickError('time is missing or not ms / ISO 8601');
  const t = parseUtcTime(v);
  if (t === undefined && typeof v === 'string' && !/^\d+$/.test(v)) throw new TickError(`time ${shown(v)} is not ms / ISO 8601`);
  if (t === undefined || t < MIN_TIME || t > MAX_TIME) {
    throw new TickError(`time ${shown(v)} is not a time in ms between 2000 and 2100`);
  }
  return t;
}

/**
 * A trade that a source's own fast parser has already checked by toTick's
 * rules, with toTick's result (its fields are the Tick's): toTick returns
 * it as it is. It is also the RawTrade the general parser would have made
 * of the same input, and serializes as that (toJSON: no amount), so a dead
 * letter's sample reads the same whichever parser read the trade. Made only
 * by parsers whose property tests compare them with the general path
 * (apps/ingest/src/sources/plain-line.ts).
 *
 * It keeps where its text is in the bytes it was read from, and the integer
 * units of its price, quantity and quote amount when they are exact in a
 * double: TradeBatch.push copies the bytes and sums the units, so the
 * price, id, quantity and amount strings are made only if asked for (a
 * dead letter, a test, a tie the fold breaks by id).
 */
export class CheckedTick implements Tick, RawTrade {
  private priceText: string | undefined;
  private idText: string | undefined;
  private quantityText: string | undefined;
  private amountText: string | undefined;

  constructor(
    readonly pair: string,
    readonly time: number,
    readonly side: Side | undefined,
    /** The id when it is not in the bytes (idAt -1): the line's number. */
    idText: string | undefined,
    /**
     * The bytes the trade was read from (not changed afterwards), and where
     * its time, price, quantity and id are ([at, end); idAt -1: the id is
     * not in them). A decimal's canonical text ends at its `End`, its text
     * as read at its `RawEnd` (zeros ending a fraction).
     */
    readonly src: Buffer,
    readonly timeAt: number,
    readonly timeEnd: number,
    readonly priceAt: number,
    readonly priceEnd: number,
    readonly priceRawEnd: number,
    readonly quantityAt: number,
    readonly quantityEnd: number,
    readonly quantityRawEnd: number,
    readonly idAt: number,
    readonly idEnd: number,
    /** The price as integer units at a scale when they are exact (decimal.ts small()), else NaN: the fold reads its double from them. */
    readonly priceUnits: number,
    readonly priceScale: number,
    /** The quantity as integer units at a scale (NaN when not exact in a double: then its text). */
    readonly quantityUnits: number,
    readonly quantityScale: number,
    /** The quote amount (price x quantity) likewise; when NaN, `amountText` is given. */
    readonly amountUnits: number,
    readonly amountScale: number,
    amountText: string | undefined,
  ) {
    this.amountText = amountText;
    this.idText = idText;
  }

  get price(): string {
    return (this.priceText ??= this.src.toString('latin1', this.priceAt, this.priceEnd));
  }

  get id(): string {
    return (this.idText ??= this.src.toString('latin1', this.idAt, this.idEnd));
  }

  get quantity(): string {
    return (this.quantityText ??= this.src.toString('latin1', this.quantityAt, this.quantityEnd));
  }

  get amount(): string {
    return (this.amountText ??= formatUnits(this.amountUnits, this.amountScale));
  }

  /** The raw trade the general parser gives for the same line (its side key omitted when absent, as JSON.stringify omits an undefined one). */
  toJSON(): { pair: string; time: number; price: string; quantity: string; side?: Side; id: string } {
    const price = this.priceRawEnd === this.priceEnd ? this.price : this.src.toString('latin1', this.priceAt, this.priceRawEnd);
    const quantity = this.quantityRawEnd === this.quantityEnd ? this.quantity : this.src.toString('latin1', this.quantityAt, this.quantityRawEnd);
    return this.side === undefined
      ? { pair: this.pair, time: this.time, price, quantity, id: this.id }
      : { pair: this.pair, time: this.time, price, quantity, side: this.side, id: this.id };
  }
}

export function toTick(raw: RawTrade): Tick {
  if (raw instanceof CheckedTick) return raw;
  if (typeof raw.pair !== 'string') throw new TickError('pair is missing');
  let pair: string;
  try {
    pair = normalizePair(raw.pair);
  } catch (e) {
    if (e instanceof PairError) throw new TickError(e.message);
    throw e;
  }
  const time = parseTime(raw.time);
  const price = decimal('price', raw.price);
  const quantity = decimal('quantity', raw.quantity);
  const amount = raw.amount === undefined || raw.amount === null || raw.amount === '' ? mulCanonical(price, quantity) : decimal('amount', raw.amount);
  let side: Side | undefined;
  if (raw.side !== undefined && raw.side !== null && raw.side !== '') {
    // Not String(raw.side): a JSON object such as {"toString":1} makes it
    // throw a TypeError, which is no TickError (found by parser-fuzz.test.ts).
    const s = typeof raw.side === 'string' ? raw.side.toLowerCase() : undefined;
    if (s !== 'buy' && s !== 'sell') throw new TickError(`side ${shown(raw.side)} is not buy or sell`);
    side = s;
  }
  const id = typeof raw.id === 'number' && Number.isSafeInteger(raw.id) ? String(raw.id) : raw.id;
  if (typeof id !== 'string' || !ID.test(id)) throw new TickError(`id ${shown(raw.id)} is not a plain trade id`);
  return side ? { pair, time, price, quantity, amount, side, id } : { pair, time, price, quantity, amount, id };
}
