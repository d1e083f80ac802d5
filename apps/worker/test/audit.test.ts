/**
 * The audit against the Poloniex stand-in: the real ingester and worker
 * in-process over the test Redis, the stand-in serving the exchange's own
 * candles computed from the trades it executed, and the real API reporting
 * the results (/metrics, /admin/audit, /readyz).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { candlesFromTicks, enqueueClose } from '@candlestack/shared';
import { closedCandles, startPipeline, ticksOf, view, waitFor, type Pipeline } from '../../ingest/test/support/harness.js';
import { liveSource } from '../../ingest/test/support/live.js';
import { PoloniexStandIn, type WireTrade } from '../../ingest/test/support/poloniex-stand-in.js';
import { startTestApi, type TestApi } from '../../api/test/helpers.js';
import { sleep } from '../../../test/support/wait.js';

const MIN = 60_000;
const ADMIN = { ADMIN_USER: 'ops', ADMIN_PASSWORD: 'secret' };
const auth = { authorization: `Basic ${Buffer.from('ops:secret').toString('base64')}` };

let standIn: PoloniexStandIn;
const open: { close?: () => Promise<void>; stop?: () => Promise<void> }[] = [];
/** Every wait the audit asked for (its pacing and 429 backoffs). */
let waits: number[] = [];

beforeAll(async () => {
  standIn = await PoloniexStandIn.start();
});
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await (o.close?.() ?? o.stop?.());
  standIn.candlesDown = false;
  standIn.quietBuckets = 'absent';
  waits = [];
});
afterAll(async () => {
  await standIn.close();
});

/** A pipeline following `pair` on the stand-in, 1m candles, the audit every 300 ms with test pacing. */
async function start(pair: string): Promise<Pipeline> {
  const p = await startPipeline(liveSource(standIn, [pair]), {
    env: { PERIODS: '1m', GRACE_MS: '200', POLONIEX_REST_URL: standIn.restUrl },
    workerOptions: {
      auditEveryMs: 300,
      audit: {
        settleMs: 0,
        ratePerSecond: 20,
        backoff: { initialMs: 50, maxMs: 200 },
        sleep: (ms) => {
          waits.push(ms);
          return sleep(ms);
        },
      },
    },
  });
  open.push(p);
  await waitFor('subscribed', () => standIn.subscribed(pair));
  return p;
}

/**
 * Trades in the three minutes before the last full one (which stays flat),
 * executed in one message so they are stored together, then a close run:
 * the buckets are closed complete, as a live close would.
 */
async function tradeAndClose(p: Pipeline, pair: string, first = Math.floor(Date.now() / MIN) * MIN - 4 * MIN): Promise<{ first: number; trades: WireTrade[] }> {
  const specs = [0, 1, 2].flatMap((k) =>
    [5_000, 20_000, 41_000, 59_000].map((at, i) => ({
      price: `${100 + k * 3 + (i % 3)}.${i}0`,
      quantity: `0.${k + 1}${i}5`,
      side: i % 2 === 0 ? ('buy' as const) : ('sell' as const),
      createTime: first + k * MIN + at,
    })),
  );
  const trades = standIn.execute(pair, specs);
  await waitFor('trades stored', async () => ((await p.store.state(pair)).lastTradeTime ?? 0) >= trades.at(-1)!.createTime);
  await enqueueClose(p.worker!.queue, 'test close');
  await closedCandles(p, pair, MIN, first, first + 2 * MIN);
  return { first, trades };
}

/** Waits until the audit has recorded `pair`'s 1m buckets through `through`. */
async function audited(p: Pipeline, pair: string, through: number): Promise<void> {
  await waitFor(`${pair} audited through ${new Date(through).toISOString()}`, async () => Number((await p.redis.hget(p.keys.auditCursors(), `${pair}:1m`)) ?? -1) >= through);
}

async function api(p: Pipeline): Promise<TestApi> {
  const t = await startTestApi({ REDIS_PREFIX: p.prefix, PERIODS: '1m', ...ADMIN });
  open.push(t);
  return t;
}

async function audits(t: TestApi): Promise<Record<string, number>> {
  const text = await (await t.fetch('/metrics')).text();
  return Object.fromEntries([...text.matchAll(/^candlestack_candles_audited_total\{result="(\w+)"\} (\d+)$/gm)].map((m) => [m[1]!, Number(m[2])]));
}

describe('the audit', () => {
  it("counts candles equal to the exchange's, and shows an injected difference with both candles", async () => {
    const pair = 'BTC_USDT';
    const p = await start(pair);
    const first = Math.floor(Date.now() / MIN) * MIN - 4 * MIN;
    standIn.alterCandle(pair, 'MINUTE_1', first + MIN, { close: '1' });
    const { trades } = await tradeAndClose(p, pair, first);
    // Through the last full minute, which had no trade: flat here, left out by the exchange.
    await audited(p, pair, first + 3 * MIN);

    const t = await api(p);
    const counts = await audits(t);
    expect(counts.differs).toBe(1);
    expect(counts.equal).toBeGreaterThanOrEqual(3);
    expect(counts.unavailable).toBe(0);

    // One request covered several buckets.
    const asked = standIn.restRequests.filter((r) => r.startsWith(`/markets/${pair}/candles?`));
    const q = new URLSearchParams(asked[0]!.split('?')[1]);
    expect(q.get('interval')).toBe('MINUTE_1');
    expect(Number(q.get('startTime'))).toBe(first);
    expect(Number(q.get('endTime'))).toBeGreaterThanOrEqual(first + 3 * MIN - 1);

    expect((await t.fetch('/admin/audit')).status).toBe(401);
    const res = await t.get<{ total: number; differences: Record<string, unknown>[] }>('/admin/audit', { headers: auth });
    expect(res.status).toBe(200);
    expect(res.body.total).toBe(1);
    const expected = view(candlesFromTicks(ticksOf(trades), MIN)[1]!);
    expect(res.body.differences[0]).toMatchObject({
      pair,
      period: '1m',
      time: first + MIN,
      fields: ['close'],
      ours: { ...expected, closed: true },
      exchange: { ...expected, close: '1' },
    });
  });

  it('waits out 429 answers (Retry-After, else a backoff) and asks again', async () => {
    const pair = 'ETH_USDT';
    const p = await start(pair);
    // This time the exchange lists the quiet minute, flat at the previous close.
    standIn.quietBuckets = 'flat';
    const before = standIn.rateLimited;
    // The second 429 carries no Retry-After: the audit's own backoff.
    standIn.failCandles('http-429-retry-after-1', 'http-429');
    const { first } = await tradeAndClose(p, pair);
    await audited(p, pair, first + 3 * MIN);
    expect(standIn.rateLimited).toBe(before + 2);
    expect(standIn.restRequests.some((r) => r.startsWith(`/markets/${pair}/candles?`) && r.includes(`startTime=${first}&`))).toBe(true);

    // Retry-After: 1 s was waited (less the time the answer took to arrive); the backoff starts at 50 ms.
    expect(Math.max(...waits)).toBeGreaterThan(500);
    expect(waits.filter((ms) => ms >= 25).length).toBeGreaterThanOrEqual(2);
    const counts = await audits(await api(p));
    expect(counts.unavailable).toBe(0);
    expect(counts.differs).toBe(0);
    expect(counts.equal).toBeGreaterThanOrEqual(4);
  });

  it('does not run with AUDIT=off', async () => {
    const p = await startPipeline(liveSource(standIn, ['BTC_USDT']), { env: { PERIODS: '1m', AUDIT: 'off', POLONIEX_REST_URL: standIn.restUrl } });
    open.push(p);
    expect(p.worker!.auditQueue).toBeUndefined();
    expect(p.log.find(/audit off \(AUDIT=off\)/).length).toBe(1);
  });

  it('counts candles as unavailable while the REST API is down, and closing goes on', async () => {
    const pair = 'SOL_USDT';
    const p = await start(pair);
    standIn.candlesDown = true;
    const { first, trades } = await tradeAndClose(p, pair);
    await audited(p, pair, first + 2 * MIN);
    const counts = await audits(await api(p));
    expect(counts.unavailable).toBeGreaterThanOrEqual(3);
    expect(counts.equal).toBe(0);
    expect(counts.differs).toBe(0);
    // The candles closed all the same, as the trades make them.
    const got = await closedCandles(p, pair, MIN, first, first + 2 * MIN);
    expect(got.map(view)).toEqual(candlesFromTicks(ticksOf(trades), MIN).map(view));
  });
  it("starts where live data begins after a history import: the exchange's own candles are not compared with themselves", async () => {
    const pair = 'ADA_USDT';
    const s = await PoloniexStandIn.start({ markets: [{ symbol: pair, state: 'NORMAL' }] });
    open.push({ close: () => s.close() });
    const now = Date.now();
    s.execute(pair, Array.from({ length: 60 }, (_, i) => ({ price: `1.${10 + (i % 50)}`, quantity: '10', createTime: now - 61 * MIN + i * MIN })), { broadcast: false });
    const p = await startPipeline(liveSource(s, [pair], { historyMs: 2 * 60 * MIN, history: { ratePerSecond: 20, settleMs: 1_000, progressMs: 0 } }), {
      env: { PERIODS: '1m', GRACE_MS: '200', POLONIEX_REST_URL: s.restUrl },
      workerOptions: { auditEveryMs: 300, audit: { settleMs: 0, ratePerSecond: 20 } },
    });
    open.push(p);
    await waitFor('imported and subscribed', () => s.subscribed(pair), 20_000);
    const boundary = Number(await p.redis.hget(p.keys.state(pair), 'hb'));
    expect(boundary).toBeGreaterThan(0);
    const imported = s.candleRequests.length;
    // Five audit runs: without the boundary, the first would ask for the last 100 closed (imported) candles.
    await sleep(1_500);
    const asked = s.candleRequests.slice(imported).map((r) => r.startTime);
    expect(asked.filter((t) => t < boundary)).toEqual([]);
    // Nothing audited, or (a minute ended meanwhile) live buckets only: from the boundary's own on.
    const cursor = await p.redis.hget(p.keys.auditCursors(), `${pair}:1m`);
    if (cursor !== null) expect(Number(cursor)).toBeGreaterThanOrEqual(Math.floor(boundary / MIN) * MIN);
  });
});
