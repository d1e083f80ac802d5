/**
 * The exchange and replay parsers under random and hostile input: real
 * recorded lines mutated field by field, and made-up ones. Whatever comes
 * in, a parser returns what it found or throws its own error (never
 * another), and every trade it passes on is either a valid Tick after
 * toTick or a TickError with a reason: nothing malformed goes further.
 * Seeded: FUZZ_SEED=<n> replays a run, and a failure prints n.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it, onTestFailed } from 'vitest';
import { TickError, canonical, decimal, isDecimal, normalizePair, toTick, type RawTrade, type Tick } from '@candlestack/shared';
import { SHARED_DATA } from '../../../test/support/binance.js';
import { Rng, fuzzSeed, hostile, randomJson } from '../../../test/support/fuzz.js';
import { parseMarkets, parseRestTrades, parseWsMessage, tradeId, RestShapeError } from '../src/sources/poloniex-messages.js';
import { LineError, detectFormat, pairOf, splitCsv } from '../src/sources/replay-formats.js';

const seed = fuzzSeed();
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

/** toTick on one raw trade: a valid Tick, or a TickError; anything else is a failure. */
function checkTrade(raw: RawTrade, failures: string[], input: string): void {
  try {
    const problem = tickProblem(toTick(raw));
    if (problem) failures.push(`${problem}: from ${input.slice(0, 300)}`);
  } catch (e) {
    if (!(e instanceof TickError)) failures.push(`toTick threw ${String(e)}: from ${input.slice(0, 300)}`);
  }
}

/** A copy of `v` with one value somewhere inside replaced by something random or hostile. */
function mutate(rng: Rng, v: unknown, depth = 0): unknown {
  if (Array.isArray(v)) {
    if (v.length === 0 || rng.chance(0.1)) return randomJson(rng, 2);
    const i = rng.int(0, v.length - 1);
    return v.map((x, j) => (j === i ? mutate(rng, x, depth + 1) : x));
  }
  if (v !== null && typeof v === 'object') {
    const keys = Object.keys(v);
    if (keys.length === 0 || rng.chance(0.1)) return randomJson(rng, 2);
    const k = rng.pick(keys);
    const out = Object.assign(Object.create(null) as object, v) as Record<string, unknown>;
    if (rng.chance(0.15)) delete out[k];
    else out[k] = mutate(rng, out[k], depth + 1);
    if (rng.chance(0.05)) out.__proto__ = { polluted: true };
    return out;
  }
  return rng.pick<() => unknown>([
    () => hostile(rng),
    () => randomJson(rng, 1),
    () => rng.pick([0, -1, 1e21, 1e-7, 0.1, 2 ** 53 + 1, 1661123520381 * 1000, 1661123520.381, Number.MAX_VALUE]),
    () => (typeof v === 'string' ? v + hostile(rng) : v),
    () => (typeof v === 'string' ? `${v}e5` : v),
    () => (typeof v === 'string' ? '9'.repeat(rng.pick([20, 400, 5000])) : v),
  ])();
}

/** A mutated copy of a text line: JSON mutated as data, or bytes flipped, cut or repeated. */
function mutateLine(rng: Rng, line: string): string {
  const colon = line.search(/[{[]/);
  if (colon >= 0 && rng.chance(0.7)) {
    try {
      return line.slice(0, colon) + JSON.stringify(mutate(rng, JSON.parse(line.slice(colon))));
    } catch {}
  }
  return rng.pick<() => string>([
    () => line.slice(0, rng.int(0, line.length)),
    () => {
      const i = rng.int(0, line.length);
      return line.slice(0, i) + hostile(rng) + line.slice(i);
    },
    () => line.replace(/[",:]/, rng.pick(['', '"', '\\', ' ', '\u0000'])),
    () => rng.unicode(rng.int(0, 200)),
  ])();
}

describe(`parser fuzz (FUZZ_SEED=${seed})`, () => {
  it('Poloniex v3 WebSocket frames and REST bodies: parsed or refused, never thrown, never garbage', () => {
    onTestFailed(() => console.error(`fuzz failed: rerun with FUZZ_SEED=${seed}`));
    const rng = new Rng(seed);
    const failures: string[] = [];
    const kinds = new Set(['trades', 'subscribed', 'pong', 'error', 'unexpected']);
    let valid = 0;
    for (let i = 0; i < ROUNDS; i++) {
      const base = rng.chance(0.8) ? rng.pick(V3_TRADES) : rng.pick(V3);
      const text = rng.chance(0.9) ? mutateLine(rng, base).replace(/^(\S+ <- )?\d+(\.\d+)?: /, '') : JSON.stringify(randomJson(rng, 4)) ?? '';
      let msg;
      try {
        msg = parseWsMessage(text);
      } catch (e) {
        failures.push(`parseWsMessage threw ${String(e)}: ${text.slice(0, 300)}`);
        continue;
      }
      if (!kinds.has(msg.kind)) failures.push(`kind ${msg.kind}`);
      if (msg.kind !== 'trades') continue;
      for (const raw of msg.trades) {
        checkTrade(raw, failures, text);
        valid++;
      }
      // The same trades as a REST body (oldest first, the pair from the URL).
      let body: unknown;
      try {
        body = (JSON.parse(text) as { data?: unknown }).data;
      } catch {}
      try {
        for (const raw of parseRestTrades('BTC_USDT', body).trades) checkTrade(raw, failures, text);
        parseMarkets(body);
      } catch (e) {
        if (!(e instanceof RestShapeError)) failures.push(`REST parsers threw ${String(e)}: ${text.slice(0, 300)}`);
      }
      for (const raw of msg.trades) {
        const id = tradeId(raw.id);
        if (id !== undefined && id < 0n) failures.push(`tradeId ${raw.id} -> ${id}`);
      }
    }
    expect(failures.slice(0, 10)).toEqual([]);
    expect(valid).toBeGreaterThan(ROUNDS / 10);
  });

  it('replay files (JSON lines, CSV, recorded sessions): each line parsed or refused with LineError', () => {
    onTestFailed(() => console.error(`fuzz failed: rerun with FUZZ_SEED=${seed}`));
    const rng = new Rng(seed ^ 0x7e91a7);
    const failures: string[] = [];
    const formats = [
      { first: JSON_LINE, sample: () => JSON_LINE },
      { first: 'pair,time,price,quantity,side,id', sample: () => CSV_LINE },
      { first: 'pair,time,price,quantity', sample: () => CSV_LINE.split(',').slice(0, 4).join(',') },
      { first: V3[0]!, sample: () => rng.pick(V3) },
      { first: LEGACY[0]!, sample: () => rng.pick(LEGACY) },
    ];
    let trades = 0;
    for (let round = 0; round < ROUNDS / 100; round++) {
      const format = rng.pick(formats);
      const parser = detectFormat(format.first, 1);
      if (!parser) {
        failures.push(`no format for ${format.first.slice(0, 80)}`);
        continue;
      }
      for (let n = 2; n < 102; n++) {
        const line = rng.chance(0.8) ? mutateLine(rng, format.sample()) : format.sample();
        try {
          const found = parser.parse(line, n, (reason, sample) => {
            if (typeof reason !== 'string' || typeof sample !== 'string') failures.push(`reject(${String(reason)}, ${String(sample)})`);
          });
          for (const raw of found) {
            checkTrade(raw, failures, line);
            pairOf(raw);
            trades++;
          }
        } catch (e) {
          if (!(e instanceof LineError)) failures.push(`${parser.format} threw ${String(e)}: ${line.slice(0, 300)}`);
        }
      }
    }
    // Odd first lines: a format, or none; never a throw.
    for (let i = 0; i < 500; i++) {
      const first = rng.chance(0.5) ? mutateLine(rng, rng.pick(formats).first) : rng.unicode(rng.int(0, 80));
      try {
        detectFormat(first, 1);
        splitCsv(first);
      } catch (e) {
        failures.push(`detectFormat threw ${String(e)}: ${first.slice(0, 200)}`);
      }
    }
    expect(failures.slice(0, 10)).toEqual([]);
    expect(trades).toBeGreaterThan(ROUNDS / 10);
  });

  it('toTick on made-up trades: a valid Tick or a TickError', () => {
    onTestFailed(() => console.error(`fuzz failed: rerun with FUZZ_SEED=${seed}`));
    const rng = new Rng(seed ^ 0x71c);
    const failures: string[] = [];
    const good = { pair: 'BTC_USDT', time: 1661123520381, price: '21614.59', quantity: '0.01149', amount: '248.3516391', side: 'sell', id: '60184114' };
    for (let i = 0; i < ROUNDS * 2; i++) {
      // Through JSON text, as every source's input comes: objects get their
      // usual prototype, and a "__proto__" key stays a plain own key.
      const raw = JSON.parse(JSON.stringify(rng.chance(0.8) ? mutate(rng, good) : randomJson(rng, 2)) ?? 'null') as RawTrade;
      if (raw === null || typeof raw !== 'object') continue;
      checkTrade(raw, failures, JSON.stringify(raw) ?? String(raw));
    }
    expect(failures.slice(0, 10)).toEqual([]);
  });
});
