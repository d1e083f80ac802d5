/**
 * The whole ingest path under extreme and malformed times and sizes,
 * fast-check against the real ingester and Redis (the parsers alone are
 * fuzzed in parser-fuzz.test.ts):
 * - in process, with the wall clock fixed: every trade of a random batch is
 *   stored once or set aside with its reason, the counters add up to the
 *   batch, and the stored candles are exactly the fold of the trades a
 *   reference says must be taken (valid, inside the time bounds, first of
 *   their id);
 * - as a process, a replay file of such lines: it reads to the end, never
 *   exits, and counts every line.
 * A failure prints FUZZ_SEED and FUZZ_PATH to replay it.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { Keys, Stats, TickError, candlesFromTicks, toTick, type RawTrade, type Tick } from '@candlestack/shared';
import { fuzzParams, hostile } from '../../../test/support/fuzz.js';
import { AppProcess } from '../../../test/support/processes.js';
import { PushSource } from '../../../test/support/push-source.js';
import { TEST_REDIS_URL, deletePrefix, testPrefix } from '../../../test/support/redis.js';
import { counter, startPipeline, waitFor } from './support/harness.js';

const W = Date.UTC(2024, 6, 1, 12); // the fixed wall clock
const MAX_LATE = 3_600_000;
const PAIRS = ['BTC_USDT', 'ETH_USDT'];

/** Times at and around every bound, and absurd ones. */
const time: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: W - MAX_LATE, max: W + 60_000 }) },
  { weight: 2, arbitrary: fc.constantFrom(W - MAX_LATE, W - MAX_LATE - 1, W + 60_000, W + 60_001, W - 365 * 86_400_000, Date.UTC(2000, 0, 1), Date.UTC(2099, 0, 1)) },
  { weight: 1, arbitrary: fc.integer({ min: W - MAX_LATE, max: W }).map((t) => new Date(t).toISOString()) },
  { weight: 1, arbitrary: fc.integer({ min: W - MAX_LATE, max: W }).map((t) => new Date(t).toISOString().replace('Z', '')) },
  { weight: 1, arbitrary: fc.constantFrom(-1, 0, 1.5, 1e300, Number.MAX_SAFE_INTEGER, '1720000000', '', null, 'soon') },
  { weight: 1, arbitrary: hostile },
);
/** Decimals of every size, and things that are not. */
const amount: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(fc.integer({ min: 0, max: 99_999 }), fc.integer({ min: 1, max: 99_999_999 })).map(([i, f]) => `${i}.${f}`) },
  { weight: 1, arbitrary: fc.constantFrom('1e400', '1e-7', '0', '-1', `${'9'.repeat(24)}.${'1'.repeat(24)}`, `${'9'.repeat(25)}`, `0.${'0'.repeat(30)}1`, 7, 0.1) },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
);
const pair: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...PAIRS, 'btc-usdt', 'ETH/USDT') },
  { weight: 1, arbitrary: fc.constantFrom('X'.repeat(5_000), 'x_uſdt', 'ıX_USDT', 'SOL_USDT', '') },
  { weight: 1, arbitrary: hostile },
);
const id: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 1, max: 60 }).map(String) },
  { weight: 1, arbitrary: fc.constantFrom('a'.repeat(65), 'a'.repeat(64), 'id with space', 12, -3) },
  { weight: 1, arbitrary: hostile },
);
/** A trade that must be taken (if new): valid fields, extreme but inside the bounds. */
const goodTrade: fc.Arbitrary<RawTrade> = fc.record({
  pair: fc.constantFrom(...PAIRS, 'btc-usdt', 'ETH/USDT'),
  time: fc.oneof(fc.integer({ min: W - MAX_LATE, max: W + 60_000 }), fc.constantFrom(W - MAX_LATE, W + 60_000)),
  price: fc.oneof(
    fc.tuple(fc.integer({ min: 0, max: 99_999 }), fc.integer({ min: 1, max: 99_999_999 })).map(([i, f]) => `${i}.${f}`),
    fc.constantFrom(`${'9'.repeat(24)}.${'1'.repeat(24)}`, `0.${'0'.repeat(23)}1`, 7, 0.1, '1e-7'),
  ),
  quantity: fc.tuple(fc.integer({ min: 0, max: 999 }), fc.integer({ min: 1, max: 999_999 })).map(([i, f]) => `${i}.${f}`),
  side: fc.constantFrom(undefined, 'buy', 'sell', 'BUY'),
  id: fc.integer({ min: 1, max: 60 }).map(String),
});
/** Anything: each field may be broken, absurd or hostile. */
const anyTrade: fc.Arbitrary<RawTrade> = fc.record({
  pair,
  time,
  price: amount,
  quantity: amount,
  side: fc.constantFrom(undefined, 'buy', 'sell', 'BUY', 'hold'),
  id,
});
const rawTrade = fc.oneof({ weight: 6, arbitrary: goodTrade }, { weight: 4, arbitrary: anyTrade });

/** What the ingester must take: valid, inside the time bounds, the first of its pair and id. */
function reference(trades: readonly RawTrade[]): Tick[] {
  const taken: Tick[] = [];
  const seen = new Set<string>();
  for (const raw of trades) {
    let t: Tick;
    try {
      t = toTick(raw);
    } catch (e) {
      if (e instanceof TickError) continue;
      throw e;
    }
    if (t.time > W + 60_000 || t.time < W - MAX_LATE) continue;
    const key = `${t.pair}|${t.id}`;
    if (seen.has(key)) continue;
    seen.add(key);
    taken.push(t);
  }
  return taken;
}

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

describe('ingest fuzz', () => {
  it('every trade is stored once or set aside; counters add up; candles are the fold of what must be taken', async () => {
    const redis = new Redis(TEST_REDIS_URL);
    cleanups.push(async () => redis.disconnect());
    await fc.assert(
      fc.asyncProperty(fc.array(rawTrade, { minLength: 1, maxLength: 80, size: 'max' }), async (trades) => {
        const source = new PushSource(PAIRS);
        const p = await startPipeline(source, { env: { PERIODS: '1s,1m', MAX_LATE: '1h' }, worker: false, wallClock: () => W });
        try {
          await p.ingester.start();
          await source.push(trades);
          await p.ingester.writer.drain();
          await p.ingester.deadLetters.drain();
          const taken = reference(trades);
          const ingested = await counter(p, 'ticks_ingested_total');
          const dups = await counter(p, 'ticks_duplicate_total');
          const aside = (await counter(p, 'ticks_malformed_total')) + (await counter(p, 'ticks_out_of_window_total'));
          expect(ingested).toBe(taken.length);
          expect(ingested + dups + aside).toBe(trades.length);
          expect(await p.redis.xlen(p.keys.deadLetter())).toBe(aside);
          for (const pr of PAIRS) {
            const mine = taken.filter((t) => t.pair === pr);
            const stored = (await p.redis.zrange(p.keys.candles(pr, 1000), '0', '-1')).map((m) => JSON.parse(m) as Record<string, unknown>);
            expect(stored, pr).toEqual(candlesFromTicks(mine, 1000).filter((c) => c.trades > 0));
          }
        } finally {
          await p.close();
        }
      }),
      fuzzParams(40),
    );
  }, 120_000);

  it('a replay file of such lines, as a process: read to the end, every line counted, no exit', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'candlestack-ingest-fuzz-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const [lines] = fc.sample(
      fc.array(
        fc.oneof(
          { weight: 8, arbitrary: rawTrade.map((t) => JSON.stringify(t)) },
          { weight: 1, arbitrary: hostile },
          { weight: 1, arbitrary: fc.constantFrom('{', '[1,2]', '{"pair":1}', 'x'.repeat(70_000)) },
        ),
        { minLength: 300, maxLength: 300 },
      ),
      { seed: fuzzParams(1).seed, numRuns: 1 },
    );
    const file = join(dir, 'fuzz.jsonl');
    // The file's first line says what it is: JSON lines.
    const text = [JSON.stringify({ pair: 'BTC_USDT', time: W - 1000, price: '1', quantity: '1', id: 'first' }), ...lines!].join('\n');
    await writeFile(file, text);
    // A hostile string may hold a newline: count the lines as the file has them; blank ones hold nothing.
    const items = text.split('\n').filter((l) => l.trim() !== '').length;
    const prefix = testPrefix('ingest-fuzz');
    cleanups.push(() => deletePrefix(prefix));
    const ingest = AppProcess.start('ingest', { REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: prefix, PERIODS: '1s,1m', MAX_LATE: '1h', SOURCE: 'replay', REPLAY_FILE: file, REPLAY_SPEED: '0' });
    cleanups.push(() => ingest.kill());
    const keys = new Keys(prefix);
    const redis = new Redis(TEST_REDIS_URL);
    cleanups.push(async () => redis.disconnect());
    await waitFor('the replay done', async () => (await redis.hget(keys.sourceStatus(), 'state')) === 'done', 30_000);
    const s = await new Stats(redis, keys).read();
    const total = ['ticks_ingested_total', 'ticks_duplicate_total', 'ticks_malformed_total', 'ticks_out_of_window_total'].reduce((n, k) => n + (s[k] ?? 0), 0);
    // Every line is one trade or one thing set aside (a line of JSON that is not an object is one too).
    expect(total).toBe(items);
    expect(ingest.running).toBe(true);
  }, 60_000);
});
