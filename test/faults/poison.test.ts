/**
 * Poison input: a replay with malformed lines among good ones. Each bad line
 * lands in the dead-letter stream with its reason, is counted in a metric
 * and listed by /admin/dead-letter; the good trades give exact candles.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { Keys, candlesFromTicks, parseConfig, toCandle, toTick, type Candle } from '@candlestack/shared';
import { apiEnv } from '../../apps/api/src/env.js';
import { startApi } from '../../apps/api/src/server.js';
import { ReplaySource } from '../../apps/ingest/src/sources/replay.js';
import { startIngester, startTestWorker, testEnv } from '../support/pipeline.js';
import { TEST_REDIS_URL, deletePrefix, testPrefix } from '../support/redis.js';
import { waitFor } from '../support/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'candlestack-poison-'));
const prefix = testPrefix('poison');
const redis = new Redis(TEST_REDIS_URL);
const stops: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const stop of stops.reverse()) await stop();
  await deletePrefix(prefix);
  redis.disconnect();
  rmSync(dir, { recursive: true, force: true });
});

const T0 = Date.UTC(2023, 5, 1, 12, 0, 0);
const good = Array.from({ length: 40 }, (_, i) => ({ pair: 'XRP_ETH', time: T0 + i * 1500, price: `0.0014${10 + (i % 7)}`, quantity: `${1 + i}`, side: i % 2 ? 'buy' : 'sell', id: String(500 + i) }));
const bad = [
  '{"pair":"XRP_ETH","time":1685620800000,"price":"-1","quantity":"2","id":"9001"}',
  '{"pair":"XRP_ETH","time":"last tuesday","price":"1","quantity":"2","id":"9002"}',
  '{"pair":"XRPETH","time":1685620800000,"price":"1","quantity":"2","id":"9003"}',
  '{"pair":"XRP_ETH","time":1685620800000,"price":"1e400","quantity":"2","id":"9004"}',
  '{"pair":"XRP_ETH","time":1685620800000,"price":"1","quantity":"0","id":"9005"}',
  '{"pair":"XRP_ETH","time":1685620800000,"price":"1","quantity":"2","id":"a\\"b"}',
  '{"pair":"XRP_ETH",',
  'garbage line',
];

describe('poison input', () => {
  it('sets malformed trades aside with their reason, counts them, lists them, and goes on', async () => {
    const lines = good.map((t) => JSON.stringify(t));
    // Interleave the bad lines among the good ones.
    bad.forEach((b, i) => lines.splice(3 + i * 5, 0, b));
    const file = join(dir, 'poison.jsonl');
    writeFileSync(file, lines.join('\n') + '\n');

    const env = testEnv(prefix, { PERIODS: '1m', SOURCE: 'replay', REPLAY_FILE: file, REPLAY_SPEED: '0' });
    const ingester = await startIngester(env, new ReplaySource({ file, speed: 0 }));
    stops.push(() => ingester.close());
    const worker = await startTestWorker(env);
    stops.push(() => worker.close());
    const api = await startApi(parseConfig(apiEnv, { ...env, PORT: '0' }));
    stops.push(() => api.close());

    const keys = new Keys(prefix);
    await waitFor(async () => (await redis.hget(keys.clock(), 'done')) === '1', 'the replay to finish');
    const last = good.at(-1)!.time;
    await waitFor(async () => Number(await redis.hget(keys.state('XRP_ETH'), 'c:60000')) >= Math.floor(last / 60_000) * 60_000, 'the candles to close');

    const dl = (await (await fetch(`${api.url}/admin/dead-letter?limit=100`)).json()) as { total: number; entries: { reason: string; sample: string; source: string }[] };
    expect(dl.total).toBe(bad.length);
    expect(dl.entries.map((e) => e.source)).toEqual(bad.map(() => 'replay'));
    const reasons = dl.entries.map((e) => e.reason).join('\n');
    for (const r of [/price/, /time/, /pair/, /quantity is zero/, /id/]) expect(reasons).toMatch(r);
    expect(dl.entries.every((e) => e.reason.length > 0 && e.sample.length > 0)).toBe(true);

    const metrics = await (await fetch(`${api.url}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`^candlestack_ticks_malformed_total ${bad.length}$`, 'm'));
    expect(metrics).toMatch(new RegExp(`^candlestack_ticks_ingested_total ${good.length}$`, 'm'));

    const body = (await (await fetch(`${api.url}/candles/XRP_ETH/1m?limit=100`)).json()) as { candles: Candle[] };
    const expected = candlesFromTicks(good.map(toTick), 60_000).map((c) => toCandle(c, true));
    expect(body.candles).toEqual(expected);

    const badLimit = await fetch(`${api.url}/admin/dead-letter?limit=0`);
    expect(badLimit.status).toBe(400);
  });
});
