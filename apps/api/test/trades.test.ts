/**
 * GET /trades/:pair against a real server and Redis: the recorded market's
 * trades as stored by the write path, every window and every bad request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type ErrorBody, type TestApi } from './helpers.js';
import { MIN, PAIR, T0, TICKS, seedMarket } from './market.js';

interface TradesBody {
  pair: string;
  trades: { id: string; time: number; price: string; quantity: string; side?: string }[];
}

let t: TestApi;
/** What the API must answer: every trade once, oldest first, as sent (no quote amount). */
const ALL = TICKS.map(({ id, time, price, quantity, side }) => ({ id, time, price, quantity, side }));

beforeAll(async () => {
  t = await startTestApi();
  await seedMarket(t);
});
afterAll(() => t.stop());

const trades = async (query: string, pair = PAIR) => {
  const r = await t.get<TradesBody>(`/trades/${pair}${query}`);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  expect(r.body.pair).toBe(PAIR);
  return r.body.trades;
};

describe('GET /trades/:pair', () => {
  it('gives the retained trades once each, oldest first, exactly as sent', async () => {
    expect(ALL).toHaveLength(40);
    const r = await t.get<TradesBody>(`/trades/${PAIR}`);
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    expect(r.body).toEqual({ pair: PAIR, trades: ALL });
    // Field order as DESIGN.md shows it.
    expect(Object.keys(r.body.trades[0]!)).toEqual(['id', 'time', 'price', 'quantity', 'side']);
  });

  it('takes the newest `limit` without `from`, the first `limit` from `from`, and `to` as exclusive', async () => {
    expect(await trades('?limit=3')).toEqual(ALL.slice(-3));
    expect(await trades(`?from=${T0 + 2 * MIN}&limit=5`)).toEqual(ALL.filter((x) => x.time >= T0 + 2 * MIN).slice(0, 5));
    const from = ALL[10]!.time;
    const to = ALL[20]!.time;
    expect(await trades(`?from=${from}&to=${to}`)).toEqual(ALL.slice(10, 20));
    expect(await trades(`?to=${to}&limit=4`)).toEqual(ALL.slice(16, 20));
    // ISO 8601 reads as the same instant (UTC without an offset).
    expect(await trades(`?from=2024-01-01T00:02:00&to=2024-01-01T00:03:00Z`)).toEqual(ALL.filter((x) => x.time >= T0 + 2 * MIN && x.time < T0 + 3 * MIN));
    expect(await trades(`?from=${T0 + 3 * MIN}&to=${T0 + 5 * MIN}`)).toEqual([]);
  });

  it('answers the canonical pair for every accepted spelling, and an empty list for a pair with no trade yet', async () => {
    for (const spelling of ['btc_usdt', 'BTC-USDT', 'btc%2Fusdt']) expect(await trades('?limit=1', spelling)).toEqual(ALL.slice(-1));
    const r = await t.get<TradesBody>('/trades/ETH_USDT');
    expect(r.body).toEqual({ pair: 'ETH_USDT', trades: [] });
  });

  it('refuses a bad parameter with a 400 that says what was wrong', async () => {
    const cases: [string, RegExp][] = [
      ['?limit=0', /limit must be a whole number from 1 to 1000/],
      ['?limit=1001', /limit must be a whole number from 1 to 1000/],
      ['?limit=ten', /limit must be/],
      ['?from=1700000000', /looks like seconds, not ms/],
      ['?from=yesterday', /is not a time/],
      [`?from=${T0 + MIN}&to=${T0}`, /from must be before to/],
      ['?format=csv', /unknown parameter format: the parameters are limit, from, to/],
      ['?limit=1&limit=2', /limit is given more than once/],
    ];
    for (const [query, message] of cases) {
      const r = await t.get<ErrorBody>(`/trades/${PAIR}${query}`);
      expect(r.status, query).toBe(400);
      expect(r.body.error.code, query).toBe('bad_parameter');
      expect(r.body.error.message, query).toMatch(message);
    }
  });

  it('answers 404 for a pair not followed, 405 for another method', async () => {
    for (const pair of ['NOPE_USDT', 'not a pair']) {
      const r = await t.get<ErrorBody>(`/trades/${encodeURIComponent(pair)}`);
      expect(r.status, pair).toBe(404);
      expect(r.body.error.code).toBe('unknown_pair');
    }
    const r = await t.fetch(`/trades/${PAIR}`, { method: 'POST' });
    expect(r.status).toBe(405);
    expect(r.headers.get('allow')).toBe('GET, HEAD');
  });
});
