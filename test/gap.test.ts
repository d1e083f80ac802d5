/**
 * No silent gaps (DESIGN.md, WebSocket): a catch-up of 2,500 closes with a
 * subscriber connected. The subscriber gets some closed candles one by one,
 * a `gap` message for the rest, and the newest closed candle; every closed
 * bucket is in one or the other, and reading the gap over HTTP gives
 * exactly the candles of the trades.
 */
import WebSocket from 'ws';
import { afterAll, describe, expect, it } from 'vitest';
import { candlesFromTicks, parseConfig, toCandle, type Candle } from '@candlestack/shared';
import { apiEnv } from '../apps/api/src/env.js';
import { startApi, type RunningApi } from '../apps/api/src/server.js';
import type { RunningWorker } from '../apps/worker/src/worker.js';
import { startTestWorker, testEnv } from './support/pipeline.js';
import { TEST_REDIS_URL, deletePrefix, testPrefix } from './support/redis.js';
import { syntheticTicks } from './support/synthetic.js';
import { waitFor } from './support/wait.js';
import { Redis } from 'ioredis';
import { CandleStore, Keys, planPeriods, parsePeriods } from '@candlestack/shared';

type Msg = { type: string; pair?: string; period?: string; candle?: Candle; from?: number; to?: number };

const prefix = testPrefix('gap');
const redis = new Redis(TEST_REDIS_URL);
let api: RunningApi | undefined;
let worker: RunningWorker | undefined;
afterAll(async () => {
  await worker?.close();
  await api?.close();
  await deletePrefix(prefix);
  redis.disconnect();
});

describe('a catch-up of thousands of closes', () => {
  it('sends some candles, a gap for the rest and the newest; together they cover every closed bucket', async () => {
    const env = testEnv(prefix, { PERIODS: '1s,1m' });
    const keys = new Keys(prefix);
    const store = new CandleStore(redis, keys, planPeriods(parsePeriods('1s,1m')));
    const T0 = Date.UTC(2024, 4, 1);
    const ticks = syntheticTicks('GAP_USDT', T0, 2_500_000, 3_000, 5);
    await store.registerPairs(['GAP_USDT']);
    await store.addTicks('GAP_USDT', ticks);
    const last = ticks.at(-1)!.time;
    // A finished replay whose worker was down: 2,500 seconds to close.
    await redis.hset(keys.clock(), { source: 'replay', time: last, done: '1' });
    api = await startApi(parseConfig(apiEnv, { ...env, PORT: '0', RATE_LIMIT: '0' }), { dashboard: (_req, _res, next) => next() });

    const ws = new WebSocket(`${api.url.replace('http', 'ws')}/ws`);
    const msgs: Msg[] = [];
    ws.on('message', (d) => msgs.push(JSON.parse(d.toString()) as Msg));
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ op: 'subscribe', pair: 'GAP_USDT', period: '1s' }));
    await waitFor(() => msgs.some((m) => m.type === 'subscribed'), 'the subscription');

    worker = await startTestWorker(env);
    const through = Math.floor(last / 1000) * 1000;
    await waitFor(() => msgs.some((m) => m.type === 'candle' && m.candle!.closed && m.candle!.time === through), 'the newest closed candle', 20_000);
    ws.close();

    const closed = msgs.filter((m) => m.type === 'candle' && m.candle!.closed).map((m) => m.candle!);
    const gaps = msgs.filter((m) => m.type === 'gap');
    const expected = candlesFromTicks(ticks, 1000).map((c) => toCandle(c, true));
    expect(expected.length).toBeGreaterThan(2_000);
    expect(closed.length).toBeLessThan(expected.length);
    expect(gaps.length).toBeGreaterThanOrEqual(1);
    for (const g of gaps) expect(g).toMatchObject({ pair: 'GAP_USDT', period: '1s' });
    // Every closed bucket is sent, or inside a gap; what is sent is right.
    const sent = new Map(closed.map((c) => [c.time, c]));
    const inGap = (t: number) => gaps.some((g) => t >= g.from! && t < g.to!);
    for (const c of expected) {
      expect(sent.has(c.time) || inGap(c.time), `bucket ${c.time}`).toBe(true);
      if (sent.has(c.time)) expect(sent.get(c.time)).toEqual(c);
    }
    // And a gap is read back over HTTP, exactly.
    const g = gaps[0]!;
    const res = await fetch(`${api.url}/candles/GAP_USDT/1s?from=${g.from}&to=${g.to}&limit=5000`);
    const body = (await res.json()) as { candles: Candle[] };
    expect(body.candles).toEqual(expected.filter((c) => c.time >= g.from! && c.time < g.to!));
    console.log(`catch-up of ${expected.length} closes: ${closed.length} sent one by one, ${gaps.length} gap(s) ${gaps.map((x) => `[${x.from}, ${x.to})`).join(' ')}`);
  }, 30_000);
});
