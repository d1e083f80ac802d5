/**
 * GET /candles/:pair/:period against a real server and Redis: a replayed
 * market (fixed times, exact answers), then a live one (wall clock).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIVE_CLOCK, bucketStart, canonical, closeLimits, decimal, type Candle, type Tick } from '@candlestack/shared';
import { startTestApi, type ErrorBody, type TestApi } from './helpers.js';
import { MIN, PAIR, T0, expectedCandles, seedMarket } from './market.js';

interface CandlesBody {
  pair: string;
  period: string;
  candles: Candle[];
}

let t: TestApi;
const ref1m = expectedCandles(MIN);
const ref5m = expectedCandles(5 * MIN);
const candles = async (query: string, path = `/candles/${PAIR}/1m`) => {
  const r = await t.get<CandlesBody>(`${path}${query}`);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.candles;
};

beforeAll(async () => {
  t = await startTestApi();
  await seedMarket(t);
});
afterAll(() => t.stop());

describe('GET /candles/:pair/:period', () => {
  it('the reference data is what the tests below assume', () => {
    expect(ref1m).toHaveLength(12);
    expect(ref1m.filter((c) => !c.closed).map((c) => c.time)).toEqual([T0 + 11 * MIN]);
    expect(ref1m.filter((c) => c.trades === 0).map((c) => c.time)).toEqual([T0 + 3 * MIN, T0 + 4 * MIN]);
    expect(ref5m.map((c) => c.closed)).toEqual([true, true, false]);
  });

  it('gives closed candles then the forming one, oldest first, equal to a fold of the ticks', async () => {
    const r = await t.get<CandlesBody>(`/candles/${PAIR}/1m`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    expect(r.body).toEqual({ pair: PAIR, period: '1m', candles: ref1m });
  });

  it('assembles a longer forming candle from closed and forming parts', async () => {
    expect(await candles('', `/candles/${PAIR}/5m`)).toEqual(ref5m);
  });

  it('never shows stored internals', async () => {
    for (const c of await candles('')) {
      expect(Object.keys(c).sort()).toEqual(['close', 'closed', 'high', 'low', 'open', 'quoteVolume', 'time', 'trades', 'volume']);
    }
  });

  it('answers the canonical pair for every accepted spelling', async () => {
    for (const spelling of ['btc_usdt', 'btc-usdt', 'BTC-USDT', 'BTC%2FUSDT', 'btc%2fusdt']) {
      const r = await t.get<CandlesBody>(`/candles/${spelling}/1m?limit=2`);
      expect(r.status, spelling).toBe(200);
      expect(r.body.pair).toBe(PAIR);
      expect(r.body.candles).toEqual(ref1m.slice(-2));
    }
  });

  it('accepts a period written in other units, answering its label', async () => {
    const r = await t.get<CandlesBody>(`/candles/${PAIR}/60s?limit=1`);
    expect(r.body.period).toBe('1m');
  });

  it('gives an empty list for a pair with no trade yet', async () => {
    expect(await t.get(`/candles/ETH_USDT/5m`)).toMatchObject({ status: 200, body: { pair: 'ETH_USDT', period: '5m', candles: [] } });
  });

  describe('limit, from, to', () => {
    it('without from: the newest limit, forming included', async () => {
      expect(await candles('?limit=3')).toEqual(ref1m.slice(-3));
      expect(await candles('?limit=1')).toEqual(ref1m.slice(-1));
    });

    it('with from: the first limit from there (inclusive)', async () => {
      expect(await candles(`?from=${T0 + 2 * MIN}&limit=3`)).toEqual(ref1m.slice(2, 5));
      expect(await candles(`?from=${T0 + 2 * MIN + 1}&limit=3`)).toEqual(ref1m.slice(3, 6));
      expect(await candles(`?from=${T0 + 10 * MIN}`)).toEqual(ref1m.slice(10));
    });

    it('to is exclusive; a to in the past leaves the forming candle out', async () => {
      expect(await candles(`?to=${T0 + 5 * MIN}`)).toEqual(ref1m.slice(0, 5));
      expect(await candles(`?from=${T0 + 8 * MIN}&to=${T0 + 11 * MIN}`)).toEqual(ref1m.slice(8, 11));
      // 00:11:01 is before the replay's now (00:11:41): the bucket of 00:11 is not shown.
      expect(await candles(`?to=${T0 + 11 * MIN + 1000}`)).toEqual(ref1m.slice(0, 11));
    });

    it('a to in the future keeps the forming candle', async () => {
      expect(await candles(`?to=${T0 + 12 * MIN}`)).toEqual(ref1m);
      expect(await candles(`?from=${T0 + 11 * MIN}&to=${T0 + 60 * MIN}`)).toEqual(ref1m.slice(11));
    });

    it('reads ISO 8601 as well as ms', async () => {
      const at2 = ref1m.slice(2, 4);
      for (const from of [
        '2024-01-01T00:02:00Z',
        '2024-01-01T00:02:00.000Z',
        '2024-01-01T00:02Z',
        '2024-01-01T00:02:00',
        '2024-01-01T01:02:00%2B01:00',
        '2024-01-01T01:02:00+01:00', // an unencoded + arrives as a space
        '2023-12-31T23:02:00-01:00',
      ]) {
        expect(await candles(`?from=${from}&limit=2`), from).toEqual(at2);
      }
      expect(await candles('?from=2024-01-01&to=2024-01-01T00:03:00Z')).toEqual(ref1m.slice(0, 3));
    });

    it('a window with nothing in it is empty, not an error', async () => {
      expect(await candles(`?to=${T0}`)).toEqual([]);
      expect(await candles(`?from=${T0 + 120 * MIN}`)).toEqual([]);
    });
  });

  it('gives CSV with the exact header, one row per candle', async () => {
    const res = await t.fetch(`/candles/${PAIR}/1m?format=csv&limit=3`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    const rows = ref1m
      .slice(-3)
      .map((c) => `${c.time},${c.open},${c.high},${c.low},${c.close},${c.volume},${c.quoteVolume},${c.trades},${c.closed}`);
    expect(await res.text()).toBe(['time,open,high,low,close,volume,quoteVolume,trades,closed', ...rows, ''].join('\n'));
    expect(rows[2]).toMatch(/,false$/);
  });

  it('gives rows [time, open, high, low, close, volume, quoteVolume, trades, closed] with format=array, money as exact strings', async () => {
    const r = await t.get<{ pair: string; period: string; candles: unknown[][] }>(`/candles/btc-usdt/1m?format=array&limit=3`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(r.body).toEqual({
      pair: PAIR,
      period: '1m',
      candles: ref1m.slice(-3).map((c) => [c.time, c.open, c.high, c.low, c.close, c.volume, c.quoteVolume, c.trades, c.closed]),
    });
    // The same window as the objects, row for row.
    const objects = await candles('?limit=3');
    expect(r.body.candles.map((row) => row[0])).toEqual(objects.map((c) => c.time));
    expect(r.body.candles.every((row) => typeof row[1] === 'string' && typeof row[7] === 'number')).toBe(true);
  });

  describe('bad requests: 4xx with the JSON error body', () => {
    const p = `/candles/${PAIR}`;
    const cases: [string, number, string][] = [
      ...['0', '5001', '-1', '1.5', 'abc', '', '1e3', ' 5'].map((v): [string, number, string] => [`${p}/1m?limit=${v}`, 400, 'bad_parameter']),
      ...['yesterday', '2024-13-01', '2024-02-30', '2024-01-01T25:00:00Z', '-5', '1e12', '99999999999999999', '2024-01-01T00:00:00+25:00'].map(
        (v): [string, number, string] => [`${p}/1m?from=${encodeURIComponent(v)}`, 400, 'bad_parameter'],
      ),
      [`${p}/1m?to=abc`, 400, 'bad_parameter'],
      [`${p}/1m?to=`, 400, 'bad_parameter'],
      [`${p}/1m?from=${T0 + MIN}&to=${T0 + MIN}`, 400, 'bad_parameter'],
      [`${p}/1m?from=${T0 + 2 * MIN}&to=${T0 + MIN}`, 400, 'bad_parameter'],
      [`${p}/1m?limit=1&limit=2`, 400, 'bad_parameter'],
      [`${p}/1m?form=${T0}`, 400, 'bad_parameter'],
      [`${p}/1m?format=xml`, 400, 'bad_parameter'],
      [`${p}/1m?format=csv&format=json`, 400, 'bad_parameter'],
      [`${p}/7m`, 400, 'bad_period'],
      [`${p}/abc`, 400, 'bad_period'],
      [`${p}/0m`, 400, 'bad_period'],
      [`${p}/2m`, 400, 'bad_period'],
      [`${p}/1h`, 400, 'bad_period'],
      ['/candles/ETH_BTC/1m', 404, 'unknown_pair'],
      ['/candles/bitcoin/1m', 404, 'unknown_pair'],
      ['/candles/BTC/USDT/1m', 404, 'not_found'],
      ['/candles/BTC_USDT', 404, 'not_found'],
      ['/nowhere', 404, 'not_found'],
    ];
    for (const [path, status, code] of cases) {
      it(`${path} -> ${status} ${code}`, async () => {
        const res = await t.fetch(path);
        expect(res.status).toBe(status);
        expect(res.headers.get('content-type')).toMatch(/^application\/json/);
        const body = (await res.json()) as ErrorBody;
        expect(Object.keys(body)).toEqual(['error']);
        expect(Object.keys(body.error)).toEqual(['code', 'message']);
        expect(body.error.code).toBe(code);
        expect(body.error.message).toMatch(/\w/);
        expect(body.error.message).not.toMatch(/\n\s+at /);
      });
    }

    it('a period not built lists the periods that are', async () => {
      const r = await t.get<ErrorBody>(`${p}/2m`);
      expect(r.body.error.message).toMatch(/1m, 5m/);
    });

    it('names the bad parameter', async () => {
      expect((await t.get<ErrorBody>(`${p}/1m?limit=0`)).body.error.message).toMatch(/limit/);
      expect((await t.get<ErrorBody>(`${p}/1m?form=1`)).body.error.message).toMatch(/unknown parameter form/);
    });

    it('says when a time looks like seconds, not ms (DESIGN.md)', async () => {
      const r = await t.get<ErrorBody>(`${p}/1m?from=${T0 / 1000}`);
      expect(r.status).toBe(400);
      expect(r.body.error).toEqual({ code: 'bad_parameter', message: `from=${T0 / 1000} looks like seconds, not ms: multiply by 1000 (from=${T0})` });
    });

    it('other methods get 405 with Allow', async () => {
      const res = await t.fetch(`${p}/1m`, { method: 'POST', body: '{bad json', headers: { 'content-type': 'application/json' } });
      expect(res.status).toBe(405);
      expect(res.headers.get('allow')).toBe('GET, HEAD');
      expect(((await res.json()) as ErrorBody).error.code).toBe('method_not_allowed');
    });
  });
});

describe('GET /candles with a live source: time is the wall clock', () => {
  let live: TestApi;
  beforeAll(async () => {
    live = await startTestApi();
    const start = Date.now() - 3 * MIN;
    const ticks: Tick[] = Array.from({ length: 30 }, (_, i) => {
      const price = canonical(`${2000 + i}.5`);
      return { pair: 'ETH_USDT', time: start + i * 6000, price, quantity: '1', amount: decimal.mul(price, '1'), id: String(i + 1) };
    });
    await live.store.registerPairs(['ETH_USDT']);
    await live.store.addTicks('ETH_USDT', ticks);
    await live.store.closePair('ETH_USDT', closeLimits(live.store.plan, LIVE_CLOCK, live.config.GRACE_MS));
  });
  afterAll(() => live.stop());

  it('ends with the candle of the current minute, not closed', async () => {
    const before = bucketStart(Date.now(), MIN);
    const r = await live.get<CandlesBody>('/candles/eth-usdt/1m');
    const after = bucketStart(Date.now(), MIN);
    const list = r.body.candles;
    expect(list.at(-1)?.closed).toBe(false);
    expect([before, after]).toContain(list.at(-1)?.time);
    // Contiguous, oldest first: no bucket missing or repeated.
    for (let i = 1; i < list.length; i++) expect(list[i]!.time - list[i - 1]!.time).toBe(MIN);
    expect(list.filter((c) => c.closed).length).toBeGreaterThanOrEqual(2);
  });

  it('leaves the forming candle out when to is in the past', async () => {
    const to = bucketStart(Date.now(), MIN) - MIN + 1;
    const r = await live.get<CandlesBody>(`/candles/ETH_USDT/1m?to=${new Date(to).toISOString()}`);
    expect(r.body.candles.length).toBeGreaterThan(0);
    expect(r.body.candles.every((c) => c.closed && c.time < to)).toBe(true);
  });
});
