/**
 * The exchange and replay parsers under random and hostile input: real
 * recorded lines mutated field by field, and made-up ones. Whatever comes
 * in, a parser returns what it found or throws its own error (never
 * another), and every trade it passes on is either a valid Tick after
 * toTick or a TickError with a reason: nothing malformed goes further.
 * fast-check properties: a failure is shrunk to a small input and prints
 * how to replay it (FUZZ_SEED, FUZZ_PATH; test/support/fuzz.ts).
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TickError, canonical, decimal, isDecimal, normalizePair, toTick, type RawTrade, type Tick } from '@candlestack/shared';
import { SHARED_DATA } from '../../../test/support/binance.js';
import { chance, fuzzParams, hostile, randomJson, unicode } from '../../../test/support/fuzz.js';
import { parseMarkets, parseRestTrades, parseWsMessage, tradeId, RestShapeError } from '../src/sources/poloniex-messages.js';
import { LineError, detectFormat, pairOf, splitCsv } from '../src/sources/replay-formats.js';

const ROUNDS = 4000;
const MIN_TIME = Date.UTC(2000, 0, 1);
const MAX_TIME = Date.UTC(2100, 0, 1);

const lines = (name: string) => readFileSync(new URL(`poloniex/${name}`, SHARED_DATA), 'utf8').split('\n').filter((l) => l !== '');
const V3 = lines('poloniex-v3-ws-2022-08-21.log');
const LEGACY = lines('poloniex-legacy-ws-2021-06-08.log');
const V3_TRADES = V3.filter((l) => l.includes('"channel":"trades","data"'));
const JSON_LINE = '{"pair":"XRP_ETH","time":1570752011620,"price":"0.00141342","quantity":"23","side":"sell","id":"13519807"}';
const CSV_LINE = 'XRP_ETH,1570752011620,0.00141342,23,sell,13519807';

/** What a Tick must be, whatever input made it. */
function tickProblem(t: Tick): string | undefined {
  if (normalizePair(t.pair) !== t.pair) return `pair ${t.pair} is not canonical`;
  if (!Number.isInteger(t.time) || t.time < MIN_TIME || t.time > MAX_TIME) return `time ${t.time}`;
  for (const [name, v] of [['price', t.price], ['quantity', t.quantity], ['amount', t.amount]] as const) {
    if (typeof v !== 'string' || !isDecimal(v) || canonical(v) !== v || decimal.isZero(v)) return `${name} ${v}`;
  }
  if (t.side !== undefined && t.side !== 'buy' && t.side !== 'sell') return `side ${String(t.side)}`;
  if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(t.id)) return `id ${t.id}`;
  return undefined;
}

/** toTick on one raw trade: a valid Tick, or a TickError; anything else throws. */
function checkTrade(raw: RawTrade): void {
  let tick: Tick;
  try {
    tick = toTick(raw);
  } catch (e) {
    if (e instanceof TickError) return;
    throw new Error(`toTick threw ${String(e)}`, { cause: e });
  }
  const problem = tickProblem(tick);
  if (problem) throw new Error(`toTick passed on a bad tick: ${problem}`);
}


/** A copy of `v` with one value somewhere inside replaced by something random or hostile. */
function mutated(v: unknown): fc.Arbitrary<unknown> {
  if (Array.isArray(v)) {
    if (v.length === 0) return randomJson(2);
    const one = fc.nat(v.length - 1).chain((i) => mutated(v[i]).map((x) => v.map((y, j) => (j === i ? x : y))));
    return fc.oneof({ weight: 1, arbitrary: randomJson(2) }, { weight: 9, arbitrary: one });
  }
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 0) return randomJson(2);
    const one = fc.record({ key: fc.constantFrom(...keys), drop: chance(15), pollute: chance(5) }).chain(({ key, drop, pollute }) =>
      (drop ? fc.constant(undefined) : mutated(o[key])).map((x) => {
        const out = Object.assign(Object.create(null) as object, o) as Record<string, unknown>;
        if (drop) delete out[key];
        else out[key] = x;
        if (pollute) out.__proto__ = { polluted: true };
        return out;
      }),
    );
    return fc.oneof({ weight: 1, arbitrary: randomJson(2) }, { weight: 9, arbitrary: one });
  }
  const text = typeof v === 'string' ? v : undefined;
  return fc.oneof(
    hostile,
    randomJson(1),
    fc.constantFrom(0, -1, 1e21, 1e-7, 0.1, 2 ** 53 + 1, 1661123520381 * 1000, 1661123520.381, Number.MAX_VALUE),
    text === undefined ? fc.constant(v) : hostile.map((h) => text + h),
    fc.constant(text === undefined ? v : `${text}e5`),
    text === undefined ? fc.constant(v) : fc.constantFrom(20, 400, 5000).map((n) => '9'.repeat(n)),
  );
}

/** A mutated copy of a text line: JSON mutated as data, or bytes cut, inserted, replaced, or a line of noise. */
function mutatedLine(line: string): fc.Arbitrary<string> {
  const bytes = fc.oneof(
    fc.nat(line.length).map((i) => line.slice(0, i)),
    fc.tuple(fc.nat(line.length), hostile).map(([i, h]) => line.slice(0, i) + h + line.slice(i)),
    fc.constantFrom('', '"', '\\', ' ', '\u0000').map((c) => line.replace(/[",:]/, c)),
    unicode(200),
  );
  const at = line.search(/[{[]/);
  if (at < 0) return bytes;
  let data: unknown;
  try {
    data = JSON.parse(line.slice(at));
  } catch {
    return bytes;
  }
  const asData = mutated(data).map((m) => line.slice(0, at) + JSON.stringify(m));
  return fc.oneof({ weight: 7, arbitrary: asData }, { weight: 3, arbitrary: bytes });
}

/** A line of a recorded session, its "<url> <- <time>: " or "<time>: " prefix cut: a frame as the socket gives it. */
const frame = (line: string) => line.replace(/^(\S+ <- )?\d+(\.\d+)?: /, '');

const v3Input = fc.oneof(
  { weight: 9, arbitrary: fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...V3_TRADES) }, { weight: 2, arbitrary: fc.constantFrom(...V3) }).chain(mutatedLine).map(frame) },
  { weight: 1, arbitrary: randomJson(4).map((j) => JSON.stringify(j) ?? '') },
);

const REPLAY_FORMATS = [
  { first: JSON_LINE, sample: fc.constant(JSON_LINE) },
  { first: 'pair,time,price,quantity,side,id', sample: fc.constant(CSV_LINE) },
  { first: 'pair,time,price,quantity', sample: fc.constant(CSV_LINE.split(',').slice(0, 4).join(',')) },
  { first: V3[0]!, sample: fc.constantFrom(...V3) },
  { first: LEGACY[0]!, sample: fc.constantFrom(...LEGACY) },
];

/** A replay file: its first line, then up to 100 lines, most of them mutated. */
const replayFile = fc.constantFrom(...REPLAY_FORMATS).chain((format) =>
  fc.record({
    first: fc.constant(format.first),
    lines: fc.array(fc.oneof({ weight: 8, arbitrary: format.sample.chain(mutatedLine) }, { weight: 2, arbitrary: format.sample }), { minLength: 1, maxLength: 100, size: 'max' }),
  }),
);

describe('parser fuzz', () => {
  it('Poloniex v3 WebSocket frames and REST bodies: parsed or refused, never thrown, never garbage', () => {
    const kinds = new Set(['trades', 'subscribed', 'pong', 'error', 'unexpected']);
    let valid = 0;
    fc.assert(
      fc.property(v3Input, (text) => {
        const msg = parseWsMessage(text);
        if (!kinds.has(msg.kind)) throw new Error(`kind ${msg.kind}`);
        if (msg.kind !== 'trades') return;
        for (const raw of msg.trades) {
          checkTrade(raw);
          valid++;
        }
        // The same trades as a REST body (oldest first, the pair from the URL).
        let body: unknown;
        try {
          body = (JSON.parse(text) as { data?: unknown }).data;
        } catch {}
        try {
          for (const raw of parseRestTrades('BTC_USDT', body).trades) checkTrade(raw);
          parseMarkets(body);
        } catch (e) {
          if (!(e instanceof RestShapeError)) throw e;
        }
        for (const raw of msg.trades) {
          const id = tradeId(raw.id);
          if (id !== undefined && id < 0n) throw new Error(`tradeId ${String(raw.id)} -> ${id}`);
        }
      }),
      fuzzParams(ROUNDS),
    );
    // The run reached the trades, not only the refusals.
    expect(valid).toBeGreaterThan(ROUNDS / 10);
  });

  it('replay files (JSON lines, CSV, recorded sessions): each line parsed or refused with LineError', () => {
    let trades = 0;
    fc.assert(
      fc.property(replayFile, ({ first, lines }) => {
        const parser = detectFormat(first, 1);
        if (!parser) throw new Error(`no format for ${first.slice(0, 80)}`);
        lines.forEach((line, i) => {
          let found: RawTrade[];
          try {
            found = parser.parse(line, i + 2, (reason, sample) => {
              if (typeof reason !== 'string' || typeof sample !== 'string') throw new Error(`reject(${String(reason)}, ${String(sample)})`);
            });
          } catch (e) {
            if (e instanceof LineError) return;
            throw e;
          }
          for (const raw of found) {
            checkTrade(raw);
            pairOf(raw);
            trades++;
          }
        });
      }),
      // About 50 lines a file: 4000 lines in all.
      fuzzParams(ROUNDS / 50),
    );
    expect(trades).toBeGreaterThan(ROUNDS / 10);
  });

  it('odd first lines of a replay file: a format or none, never a throw', () => {
    const first = fc.oneof(fc.constantFrom(...REPLAY_FORMATS.map((f) => f.first)).chain(mutatedLine), unicode(80));
    fc.assert(
      fc.property(first, (line) => {
        detectFormat(line, 1);
        splitCsv(line);
      }),
      fuzzParams(500),
    );
  });

  it('toTick on made-up trades: a valid Tick or a TickError', () => {
    const good = { pair: 'BTC_USDT', time: 1661123520381, price: '21614.59', quantity: '0.01149', amount: '248.3516391', side: 'sell', id: '60184114' };
    // Through JSON text, as every source's input comes: objects get their
    // usual prototype, and a "__proto__" key stays a plain own key.
    const raw = fc.oneof({ weight: 8, arbitrary: mutated(good) }, { weight: 2, arbitrary: randomJson(2) }).map((v) => JSON.parse(JSON.stringify(v) ?? 'null') as unknown);
    fc.assert(
      fc.property(raw, (r) => {
        if (r !== null && typeof r === 'object') checkTrade(r as RawTrade);
      }),
      fuzzParams(ROUNDS * 2),
    );
  });
});

describe('the JSON lines fast path', () => {
  it('reads a line exactly as JSON.parse would, whether the fast pattern takes it or not', () => {
    const anyString = fc.oneof(fc.constantFrom('BTC_USDT', 'btc-usdt', 'ETH/BTC', '0.001', '1e5', 'a"b', 'a\\b', '', 'é'), unicode(12));
    const trade = fc.record(
      {
        pair: anyString,
        time: fc.oneof(fc.integer({ min: 0, max: 4_102_444_800_000 }), anyString),
        price: anyString,
        quantity: anyString,
        side: fc.constantFrom('buy', 'sell', 'BUY', 'x'),
        id: fc.oneof(anyString, fc.integer()),
      },
      { requiredKeys: ['pair', 'time', 'price', 'quantity'] },
    );
    const parser = detectFormat('{"pair":"X_Y"}', 1)!;
    fc.assert(
      fc.property(trade, fc.boolean(), (t, reorder) => {
        const line = reorder ? JSON.stringify(Object.fromEntries(Object.entries(t).reverse())) : JSON.stringify(t);
        const got = parser.parse(line, 7, () => undefined)[0] as unknown as Record<string, unknown>;
        const o = JSON.parse(line) as Record<string, unknown>;
        for (const k of ['pair', 'time', 'price', 'quantity', 'side']) expect(got[k], k).toEqual(o[k]);
        expect(got.id).toEqual(o.id === undefined || o.id === null || o.id === '' ? '7' : o.id);
      }),
      fuzzParams(3000),
    );
  });
});
