/**
 * The replay file formats (docs/configuration.md, "Replay files"), recognised by their
 * first line, each read one line at a time:
 * - JSON lines: `{"pair":"XRP_ETH","time":1570752011620,"price":"0.00141342","quantity":"23","side":"sell","id":"13519807"}`;
 * - CSV with the header `pair,time,price,quantity[,side][,id]`;
 * - a recorded Poloniex session (docs/configuration.md): `<url> <- <time>: <json>`
 *   lines are what the client sent, `<time>: <json>` what it received; only
 *   trades count: v3 `trades` messages, and legacy (api2) `t` updates.
 *
 * Values are passed on as read; toTick checks them. A trade without an id
 * gets its line number, so replaying a file twice counts each trade once.
 */
import { isPair, normalizePair, type RawTrade } from '@candlestack/shared';
import { parsePlainLine } from './plain-line.js';
import { parseWsMessage, sample } from './poloniex-messages.js';

/** The whole line is unusable. */
export class LineError extends Error {}

export type ReplayFormat = 'json-lines' | 'csv' | 'poloniex-log';

export interface LineParser {
  readonly format: ReplayFormat;
  /**
   * The trades of one line (numbered from 1): none for lines that hold no
   * trade (a header, an ack, a book update). Throws LineError for a bad
   * line; `reject` takes the bad parts of a line that is otherwise good.
   */
  parse(line: string, lineNo: number, reject: (reason: string, sample: string) => void): RawTrade[];
  /**
   * A fast path, for some formats: the trade of a line read straight from
   * its bytes (`buf[start, end)`, without the newline) when the line is in
   * the one plain shape it knows, exactly what parse() and toTick would
   * give; undefined for parse() to read the line.
   */
  readonly parseBytes?: (buf: Buffer, start: number, end: number, lineNo: number) => RawTrade | undefined;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const absent = (v: unknown) => v === undefined || v === null || v === '';

/** The line number as the id of a trade that has none. */
const idOr = (id: unknown, lineNo: number) => (absent(id) ? String(lineNo) : id);

/**
 * A line exactly as docs/configuration.md writes one (fields in that order, strings
 * without escapes, ms as a number): read by one pattern, twice as fast as
 * JSON.parse, with the same result. Any other line goes to JSON.parse.
 */
const PLAIN_LINE =
  /^\{"pair":"([A-Za-z0-9_\-/]{1,41})","time":(\d{1,16}),"price":"([0-9.]{1,60})","quantity":"([0-9.]{1,60})"(?:,"side":"(buy|sell)")?(?:,"id":"([A-Za-z0-9_.:-]{1,64})")?\}$/;

class JsonLines implements LineParser {
  readonly format = 'json-lines' as const;
  readonly parseBytes = parsePlainLine;

  parse(line: string, lineNo: number): RawTrade[] {
    const m = PLAIN_LINE.exec(line);
    if (m) {
      return [{ pair: m[1], time: Number(m[2]), price: m[3], quantity: m[4], side: m[5], id: m[6] ?? String(lineNo) }];
    }
    if (line.trim() === '') return [];
    let o: unknown;
    try {
      o = JSON.parse(line);
    } catch {
      throw new LineError('not JSON');
    }
    if (!isObject(o)) throw new LineError('not a JSON object');
    // The parsed object itself (toTick reads only the fields it knows): no copy per line.
    if (absent(o.id)) o.id = String(lineNo);
    return [o as unknown as RawTrade];
  }
}

/** Splits one CSV record: commas, fields optionally in double quotes ("" inside is a quote). */
export function splitCsv(line: string): string[] {
  const out: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      out.push(field);
      field = '';
    } else field += c;
  }
  out.push(field);
  return out.map((f) => f.trim());
}

const CSV_REQUIRED = ['pair', 'time', 'price', 'quantity'] as const;

class Csv implements LineParser {
  readonly format = 'csv' as const;
  private readonly at: Record<string, number>;

  constructor(
    header: readonly string[],
    private readonly headerLine: number,
  ) {
    this.at = Object.fromEntries(header.map((h, i) => [h, i]));
  }

  parse(line: string, lineNo: number): RawTrade[] {
    if (lineNo === this.headerLine || line.trim() === '') return [];
    const f = splitCsv(line);
    const get = (name: string) => {
      const i = this.at[name];
      return i === undefined || absent(f[i]) ? undefined : f[i];
    };
    const need = Math.max(...CSV_REQUIRED.map((c) => this.at[c]!)) + 1;
    if (f.length < need) throw new LineError(`${f.length} field(s), the header names ${Object.keys(this.at).length}`);
    return [{ pair: get('pair'), time: get('time'), price: get('price'), quantity: get('quantity'), amount: get('amount'), side: get('side'), id: idOr(get('id'), lineNo) }];
  }
}

/** `wss://ws.poloniex.com/ws/public <- 1661123517.636833: {...}` (sent) and `... <-> 1661123517.09` (connected). */
const CLIENT_LINE = /^\S+:\/\/\S* (?:<-|->|<->) \d+(?:\.\d+)?(?::|$)/;
/** `1661123520.424012: {...}` (received). */
const RECEIVED = /^(\d+(?:\.\d+)?): (.*)$/s;

/** Legacy channels remembered at most (Poloniex had a few hundred). */
const MAX_LEGACY_CHANNELS = 10_000;

/** Legacy (api2) pairs are QUOTE_BASE: USDT_BTC is BTC_USDT. */
function legacyPair(p: string): string | undefined {
  const m = /^([A-Z0-9]+)_([A-Z0-9]+)$/.exec(p);
  return m ? `${m[2]}_${m[1]}` : undefined;
}

class PoloniexLog implements LineParser {
  readonly format = 'poloniex-log' as const;
  /** Legacy channel id -> pair, from the `i` (book snapshot) update that opens each channel. */
  private readonly legacy = new Map<number, string>();

  parse(line: string, _lineNo: number, reject: (reason: string, sample: string) => void): RawTrade[] {
    if (line.trim() === '' || CLIENT_LINE.test(line)) return [];
    const m = RECEIVED.exec(line);
    if (!m) throw new LineError('neither "<url> <- <time>: <json>" nor "<time>: <json>"');
    const json = m[2]!;
    let msg: unknown;
    try {
      msg = JSON.parse(json);
    } catch {
      throw new LineError('message is not JSON');
    }
    if (isObject(msg)) {
      if (msg.channel !== 'trades' || 'event' in msg) return []; // acks (their channel is "trades" too), pongs, books
      const parsed = parseWsMessage(json);
      if (parsed.kind !== 'trades') throw new LineError(parsed.kind === 'unexpected' ? parsed.reason : 'not a trades message');
      for (const r of parsed.rejected) reject(r.reason, r.sample);
      return [...parsed.trades];
    }
    if (Array.isArray(msg)) return this.legacyTrades(msg, reject);
    return [];
  }

  /** `[channel, seq, [[type, ...], ...]]`; trades are `["t", id, 1 buy | 0 sell, price, base quantity, time s, time ms]`. */
  private legacyTrades(msg: unknown[], reject: (reason: string, sample: string) => void): RawTrade[] {
    const [chan, , updates] = msg;
    if (typeof chan !== 'number' || !Array.isArray(updates)) return [];
    const out: RawTrade[] = [];
    for (const u of updates) {
      if (!Array.isArray(u)) continue; // the ticker channel's row is flat
      if (u[0] === 'i' && isObject(u[1]) && typeof u[1].currencyPair === 'string') {
        const pair = legacyPair(u[1].currencyPair);
        // Channel numbers come from the file: only so many are remembered.
        if (pair && (this.legacy.has(chan) || this.legacy.size < MAX_LEGACY_CHANNELS)) this.legacy.set(chan, pair);
        else if (pair) reject(`legacy channel ${chan} is one more than the ${MAX_LEGACY_CHANNELS} remembered`, sample(u));
      } else if (u[0] === 't') {
        const pair = this.legacy.get(chan);
        if (!pair) {
          reject(`legacy trade on channel ${chan}, whose pair was never announced`, sample(u));
          continue;
        }
        const [, id, side, price, quantity, seconds, ms] = u;
        out.push({
          pair,
          time: absent(ms) ? (typeof seconds === 'number' ? seconds * 1000 : seconds) : ms,
          price,
          quantity,
          side: side === 1 ? 'buy' : side === 0 ? 'sell' : side,
          id,
        });
      }
    }
    return out;
  }
}

/** The parser for a file whose first non-empty line is `first` (at `lineNo`), or undefined. */
export function detectFormat(first: string, lineNo: number): LineParser | undefined {
  const line = first.replace(/^\uFEFF/, '').trim();
  if (line.startsWith('{')) return new JsonLines();
  if (CLIENT_LINE.test(line) || /^\d+(?:\.\d+)?: [[{]/.test(line)) return new PoloniexLog();
  const header = splitCsv(line).map((c) => c.toLowerCase());
  if (CSV_REQUIRED.every((c) => header.includes(c))) return new Csv(header, lineNo);
  return undefined;
}

/** A pair in canonical form, or undefined when it is none (toTick will say why). */
export function pairOf(raw: RawTrade): string | undefined {
  return typeof raw.pair === 'string' && isPair(raw.pair) ? normalizePair(raw.pair) : undefined;
}
