/**
 * History imported from the exchange (issue 12), as the API shows it,
 * against a real server and Redis seeded as the ingester leaves a pair
 * (history-market.ts): /pairs says where the history starts, where live
 * data begins and how exact the boundary is; /candles passes each candle's
 * origin through; both match the served OpenAPI document.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toCandle, type Candle as BuiltCandle } from '@candlestack/shared';
import { startTestApi, type TestApi } from './helpers.js';
import { LIVE_FROM, MIN, T0, historyCandles, seedHistory } from './history-market.js';

/** A public candle, with the origin the imported ones carry. */
type Candle = BuiltCandle & { origin?: 'exchange' | 'mixed' };

interface PairsBody {
  pairs: { pair: string; lastTradeTime: number | null; history: unknown }[];
}

let t: TestApi;
let ajv: Ajv2020;

beforeAll(async () => {
  t = await startTestApi();
  await seedHistory(t);
  const doc = (await t.get<{ components: object }>('/openapi.json')).body;
  ajv = new Ajv2020({ strict: false });
  ajv.addKeyword('example');
  ajv.addSchema({ $id: 'doc', components: doc.components });
});
afterAll(() => t.stop());

function check(schema: string, body: unknown): void {
  const validate = ajv.getSchema(`doc#/components/schemas/${schema}`)!;
  expect(validate(body), JSON.stringify(validate.errors)).toBe(true);
}

/** The public candles of the seeded market in [from, to), with their origin (the reference, built apart from the API). */
function expected(pair: string, period: '1m' | '5m', from: number, to: number): Candle[] {
  const { m1, m5 } = historyCandles(pair);
  return (period === '1m' ? m1 : m5)
    .filter(({ c }) => c.time >= from && c.time < to)
    .map(({ c, origin }) => {
      const { closed, ...pub } = toCandle(c, true);
      return (origin ? { ...pub, origin, closed } : { ...pub, closed }) as Candle;
    });
}

describe('GET /pairs with imported history', () => {
  it("tells each pair's history: where it starts, where live begins, the boundary, an import under way, or null", async () => {
    const r = await t.get<PairsBody>('/pairs');
    expect(r.status).toBe(200);
    const history = Object.fromEntries(r.body.pairs.map((p) => [p.pair, p.history]));
    expect(history).toEqual({
      BTC_USDT: { from: T0, liveFrom: LIVE_FROM, period: '1m', boundary: 'incomplete', importing: false },
      ETH_USDT: { from: T0, liveFrom: LIVE_FROM, period: '1m', boundary: 'exact', importing: false },
      XRP_USDT: { from: T0, liveFrom: null, period: '1m', boundary: 'pending', importing: true },
      LTC_USDT: null,
    });
    check('PairsResponse', r.body);
  });

  it('says pending while the boundary bucket is not known yet (no hx)', async () => {
    await t.redis.hdel(t.keys.state('ETH_USDT'), 'hx');
    try {
      const r = await t.get<PairsBody>('/pairs');
      expect(r.body.pairs.find((p) => p.pair === 'ETH_USDT')!.history).toEqual({ from: T0, liveFrom: LIVE_FROM, period: '1m', boundary: 'pending', importing: false });
    } finally {
      await t.redis.hset(t.keys.state('ETH_USDT'), 'hx', '1');
    }
  });
});

describe('GET /candles with imported history', () => {
  it('marks the imported 1m candles origin exchange and those built from trades not at all, trade ids cut off', async () => {
    const from = LIVE_FROM - 3 * MIN;
    const r = await t.get<{ candles: Candle[] }>(`/candles/BTC_USDT/1m?from=${from}&limit=6`);
    expect(r.status).toBe(200);
    expect(r.body.candles.map((c) => [c.time, c.origin])).toEqual([
      [from, 'exchange'],
      [from + MIN, 'exchange'],
      [from + 2 * MIN, 'exchange'],
      [LIVE_FROM, undefined],
      [LIVE_FROM + MIN, undefined],
      [LIVE_FROM + 2 * MIN, undefined],
    ]);
    expect(r.body.candles).toEqual(expected('BTC_USDT', '1m', from, from + 6 * MIN));
    check('CandlesResponse', r.body);
  });

  it('marks the 5m candle holding the boundary mixed', async () => {
    const r = await t.get<{ candles: Candle[] }>(`/candles/BTC_USDT/5m?from=${T0 + 110 * MIN}&to=${T0 + 130 * MIN}`);
    expect(r.status).toBe(200);
    expect(r.body.candles.map((c) => [(c.time - T0) / MIN, c.origin ?? null])).toEqual([
      [110, 'exchange'],
      [115, 'exchange'],
      [120, 'mixed'],
      [125, null],
    ]);
    expect(r.body.candles).toEqual(expected('BTC_USDT', '5m', T0 + 110 * MIN, T0 + 130 * MIN));
    check('CandlesResponse', r.body);
  });

  it('keeps the rows and CSV columns as they were (origin is in the JSON objects only)', async () => {
    const rows = await t.get<{ candles: unknown[][] }>(`/candles/BTC_USDT/1m?from=${LIVE_FROM - MIN}&limit=2&format=array`);
    expect(rows.body.candles.map((row) => row.length)).toEqual([9, 9]);
    check('CandleRowsResponse', rows.body);
  });
});
