/**
 * The replay's fast path for plain JSON lines (plain-line.ts) against the
 * general path (replay-formats.ts JsonLines, then toTick): whatever line
 * comes in, plain or nearly so or hostile, the fast path either leaves it to
 * the general path (undefined) or gives exactly the general path's result:
 * the same Tick, and the same raw trade as a dead letter's sample shows it.
 * fast-check properties (test/support/fuzz.ts: FUZZ_SEED, FUZZ_PATH).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CheckedTick, TickError, TradeBatch, decimal, encodeStored, toTick, type RawTrade, type Tick } from '@candlestack/shared';
import { fuzzParams, hostile } from '../../../test/support/fuzz.js';
import { parsePlainLine } from '../src/sources/plain-line.js';
import { LineError, detectFormat } from '../src/sources/replay-formats.js';

const ROUNDS = 6000;
const general = detectFormat('{"pair":"A_B"}', 1)!;

/** What the general path makes of a line's text: its raw trades and their Ticks (or the error's message). */
function viaGeneral(text: string, lineNo: number): { raws: RawTrade[] } | { lineError: string } {
  try {
    return { raws: general.parse(text, lineNo, () => expect.unreachable('JSON lines reject no part of a line')) };
  } catch (e) {
    if (e instanceof LineError) return { lineError: e.message };
    throw e;
  }
}

const tickOrError = (raw: RawTrade): Tick | string => {
  try {
    return toTick(raw);
  } catch (e) {
    if (e instanceof TickError) return e.message;
    throw e;
  }
};

/** A Tick's fields as a plain object (a CheckedTick is a class). */
const fields = (t: Tick | string) => (typeof t === 'string' ? t : { pair: t.pair, time: t.time, price: t.price, quantity: t.quantity, amount: t.amount, side: t.side, id: t.id });

/**
 * The fast path on `line` placed inside a larger buffer (as in a chunk
 * read), compared with the general path on the text the line reader gives
 * (one trailing CR stripped). True when the fast path took the line.
 */
function check(line: string, lineNo: number): boolean {
  const head = 'x\n';
  const buf = Buffer.from(`${head}${line}\n{"pair":"NEXT_LINE"}`);
  const start = Buffer.byteLength(head);
  const fast = parsePlainLine(buf, start, start + Buffer.byteLength(line), lineNo);
  if (fast === undefined) return false;
  expect(fast).toBeInstanceOf(CheckedTick);
  const text = line.endsWith('\r') ? line.slice(0, -1) : line;
  const slow = viaGeneral(text, lineNo);
  if (!('raws' in slow)) throw new Error(`the fast path took a line the general path refuses (${slow.lineError}): ${line}`);
  expect(slow.raws).toHaveLength(1);
  const raw = slow.raws[0]!;
  // A dead letter's sample (the ingester's safeJson of the raw trade) reads the same.
  expect(JSON.stringify(fast)).toBe(JSON.stringify(raw));
  // toTick gives the same Tick, and takes the fast path's as it is.
  expect(fields(tickOrError(raw))).toEqual(fields(fast));
  expect(toTick(fast)).toBe(fast);
  // The price's units, when given, are the price, and give the double the fold would parse from it.
  if (fast.priceUnits === fast.priceUnits) {
    expect(decimal.formatUnits(fast.priceUnits, fast.priceScale)).toBe(fast.price);
    expect(fast.priceUnits / 10 ** fast.priceScale).toBe(Number(fast.price));
  }
  return true;
}

const digits = (min: number, max: number) => fc.stringMatching(new RegExp(`^[0-9]{${min},${max}}$`));
/** Canonical decimals (what toTick keeps), of every size toTick takes and a little beyond. */
const canonicalDecimal = fc.oneof(
  fc.tuple(
    fc.oneof({ weight: 1, arbitrary: fc.constant('0') }, { weight: 3, arbitrary: fc.stringMatching(/^[1-9][0-9]{0,25}$/) }),
    fc.option(fc.stringMatching(/^[0-9]{0,25}[1-9]$/), { nil: undefined, freq: 4 }),
  ).map(([i, f]) =>
    f === undefined ? i : `${i}.${f}`,
  ),
  // As a writer of prices would: toFixed, then the fraction's zeros dropped.
  fc.tuple(fc.double({ min: 1e-4, max: 1e6, noNaN: true }), fc.nat(8)).map(([x, places]) => x.toFixed(places).replace(/(\.\d*?)0+$/, '$1').replace(/\.$/, '')),
);
/** As exchanges write them, to a fixed number of places: zeros ending the fraction (toTick drops them). */
const zeroEnded = fc.tuple(canonicalDecimal, fc.integer({ min: 1, max: 40 })).map(([d, n]) => (d.includes('.') ? d : `${d}.`) + '0'.repeat(n));
/** Decimals toTick rewrites or refuses. */
const oddDecimal = fc.oneof(
  fc.constantFrom('0', '00', '0.0', '1.50', '01', '007.5', '1.', '.5', '1e5', '-1', '1,5', ' 1', '1 ', '+1', 'NaN', '', '0.', '1..2', '١'),
  digits(1, 30).chain((a) => digits(0, 30).map((b) => `${a}.${b}`)),
  hostile.map(String),
);
const decimalText = fc.oneof({ weight: 8, arbitrary: canonicalDecimal }, { weight: 4, arbitrary: zeroEnded }, { weight: 1, arbitrary: oddDecimal });

const part = fc.stringMatching(/^[A-Z0-9]{1,21}$/);
const pairText = fc.oneof(
  { weight: 12, arbitrary: fc.tuple(part, part).map(([a, b]) => `${a}_${b}`) },
  { weight: 1, arbitrary: fc.constantFrom('btc_usdt', 'BTC-USDT', 'BTC/USDT', 'Btc_Usdt', 'BTC_', '_USDT', 'BTCUSDT', 'A_B_C', ' BTC_USDT', 'ſ_USDT', '', 'BTC\\u005fUSDT') },
  { weight: 1, arbitrary: hostile.map(String) },
);

const MIN = Date.UTC(2000, 0, 1);
const MAX = Date.UTC(2100, 0, 1);
const timeText = fc.oneof(
  { weight: 12, arbitrary: fc.integer({ min: MIN - 5, max: MAX + 5 }).map(String) },
  { weight: 1, arbitrary: fc.constantFrom(String(MIN), String(MAX), String(MIN - 1), String(MAX + 1), '0', '01570752011620', '1570752011620.5', '1.57e12', '-1570752011620', '"1570752011620"', '15707520116200', '9999999999999999', '') },
  { weight: 1, arbitrary: digits(1, 18) },
);

const idText = fc.oneof(
  { weight: 12, arbitrary: fc.stringMatching(/^[A-Za-z0-9_.:-]{1,64}$/) },
  { weight: 1, arbitrary: fc.constantFrom('', 'a'.repeat(64), 'a'.repeat(65), 'a b', 'a,b', 'a;b', 'é', 'a\\"b', '-', '0') },
  { weight: 1, arbitrary: hostile.map(String) },
);

const q = (s: string) => `"${s}"`;

/** Plain lines (the docs' shape), their fields varied and sometimes mangled. */
const plainish = fc
  .record({
    pair: pairText,
    time: timeText,
    price: decimalText,
    quantity: decimalText,
    side: fc.option(fc.oneof({ weight: 8, arbitrary: fc.constantFrom('buy', 'sell') }, { weight: 1, arbitrary: fc.constantFrom('BUY', 'Sell', 'hold', '') }), { nil: undefined }),
    id: fc.option(idText, { nil: undefined }),
    rawStrings: fc.boolean(),
    end: fc.oneof({ weight: 8, arbitrary: fc.constantFrom('', '\r') }, { weight: 1, arbitrary: fc.constantFrom('\r\r', ' ', '\t', ',', '}', '\n') }),
    start: fc.oneof({ weight: 8, arbitrary: fc.constant('') }, { weight: 1, arbitrary: fc.constantFrom(' ', '\uFEFF', '[') }),
  })
  .map(({ pair, time, price, quantity, side, id, rawStrings, end, start }) => {
    // Mostly as a writer would (values escaped by JSON), sometimes the text put in raw.
    const s = rawStrings ? q : (v: string) => JSON.stringify(v);
    let line = `${start}{"pair":${s(pair)},"time":${time},"price":${s(price)},"quantity":${s(quantity)}`;
    if (side !== undefined) line += `,"side":${s(side)}`;
    if (id !== undefined) line += `,"id":${s(id)}`;
    return `${line}}${end}`;
  });

/** The same trades in other spellings JSON allows: spaces, key order, numbers as strings, extra keys, escapes. */
const respelled = fc
  .record({
    price: canonicalDecimal,
    quantity: canonicalDecimal,
    time: fc.integer({ min: MIN, max: MAX }),
    how: fc.constantFrom('spaces', 'order', 'numberPrice', 'stringTime', 'extra', 'escape', 'nullSide', 'emptyId', 'amount', 'numberId', 'upperKey', 'dupKey'),
  })
  .map(({ price, quantity, time, how }) => {
    switch (how) {
      case 'spaces':
        return `{ "pair": "BTC_USDT", "time": ${time}, "price": "${price}", "quantity": "${quantity}" }`;
      case 'order':
        return `{"time":${time},"pair":"BTC_USDT","price":"${price}","quantity":"${quantity}"}`;
      case 'numberPrice':
        return `{"pair":"BTC_USDT","time":${time},"price":${price},"quantity":"${quantity}"}`;
      case 'stringTime':
        return `{"pair":"BTC_USDT","time":"${time}","price":"${price}","quantity":"${quantity}"}`;
      case 'extra':
        return `{"pair":"BTC_USDT","time":${time},"price":"${price}","quantity":"${quantity}","id":"1","x":1}`;
      case 'escape':
        return `{"pair":"BTC\\u005FUSDT","time":${time},"price":"${price}","quantity":"${quantity}"}`;
      case 'nullSide':
        return `{"pair":"BTC_USDT","time":${time},"price":"${price}","quantity":"${quantity}","side":null}`;
      case 'emptyId':
        return `{"pair":"BTC_USDT","time":${time},"price":"${price}","quantity":"${quantity}","id":""}`;
      case 'amount':
        return `{"pair":"BTC_USDT","time":${time},"price":"${price}","quantity":"${quantity}","amount":"1"}`;
      case 'numberId':
        return `{"pair":"BTC_USDT","time":${time},"price":"${price}","quantity":"${quantity}","id":42}`;
      case 'upperKey':
        return `{"Pair":"BTC_USDT","time":${time},"price":"${price}","quantity":"${quantity}"}`;
      default:
        return `{"pair":"BTC_USDT","pair":"ETH_USDT","time":${time},"price":"${price}","quantity":"${quantity}"}`;
    }
  });

/** A plain line with one byte changed, dropped or doubled. */
const mangled = fc
  .tuple(plainish, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('set', 'drop', 'dup'))
  .map(([line, at, byte, how]) => {
    const i = at % Math.max(1, line.length);
    const c = String.fromCharCode(byte);
    return how === 'set' ? line.slice(0, i) + c + line.slice(i + 1) : how === 'drop' ? line.slice(0, i) + line.slice(i + 1) : line.slice(0, i) + line[i] + line.slice(i);
  });

describe('the plain JSON line fast path', () => {
  it('takes the docs\' line and the bench\'s lines, with the Tick toTick makes', () => {
    expect(check('{"pair":"XRP_ETH","time":1570752011620,"price":"0.00141342","quantity":"23","side":"sell","id":"13519807"}', 1)).toBe(true);
    expect(check('{"pair":"P17_USDT","time":1704067200000,"price":"101.2345","quantity":"1.234567","side":"buy","id":"1000001"}', 2)).toBe(true);
    expect(check('{"pair":"P17_USDT","time":1704067200000,"price":"101.2345","quantity":"1.234567"}\r', 3)).toBe(true);
    // Zeros ending a fraction (fixed places): dropped in the Tick, kept in the raw trade a dead letter shows.
    expect(check('{"pair":"P17_USDT","time":1704067200000,"price":"101.2300","quantity":"2.000000","id":"7"}', 5)).toBe(true);
    expect(check(`{"pair":"P17_USDT","time":1704067200000,"price":"1.${'0'.repeat(58)}","quantity":"0.10"}`, 6)).toBe(true);
    // Too many digits for a double's units: the product is still exact (mulCanonical's BigInt path).
    expect(check('{"pair":"BTC_USDT","time":1704067200000,"price":"123456789012345678.123456","quantity":"0.000000000000000000000001","id":"x"}', 4)).toBe(true);
    const line = '{"pair":"BTC_USDT","time":1704067200000,"price":"0.1","quantity":"3"}';
    const t = parsePlainLine(Buffer.from(line), 0, line.length, 9)!;
    expect(fields(t)).toEqual({ pair: 'BTC_USDT', time: 1704067200000, price: '0.1', quantity: '3', amount: '0.3', side: undefined, id: '9' });
    expect(JSON.stringify(t)).toBe('{"pair":"BTC_USDT","time":1704067200000,"price":"0.1","quantity":"3","id":"9"}');
  });

  it('reads each pair right when pairs share a slot of its table, met in turns', () => {
    // Pairs whose hashes share their low 13 bits (plain-line.ts SLOTS), met in turns.
    const fnv = (s: string) => {
      let h = 0x811c9dc5;
      for (let k = 0; k < s.length; k++) h = Math.imul(h ^ s.charCodeAt(k), 0x01000193);
      return h & 0x3fffffff;
    };
    const bySlot = new Map<number, string[]>();
    let shared: string[] | undefined;
    for (let i = 0; shared === undefined; i++) {
      const pair = `S${i}_USDT`;
      const list = bySlot.get(fnv(pair) & 8191) ?? [];
      list.push(pair);
      bySlot.set(fnv(pair) & 8191, list);
      if (list.length === 3) shared = list;
    }
    for (let round = 0; round < 4; round++) {
      for (const pair of shared) {
        const line = `{"pair":"${pair}","time":1704067200000,"price":"1","quantity":"2"}`;
        const t = parsePlainLine(Buffer.from(`x${line}y`), 1, 1 + line.length, 1)!;
        expect(t.pair).toBe(pair);
      }
    }
  });

  it('leaves every other spelling, and every line toTick refuses, to the general path', () => {
    const left = [
      '{"pair":"btc_usdt","time":1704067200000,"price":"1","quantity":"1"}',
      '{"pair":"BTC_USDT","time":1704067200000,"price":"0.000","quantity":"1"}',
      '{"pair":"BTC_USDT","time":1704067200000,"price":"1.","quantity":"1"}',
      `{"pair":"BTC_USDT","time":1704067200000,"price":"1.${'0'.repeat(59)}","quantity":"1"}`,
      '{"pair":"BTC_USDT","time":1704067200000,"price":"0","quantity":"1"}',
      '{"pair":"BTC_USDT","time":946684799999,"price":"1","quantity":"1"}',
      '{"pair":"BTC_USDT","time":01704067200000,"price":"1","quantity":"1"}',
      '{"pair":"BTC_USDT","time":1704067200000,"price":"1","quantity":"1","side":"BUY"}',
      '{"pair":"BTC_USDT","time":1704067200000,"price":"1","quantity":"1","id":""}',
      '{"pair":"BTC_USDT","time":1704067200000,"price":"1","quantity":"1"} ',
      '{"pair":"BTC_USDT","time":1704067200000,"price":"1","quantity":"1"}\r\r',
      `{"pair":"BTC_USDT","time":1704067200000,"price":"1${'0'.repeat(24)}","quantity":"1"}`,
      '',
      '{',
      '}',
    ];
    for (const line of left) expect(parsePlainLine(Buffer.from(line), 0, Buffer.byteLength(line), 1), line).toBeUndefined();
  });

  it('gives exactly the general path\'s trade for every line it takes (fuzzed)', () => {
    let taken = 0;
    let runs = 0;
    fc.assert(
      fc.property(fc.oneof({ weight: 6, arbitrary: plainish }, { weight: 1, arbitrary: respelled }, { weight: 2, arbitrary: mangled }), fc.integer({ min: 1, max: 2 ** 40 }), (line, lineNo) => {
        runs++;
        if (check(line, lineNo)) taken++;
      }),
      fuzzParams(ROUNDS),
    );
    // The run reached the fast path often, not only the fallbacks.
    expect(taken).toBeGreaterThan(runs / 8);
  });

  it('folds and packs a batch of its trades into the same bytes and candles as of the general path\'s (fuzzed)', () => {
    const trade = fc.record({
      minute: fc.nat(4),
      // Often the same few instants: ties broken by id.
      ms: fc.oneof(fc.nat(59_999), fc.nat(2)),
      price: fc.oneof(canonicalDecimal, zeroEnded),
      quantity: fc.oneof(canonicalDecimal, zeroEnded),
      side: fc.option(fc.constantFrom('buy', 'sell'), { nil: undefined }),
      id: fc.option(fc.stringMatching(/^[A-Za-z0-9_.:-]{1,64}$/), { nil: undefined }),
      mixed: fc.boolean(),
    });
    let taken = 0;
    fc.assert(
      fc.property(fc.array(trade, { minLength: 1, maxLength: 40 }), fc.constantFrom(60_000, 300_000), (trades, baseMs) => {
        const general = new TradeBatch(baseMs, 16);
        const fast = new TradeBatch(baseMs, 16);
        trades.forEach((t, i) => {
          let line = `{"pair":"X_Y","time":${1_704_067_200_000 + t.minute * 60_000 + t.ms},"price":"${t.price}","quantity":"${t.quantity}"`;
          if (t.side) line += `,"side":"${t.side}"`;
          if (t.id) line += `,"id":"${t.id}"`;
          line += '}';
          const buf = Buffer.from(`\n${line}\n`);
          const checked = parsePlainLine(buf, 1, 1 + line.length, i + 1);
          const slow = viaGeneral(line, i + 1);
          if (!('raws' in slow)) return;
          const tick = tickOrError(slow.raws[0]!);
          if (typeof tick === 'string') return;
          general.push(tick);
          // Some trades of the fast batch come the general way: a batch may hold both.
          fast.push(checked !== undefined && !t.mixed ? checked : tick);
          if (checked) taken++;
        });
        expect(fast.packed().toString('latin1')).toBe(general.packed().toString('latin1'));
        expect(fast.count).toBe(general.count);
        expect(fast.maxTime).toBe(general.maxTime);
        // Integer ids read from the bytes give the same runs as from the strings.
        expect(fast.summary()).toBe(general.summary());
        expect(fast.candles()).toEqual(general.candles());
        expect(fast.ticks('X_Y')).toEqual(general.ticks('X_Y'));
        const a: (string | number | Buffer)[] = [];
        const b: (string | number | Buffer)[] = [];
        fast.encodedCandles(a, [3_600_000]);
        general.encodedCandles(b, [3_600_000]);
        expect(a.map(String)).toEqual(b.map(String));
        const pairs = (ms?: number) => general.candles(ms).flatMap((c) => [String(c.time), encodeStored(c)]);
        const hours = general.candles(3_600_000);
        expect(a.map(String)).toEqual(['1', '3600000', String(hours.length), ...pairs(3_600_000), ...pairs()]);
      }),
      fuzzParams(ROUNDS / 10),
    );
    expect(taken).toBeGreaterThan(ROUNDS / 3);
  });
});
