/**
 * What keeps a request's cost independent of the number of pairs (issue 9,
 * goal 7), against a real server and Redis: /pairs at many pairs, the pairs
 * known from memory (and a new one found at once), /readyz and /metrics
 * answers shared for a while, then computed anew.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonical, decimal, type Tick } from '@candlestack/shared';
import { startTestApi, type ErrorBody, type TestApi } from './helpers.js';

const PAIRS = 1_500;
const names = Array.from({ length: PAIRS }, (_, i) => `S${i}_USDT`);
const tick = (pair: string, time: number, id: number): Tick => {
  const price = canonical(`${100 + (id % 7)}.5`);
  return { pair, time, price, quantity: '1', amount: decimal.mul(price, '1'), id: String(id) };
};

interface PairsBody {
  pairs: { pair: string; lastTradeTime: number | null; history: unknown }[];
  periods: string[];
}

let t: TestApi;
beforeAll(async () => {
  t = await startTestApi();
  await t.store.registerPairs(names);
  // Every tenth pair has traded, at a time of its own.
  const now = Date.now();
  await Promise.all(names.filter((_, i) => i % 10 === 0).map((pair, k) => t.store.addTicks(pair, [tick(pair, now - 60_000 + k, k + 1)])));
});
afterAll(() => t.stop());

describe('GET /pairs at many pairs', () => {
  it('lists every pair with its own last trade time, as the pair states hold them', async () => {
    const r = await t.get<PairsBody>('/pairs');
    expect(r.status).toBe(200);
    // The reference: each pair's state read on its own.
    const sorted = [...names].sort();
    const expected = await Promise.all(
      sorted.map(async (pair) => {
        const lt = await t.redis.hget(t.keys.state(pair), 'lt');
        return { pair, lastTradeTime: lt === null ? null : Number(lt), history: null };
      }),
    );
    expect(r.body.pairs).toEqual(expected);
    expect(r.body.pairs.filter((p) => p.lastTradeTime !== null)).toHaveLength(PAIRS / 10);
    expect(r.body.periods).toEqual(['1m', '5m']);
  });
});

describe('known pairs', () => {
  it('serves a pair registered after the API read the set, at once', async () => {
    expect((await t.fetch('/candles/S1_USDT/1m')).status).toBe(200);
    await t.store.registerPairs(['LATE_USDT']);
    const r = await t.get<{ pair: string; candles: unknown[] }>('/candles/late-usdt/1m');
    expect(r).toMatchObject({ status: 200, body: { pair: 'LATE_USDT', candles: [] } });
  });

  it('says 404 for an unknown pair, and serves it within about a second of its registration', async () => {
    const r = await t.get<ErrorBody>('/candles/NEWER_USDT/1m');
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ error: { code: 'unknown_pair', message: 'unknown pair NEWER_USDT: the pairs served are listed at /pairs' } });
    await t.store.registerPairs(['NEWER_USDT']);
    await expect.poll(async () => (await t.fetch('/candles/NEWER_USDT/1m')).status, { timeout: 5_000, interval: 100 }).toBe(200);
  });
});

describe('/readyz and /metrics', () => {
  const healthy = async (source = 'simulated') => {
    await t.stats.writeSourceStatus({ source, state: 'connected', detail: '', gaps: 0 });
    for (const label of ['1m', '5m']) await t.stats.closeRun(label, Date.now(), 40);
  };

  it('answer concurrent callers alike, and say what changed within about a second', async () => {
    await healthy();
    await expect.poll(async () => (await t.fetch('/readyz')).status, { timeout: 5_000, interval: 100 }).toBe(200);
    const bodies = await Promise.all(Array.from({ length: 20 }, async () => (await t.fetch('/readyz')).text()));
    expect(new Set(bodies).size).toBe(1);

    await t.stats.writeSourceStatus({ source: 'simulated', state: 'disconnected', detail: 'gone', gaps: 0 });
    await expect.poll(async () => (await t.get<{ reasons: string[] }>('/readyz')).body.reasons, { timeout: 5_000, interval: 100 }).toEqual([
      'source simulated is disconnected: gone',
    ]);

    await t.stats.incr({ ticks_poison_total: 3 });
    await expect.poll(async () => (await t.fetch('/metrics')).text(), { timeout: 5_000, interval: 100 }).toMatch(/^candlestack_ticks_poison_total 3$/m);
    // The per-pair counters of every pair are summed (the 150 trades stored above).
    expect(await (await t.fetch('/metrics')).text()).toMatch(new RegExp(`^candlestack_ticks_ingested_total ${PAIRS / 10}$`, 'm'));
  });

  it('give the same answer again while it is young, rather than reading Redis per request', async () => {
    const slow = await startTestApi({}, { statusMaxAgeMs: 60_000 });
    try {
      await slow.stats.writeSourceStatus({ source: 'simulated', state: 'connected', detail: '', gaps: 0 });
      const first = await slow.fetch('/readyz');
      const firstBody = await first.text();
      const metrics = await (await slow.fetch('/metrics')).text();
      await slow.stats.writeSourceStatus({ source: 'simulated', state: 'disconnected', detail: 'gone', gaps: 0 });
      await slow.stats.incr({ ticks_poison_total: 9 });
      // A minute is far longer than this test: the answers are the ones computed above.
      const again = await slow.fetch('/readyz');
      expect(again.status).toBe(first.status);
      expect(await again.text()).toBe(firstBody);
      expect(await (await slow.fetch('/metrics')).text()).toBe(metrics);
      expect(metrics).not.toMatch(/^candlestack_ticks_poison_total 9$/m);
    } finally {
      await slow.stop();
    }
  });
});
