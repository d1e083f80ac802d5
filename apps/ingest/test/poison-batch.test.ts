/**
 * A batch the store's script fails on (poison): the writer halves it until
 * the trades at fault are found, sets those aside (dead letters,
 * ticks_poison_total) and writes the rest. Nothing is retried for ever, and
 * other pairs never wait.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { PushSource } from '../../../test/support/push-source.js';
import { counter, startPipeline, waitFor, type Pipeline } from './support/harness.js';

const pipelines: Pipeline[] = [];
afterEach(async () => {
  for (const p of pipelines.splice(0)) await p.close();
});

const T0 = Date.now() - 60_000;
const trade = (pair: string, i: number) => ({ pair, time: T0 + i * 1000 + 7, price: `${100 + (i % 5)}`, quantity: '1', id: String(i) });

describe('poison batches', () => {
  it('finds the trades a script fails on, sets them aside, and writes the rest of the batch and the other pairs', async () => {
    const source = new PushSource(['BTC_USDT', 'ETH_USDT']);
    const p = await startPipeline(source, { env: { PERIODS: '1s,5s' }, worker: false });
    pipelines.push(p);
    await p.ingester.start();
    // A corrupt candle in BTC_USDT's second 20: every trade folded into it
    // makes the add-ticks script fail (cjson cannot decode it).
    const bad = T0 - (T0 % 1000) + 20_000;
    await p.redis.zadd(p.keys.candles('BTC_USDT', 1000), bad, 'not a candle');
    const btc = Array.from({ length: 50 }, (_, i) => trade('BTC_USDT', i));
    const eth = Array.from({ length: 50 }, (_, i) => trade('ETH_USDT', i));
    await source.push([...btc, ...eth]);
    await waitFor('the batch written and the poison set aside', async () => (await counter(p, 'ticks_ingested_total')) === 99 && (await counter(p, 'ticks_poison_total')) === 1);
    const dead = (await p.redis.xrange(p.keys.deadLetter(), '-', '+')).map(([, f]) => ({
      reason: f[f.indexOf('reason') + 1]!,
      sample: JSON.parse(f[f.indexOf('sample') + 1]!) as { pair: string; id: string },
    }));
    expect(dead).toHaveLength(1);
    expect(dead[0]!.sample).toMatchObject({ pair: 'BTC_USDT', id: '20' });
    expect(dead[0]!.reason).toMatch(/^storing this trade failed in Redis: ERR /);
    const btcIds = (await p.store.reads.trades('BTC_USDT', { limit: 1000 })).map((t) => t.id);
    expect(btcIds).toHaveLength(49);
    expect(btcIds).not.toContain('20');
    expect(await p.store.reads.trades('ETH_USDT', { limit: 1000 })).toHaveLength(50);
    expect(p.log.find(/a trade makes the store fail: set aside/)).toHaveLength(1);
    expect(p.log.find(/cannot write trades to Redis/)).toHaveLength(0);
    // And the writer goes on: the next trades are written at once.
    await source.push([trade('BTC_USDT', 60), trade('ETH_USDT', 60)]);
    await waitFor('later trades', async () => (await counter(p, 'ticks_ingested_total')) === 101);
  });

  it('a pair whose keys are broken has its trades set aside; the other pair is written as if nothing happened', async () => {
    const source = new PushSource(['BTC_USDT', 'ETH_USDT']);
    const p = await startPipeline(source, { worker: false });
    pipelines.push(p);
    await p.ingester.start();
    await p.redis.set(p.keys.ids('BTC_USDT'), 'a string, not a sorted set'); // WRONGTYPE for every call
    await source.push([...Array.from({ length: 8 }, (_, i) => trade('BTC_USDT', i)), ...Array.from({ length: 30 }, (_, i) => trade('ETH_USDT', i))]);
    await waitFor('every trade written or set aside', async () => (await counter(p, 'ticks_ingested_total')) === 30 && (await counter(p, 'ticks_poison_total')) === 8);
    const reasons = (await p.redis.xrange(p.keys.deadLetter(), '-', '+')).map(([, f]) => f[f.indexOf('reason') + 1]!);
    expect(reasons.every((r) => /^storing this trade failed in Redis: WRONGTYPE/.test(r))).toBe(true);
  });
});
