/**
 * The whole pipeline on the wall clock, as `pnpm dev` runs it: trades pushed
 * through the real ingester, closed by the real worker (BullMQ schedulers at
 * 1s and 5s), read over real HTTP from the API, compared with a reference
 * computed here from the trades alone. Along the way: a quiet pair, the
 * worker stopped for several periods and restarted, duplicates and a late
 * trade.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import {
  CandleStore,
  Keys,
  Stats,
  candlesFromTicks,
  parseConfig,
  parsePeriods,
  planPeriods,
  rollUp,
  toTick,
  type Candle,
  type RawTrade,
  type StoredCandle,
  type Tick,
} from '@candlestack/shared';
import { apiEnv } from '../apps/api/src/env.js';
import { startApi } from '../apps/api/src/server.js';
import type { Ingester } from '../apps/ingest/src/ingester.js';
import type { RunningWorker } from '../apps/worker/src/worker.js';
import { startIngester, startTestWorker, testEnv } from './support/pipeline.js';
import { PushSource } from './support/push-source.js';
import { TEST_REDIS_URL, deletePrefix, testPrefix } from './support/redis.js';
import { sleep, waitFor } from './support/wait.js';

const prefix = testPrefix('pipeline');
const env = testEnv(prefix);
const PAIRS = ['AAA_USDT', 'BBB_USDT'];
const redis = new Redis(TEST_REDIS_URL);
const keys = new Keys(prefix);
const store = new CandleStore(redis, keys, planPeriods(parsePeriods('1s,5s')));
const source = new PushSource(PAIRS);
const sent: RawTrade[] = [];
let ingester: Ingester;
let worker: RunningWorker;
let api: Awaited<ReturnType<typeof startApi>>;
let nextId = 1;
let price = 100_00;

function trade(pair: string, time = Date.now()): RawTrade {
  price += Math.round((Math.random() - 0.5) * 40);
  const t: RawTrade = {
    pair,
    time,
    price: (price / 100).toFixed(2),
    quantity: (Math.floor(Math.random() * 1e6) / 1e6 + 0.000001).toFixed(6),
    side: Math.random() < 0.5 ? 'buy' : 'sell',
    id: String(nextId++),
  };
  sent.push(t);
  return t;
}

/** Pushes a few trades per pair every 100 ms for `ms`. */
async function trade_for(ms: number, pairs: string[]): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    await source.push(pairs.flatMap((p) => Array.from({ length: 1 + Math.floor(Math.random() * 3) }, () => trade(p))));
    await sleep(100);
  }
}

const closedThrough = async (pair: string, ms: number) => (await store.state(pair)).closedThrough.get(ms) ?? -1;

beforeAll(async () => {
  ingester = await startIngester(env, source);
  worker = await startTestWorker(env);
  api = await startApi(parseConfig(apiEnv, { ...env, PORT: '0' }));

  await trade_for(2_500, PAIRS);
  // BBB goes quiet; AAA goes on while the worker is down for several periods.
  await trade_for(1_500, ['AAA_USDT']);
  await worker.close();
  const stoppedAt = Date.now();
  await trade_for(3_000, ['AAA_USDT']);
  expect(await closedThrough('AAA_USDT', 1000)).toBeLessThan(stoppedAt);
  worker = await startTestWorker(env);

  // Resent trades count once; a trade from long ago revises a closed candle.
  await source.push(sent.slice(0, 20).map((t) => ({ ...t })));
  const first = sent[0]!;
  await source.push([trade('AAA_USDT', (first.time as number) + 1)]);

  const lastTime = Math.max(...sent.map((t) => t.time as number));
  await waitFor(async () => (await closedThrough('AAA_USDT', 5000)) >= Math.floor(lastTime / 5000) * 5000 && (await closedThrough('BBB_USDT', 5000)) >= Math.floor(lastTime / 5000) * 5000, 'the 5s candle of the last trade to close', 20_000);
  // The late trade's revision is rolled up by the next close run.
  await waitFor(async () => (await redis.zcard(keys.revised('AAA_USDT'))) === 0, 'revisions to roll up');
}, 60_000);

afterAll(async () => {
  await api?.close();
  await worker?.close();
  await ingester?.close();
  await deletePrefix(prefix);
  redis.disconnect();
});

async function getCandles(pair: string, period: string): Promise<Candle[]> {
  const res = await fetch(`${api.url}/candles/${pair}/${period}?limit=5000`);
  expect(res.status).toBe(200);
  const body = (await res.json()) as { pair: string; period: string; candles: Candle[] };
  expect(body.pair).toBe(pair);
  expect(body.period).toBe(period);
  return body.candles;
}

const publicForm = (c: StoredCandle): Candle => ({
  time: c.time, open: c.open, high: c.high, low: c.low, close: c.close, volume: c.volume, quoteVolume: c.quoteVolume, trades: c.trades, closed: true,
});

describe('pipeline: ingester -> worker -> API', () => {
  it('serves closed candles equal to a reference computed from the trades, with no gap', async () => {
    const ticks: Tick[] = [...new Map(sent.map((t) => [`${t.pair}:${t.id}`, toTick(t)])).values()];
    for (const pair of PAIRS) {
      for (const [period, ms] of [['1s', 1000], ['5s', 5000]] as const) {
        const through = await closedThrough(pair, ms);
        const got = (await getCandles(pair, period)).filter((c) => c.closed);
        const expected = candlesFromTicks(ticks.filter((t) => t.pair === pair), ms, through).map(publicForm);
        expect(got, `${pair} ${period}`).toEqual(expected);
        for (let i = 1; i < got.length; i++) expect(got[i]!.time - got[i - 1]!.time).toBe(ms);
      }
    }
  });

  it('gives the quiet pair flat candles at its last close', async () => {
    // Quiet since its last trade: wait for five of its seconds to close.
    const lastBbb = Math.max(...sent.filter((t) => t.pair === 'BBB_USDT').map((t) => t.time as number));
    await waitFor(async () => (await closedThrough('BBB_USDT', 1000)) >= Math.floor(lastBbb / 1000) * 1000 + 5000, 'five quiet seconds closed');
    const got = (await getCandles('BBB_USDT', '1s')).filter((c) => c.closed);
    const flat = got.filter((c) => c.trades === 0);
    expect(flat.length).toBeGreaterThanOrEqual(5);
    const last = got[got.length - 1]!;
    expect(last).toMatchObject({ trades: 0, volume: '0', open: last.close, high: last.close, low: last.close });
  });

  it('5s candles are the roll-up of their 1s candles', async () => {
    const ones = (await getCandles('AAA_USDT', '1s')).filter((c) => c.closed);
    const fives = (await getCandles('AAA_USDT', '5s')).filter((c) => c.closed);
    expect(fives.length).toBeGreaterThanOrEqual(2);
    for (const five of fives) {
      const parts = ones.filter((c) => c.time >= five.time && c.time < five.time + 5000);
      expect(five).toEqual(publicForm(rollUp(five.time, parts)));
    }
  });

  it('counted the resent trades once and the late one as a revision', async () => {
    const stats = await new Stats(redis, keys).read();
    expect(stats.ticks_duplicate_total).toBeGreaterThanOrEqual(20);
    expect(stats.ticks_late_total).toBeGreaterThanOrEqual(1);
    expect(stats.ticks_ingested_total).toBe(new Set(sent.map((t) => `${t.pair}:${t.id}`)).size);
  });

  it('shows the forming candle after the closed ones', async () => {
    const got = await getCandles('AAA_USDT', '1s');
    const forming = got.filter((c) => !c.closed);
    expect(forming.length).toBeGreaterThanOrEqual(1);
    expect(forming[0]!.time).toBeGreaterThan(got.filter((c) => c.closed).at(-1)!.time);
  });
});
