/**
 * The ingester killed with SIGKILL and started again, as a real process:
 * - live (Poloniex, through the local stand-in): the trades made while it was
 *   down come back from the REST backfill; no trade lost, none doubled;
 *   (a restart after SIGKILL is another process: it takes the pairs once
 *   the dead one's leases lapse, within 15 s);
 * - a replay: the restarted replay resumes where its file was last written;
 *   every trade counts once (none read again, none lost);
 * - a history import (docs/history.md), killed between its requests: the
 *   restart resumes it, and the candles are exactly what the trades give.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { CandleStore, Keys, Stats, candlesFromTicks, parseCandles, parsePeriods, planPeriods, toTick, type StoredCandle } from '@candlestack/shared';
import { PoloniexStandIn, type WireTrade } from '../../apps/ingest/test/support/poloniex-stand-in.js';
import { startTestWorker } from '../support/pipeline.js';
import { AppProcess } from '../support/processes.js';
import { TEST_REDIS_URL, deletePrefix, testPrefix } from '../support/redis.js';
import { binanceKlines, binanceTicks } from '../support/binance.js';
import { rng, syntheticTicks } from '../support/synthetic.js';
import { sleep, waitFor } from '../support/wait.js';

const redis = new Redis(TEST_REDIS_URL);
const dir = mkdtempSync(join(tmpdir(), 'candlestack-ingest-fault-'));
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  redis.disconnect();
  rmSync(dir, { recursive: true, force: true });
});

const strip = ({ ot: _a, oi: _b, ct: _c, ci: _d, ...c }: StoredCandle) => c;
const plan = planPeriods(parsePeriods('1s,5s'));

function setup(name: string, periods = plan) {
  const prefix = testPrefix(name);
  const keys = new Keys(prefix);
  cleanups.push(() => deletePrefix(prefix));
  return { prefix, keys, store: new CandleStore(redis, keys, periods), stats: new Stats(redis, keys) };
}

describe('ingester killed with SIGKILL', () => {
  it('live: restarted, it backfills what was traded while it was down; nothing lost, nothing doubled', async () => {
    const standIn = await PoloniexStandIn.start();
    cleanups.push(() => standIn.close());
    const { prefix, keys, store, stats } = setup('fault-ingest-live');
    const env = {
      REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: prefix, PERIODS: '1s,5s', GRACE_MS: '300',
      SOURCE: 'poloniex', PAIRS: 'BTC_USDT,ETH_USDT', POLONIEX_WS_URL: standIn.wsUrl, POLONIEX_REST_URL: standIn.restUrl,
    };
    const worker = await startTestWorker(env);
    cleanups.push(() => worker.close());
    const rnd = rng(5);
    const made: WireTrade[] = [];
    const trade = (broadcast: boolean) => {
      for (const symbol of ['BTC_USDT', 'ETH_USDT']) {
        const price = `${symbol === 'BTC_USDT' ? 37_000 : 2_000}.${String(Math.floor(rnd() * 100)).padStart(2, '0')}`;
        made.push(...standIn.execute(symbol, [{ price, quantity: `0.${1 + Math.floor(rnd() * 9)}`, side: rnd() < 0.5 ? 'buy' : 'sell' }], { broadcast }));
      }
    };

    const first = AppProcess.start('ingest', env);
    cleanups.push(() => first.kill());
    await waitFor(() => standIn.subscribed('BTC_USDT') && standIn.subscribed('ETH_USDT'), 'the subscriptions');
    await first.waitForLog((l) => /following 2 pair/.test(String(l.msg)), 'start-up');
    for (let i = 0; i < 20; i++) {
      trade(true);
      await sleep(100);
    }
    await waitFor(async () => ((await stats.read()).ticks_ingested_total ?? 0) >= made.length, 'live trades stored');
    await first.kill('SIGKILL');
    // Trades nobody hears: only REST will list them.
    for (let i = 0; i < 15; i++) {
      trade(false);
      await sleep(100);
    }
    const second = AppProcess.start('ingest', env);
    cleanups.push(() => second.kill());
    await waitFor(() => standIn.connected === 1 && standIn.subscribed('BTC_USDT'), 'the restarted ingester to subscribe', 20_000);
    for (let i = 0; i < 10; i++) {
      trade(true);
      await sleep(100);
    }
    await waitFor(async () => ((await stats.read()).ticks_ingested_total ?? 0) >= made.length, 'every trade stored', 20_000);
    const last = Math.max(...made.map((t) => t.createTime));
    await waitFor(async () => Number(await redis.hget(keys.state('ETH_USDT'), 'c:5000')) >= Math.floor(last / 5000) * 5000, 'the last 5s candles to close', 20_000);

    expect((await stats.read()).ticks_ingested_total).toBe(made.length);
    for (const symbol of ['BTC_USDT', 'ETH_USDT']) {
      const ticks = made.filter((t) => t.symbol === symbol).map((t) => toTick({ pair: t.symbol, time: t.createTime, price: t.price, quantity: t.quantity, amount: t.amount, side: t.takerSide, id: t.id }));
      for (const { ms } of plan.chain) {
        const expected = candlesFromTicks(ticks, ms).map(strip);
        const got = (await store.closedCandles(symbol, ms, { from: expected[0]!.time, to: expected.at(-1)!.time + 1, limit: 10_000 })).map(strip);
        expect(got, `${symbol} ${ms}`).toEqual(expected);
      }
    }
    await second.stop();
    expect(second.exitCode).toBe(0);
  }, 60_000);

  it('history import killed between its requests: the restart resumes it; the candles are exactly the trades\'', async () => {
    const standIn = await PoloniexStandIn.start();
    cleanups.push(() => standIn.close());
    const periods = planPeriods(parsePeriods('1m,1h,1d'));
    const { prefix, keys, store, stats } = setup('fault-ingest-history', periods);
    const env = {
      REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: prefix, PERIODS: '1m,1h,1d', GRACE_MS: '300', HISTORY: '1d',
      SOURCE: 'poloniex', PAIRS: 'BTC_USDT', POLONIEX_WS_URL: standIn.wsUrl, POLONIEX_REST_URL: standIn.restUrl,
    };
    // Two days of the exchange's past (HISTORY=1d starts at yesterday's start, UTC): six requests of 500 minutes, three a second.
    const now = Date.now();
    const rnd = rng(11);
    const past = standIn.execute(
      'BTC_USDT',
      Array.from({ length: 600 }, (_, i) => ({ price: `37${String(100 + Math.floor(rnd() * 800))}.${Math.floor(rnd() * 90) + 10}`, quantity: `0.${1 + Math.floor(rnd() * 9)}`, createTime: now - 2 * 86_400_000 + Math.floor((i * (2 * 86_400_000 - 2_000)) / 600) })),
      { broadcast: false },
    );
    const worker = await startTestWorker(env);
    cleanups.push(() => worker.close());
    const first = AppProcess.start('ingest', env);
    cleanups.push(() => first.kill());
    await waitFor(() => standIn.candleRequests.length >= 2, 'the import under way', 20_000);
    await first.kill('SIGKILL');
    const hs = Number(await redis.hget(keys.state('BTC_USDT'), 'hs'));
    const hp = Number(await redis.hget(keys.state('BTC_USDT'), 'hp'));
    expect(await redis.hget(keys.state('BTC_USDT'), 'hb')).toBeNull();
    expect(hp).toBeGreaterThan(hs);

    const asked = standIn.candleRequests.length;
    const second = AppProcess.start('ingest', env);
    cleanups.push(() => second.kill());
    await second.waitForLog((l) => /resuming the history import of BTC_USDT/.test(String(l.msg)), 'the resume', 20_000);
    await waitFor(() => standIn.subscribed('BTC_USDT'), 'the subscription after the import', 30_000);
    expect(Math.min(...standIn.candleRequests.slice(asked).map((r) => r.startTime))).toBeGreaterThanOrEqual(hp - 500 * 60_000);
    await waitFor(async () => (await redis.hget(keys.state('BTC_USDT'), 'hx')) === '1', 'the boundary judged exact', 20_000);
    const boundary = Number(await redis.hget(keys.state('BTC_USDT'), 'hb'));
    const live = standIn.execute('BTC_USDT', [{ price: '37500.5', quantity: '0.25' }, { price: '37501.5', quantity: '0.5' }]);
    const all = [...past, ...live];
    await waitFor(async () => ((await stats.read()).ticks_ingested_total ?? 0) >= all.filter((t) => t.createTime >= boundary).length, 'the live trades stored');

    const ticks = all.map((t) => toTick({ pair: t.symbol, time: t.createTime, price: t.price, quantity: t.quantity, amount: t.amount, side: t.takerSide, id: t.id }));
    for (const { ms } of periods.chain) {
      // From the history's start: the first candle is the first bucket there with a trade (no price is known before it).
      const expected = candlesFromTicks(ticks.filter((t) => t.time >= hs), ms, Math.floor(Date.now() / ms) * ms).map(strip);
      let got: StoredCandle[] = [];
      await waitFor(async () => {
        got = parseCandles(await store.read('BTC_USDT', ms, { what: 'both', now: Date.now(), from: hs, limit: 10_000 })).map(({ closed: _c, origin: _o, ...c }) => c);
        return JSON.stringify(got) === JSON.stringify(expected);
      }, `the ${ms} ms candles`, 20_000).catch(() => expect(got, `${ms}`).toEqual(expected));
    }
    // Only the trades from the boundary on went through the writer: the imported candles count the others.
    expect((await stats.read()).ticks_ingested_total).toBe(all.filter((t) => t.createTime >= boundary).length);
    await second.stop();
  }, 90_000);

  it('replay: restarted, it resumes where it stopped and counts each trade once', async () => {
    const { prefix, keys, store, stats } = setup('fault-ingest-replay');
    const start = Date.UTC(2022, 0, 3);
    // Big enough, and written in flushes of at most INGEST_BUFFER / 2, that
    // the kill lands mid-replay even on a fast machine (REPLAY_SPEED=0).
    const ticks = ['AAA_USDT', 'BBB_USDT'].flatMap((pair, i) => syntheticTicks(pair, start, 3 * 3_600_000, 120_000, 11 + i));
    ticks.sort((a, b) => a.time - b.time);
    const file = join(dir, 'big.jsonl');
    writeFileSync(file, ticks.map((t) => JSON.stringify({ pair: t.pair, time: t.time, price: t.price, quantity: t.quantity, id: t.id })).join('\n') + '\n');
    const env = { REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: prefix, PERIODS: '1s,5s', GRACE_MS: '300', SOURCE: 'replay', REPLAY_FILE: file, REPLAY_SPEED: '0', INGEST_BUFFER: '4000' };

    const first = AppProcess.start('ingest', env);
    cleanups.push(() => first.kill());
    await waitFor(async () => ((await stats.read()).ticks_ingested_total ?? 0) >= 10_000, 'a part of the replay', 30_000);
    // Its position is stored every second.
    await waitFor(async () => Number(await redis.hget(keys.replay(), 'line')) > 1, 'a stored position', 30_000);
    await first.kill('SIGKILL');
    const stored = (await stats.read()).ticks_ingested_total!;
    expect(stored).toBeLessThan(ticks.length);

    const second = AppProcess.start('ingest', env);
    cleanups.push(() => second.kill());
    const worker = await startTestWorker(env);
    cleanups.push(() => worker.close());
    await waitFor(async () => (await redis.hget(keys.clock(), 'done')) === '1', 'the replay to finish', 60_000);
    const last = ticks.at(-1)!.time;
    // Both pairs: their closes may run in different close jobs (shards).
    for (const pair of ['AAA_USDT', 'BBB_USDT']) {
      await waitFor(async () => Number(await redis.hget(keys.state(pair), 'c:5000')) >= Math.floor(last / 5000) * 5000, `every bucket of ${pair} to close`, 60_000);
    }

    const s = await stats.read();
    expect(s.ticks_ingested_total).toBe(ticks.length);
    // Resumed, not read again: what the first run wrote is skipped by each
    // pair's stored position, so not even a duplicate is counted.
    expect(s.ticks_duplicate_total ?? 0).toBe(0);
    const resumed = await second.waitForLog((l) => /resuming the replay of big.jsonl at line/.test(String(l.msg)), 'the resume line');
    expect(Number(resumed.line)).toBeGreaterThan(1);
    expect(Number(resumed.line)).toBeLessThanOrEqual(stored + 2_000);
    for (const pair of ['AAA_USDT', 'BBB_USDT']) {
      const mine = ticks.filter((t) => t.pair === pair).map(({ amount: _a, ...t }) => toTick(t));
      const expected = candlesFromTicks(mine, 5000, Math.floor(last / 5000) * 5000).map(strip);
      const got = (await store.closedCandles(pair, 5000, { from: 0, limit: 10_000 })).map(strip);
      expect(got, pair).toEqual(expected);
    }
    await second.stop();
  }, 120_000);

  it("replay of Binance's XRP/ETH at a finite speed, killed halfway and restarted: still exactly Binance's klines", async () => {
    const { prefix, keys, store, stats } = setup('fault-ingest-binance', planPeriods(parsePeriods('1m,5m')));
    const ticks = binanceTicks();
    const file = join(dir, 'xrp-eth.jsonl.gz');
    writeFileSync(file, gzipSync(ticks.map((t) => JSON.stringify({ pair: t.pair, time: t.time, price: t.price, quantity: t.quantity, side: t.side, id: t.id })).join('\n')));
    const first = ticks[0]!.time;
    const last = ticks.at(-1)!.time;
    // 2.5 days in about 12 s.
    const env = { REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: prefix, PERIODS: '1m,5m', GRACE_MS: '300', SOURCE: 'replay', REPLAY_FILE: file, REPLAY_SPEED: '18000' };
    const worker = await startTestWorker(env);
    cleanups.push(() => worker.close());
    const one = AppProcess.start('ingest', env);
    cleanups.push(() => one.kill());
    const half = first + (last - first) / 2;
    await waitFor(async () => Number(await redis.hget(keys.clock(), 'time')) >= half, 'the replay halfway', 30_000);
    await waitFor(async () => Number(await redis.hget(keys.replay(), 'line')) > 1, 'a stored position', 10_000);
    await one.kill('SIGKILL');
    const before = (await stats.read()).ticks_ingested_total ?? 0;
    expect(before).toBeGreaterThan(0);
    expect(before).toBeLessThan(ticks.length);

    const two = AppProcess.start('ingest', env);
    cleanups.push(() => two.kill());
    const resumed = await two.waitForLog((l) => /resuming the replay of xrp-eth.jsonl.gz at line/.test(String(l.msg)), 'the resume');
    await waitFor(async () => (await redis.hget(keys.clock(), 'done')) === '1', 'the replay to finish', 40_000);
    await waitFor(async () => Number(await redis.hget(keys.state('XRP_ETH'), 'c:300000')) >= Math.floor(last / 300_000) * 300_000, 'every bucket to close', 30_000);
    const s = await stats.read();
    console.log(`binance resume: ${before} trades before the kill, resumed at line ${String(resumed.line)}, ${s.ticks_ingested_total} in all, ${s.ticks_duplicate_total ?? 0} duplicates`);
    expect(s.ticks_ingested_total).toBe(ticks.length);
    expect(s.ticks_duplicate_total ?? 0).toBe(0);
    expect(s.ticks_out_of_window_total ?? 0).toBe(0);
    for (const period of ['1m', '5m'] as const) {
      const expected = binanceKlines(period);
      const got = await store.closedCandles('XRP_ETH', period === '1m' ? 60_000 : 300_000, { from: expected[0]!.time, limit: 10_000 });
      expect(got.map((c) => ({ time: c.time, open: c.open, high: c.high, low: c.low, close: c.close, volume: c.volume })), period).toEqual(expected);
    }
    await two.stop();
  }, 120_000);

  it('replay killed four times at random instants: every trade folded and counted exactly once', async () => {
    const { prefix, keys, store, stats } = setup('fault-ingest-kills');
    const start = Date.UTC(2022, 2, 1);
    const pairs = Array.from({ length: 20 }, (_, i) => `K${i}_USDT`);
    const unique = pairs.flatMap((pair, i) => syntheticTicks(pair, start, 3_600_000, 3_000, 40 + i)).sort((a, b) => a.time - b.time);
    // Some trades again (a resend), some late (out of order, inside MAX_LATE).
    const rnd = rng(77);
    const lines = unique.map((t) => ({ pair: t.pair, time: t.time, price: t.price, quantity: t.quantity, id: t.id }));
    for (let i = 0; i < 3_000; i++) {
      const at = Math.floor(rnd() * lines.length);
      lines.splice(at + 50, 0, lines[at]!);
    }
    const file = join(dir, 'kills.jsonl');
    writeFileSync(file, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    const env = { REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: prefix, PERIODS: '1s,5s', GRACE_MS: '300', SOURCE: 'replay', REPLAY_FILE: file, REPLAY_SPEED: '0' };
    for (let k = 0; k < 4; k++) {
      const p = AppProcess.start('ingest', env);
      cleanups.push(() => p.kill());
      const before = (await stats.read()).ticks_ingested_total ?? 0;
      await waitFor(async () => ((await stats.read()).ticks_ingested_total ?? 0) >= before + 2_000 + Math.floor(rnd() * 6_000), `progress before kill ${k + 1}`, 30_000);
      await p.kill('SIGKILL');
    }
    const last = AppProcess.start('ingest', env);
    cleanups.push(() => last.kill());
    await waitFor(async () => (await redis.hget(keys.clock(), 'done')) === '1', 'the replay to finish', 60_000);
    const worker = await startTestWorker(env);
    cleanups.push(() => worker.close());
    const end = unique.at(-1)!.time;
    await waitFor(async () => {
      const states = await Promise.all(pairs.map((pr) => redis.hget(keys.state(pr), 'c:5000')));
      return states.every((c) => Number(c) >= Math.floor(end / 5000) * 5000);
    }, 'every bucket to close', 30_000);
    const s = await stats.read();
    expect(s.ticks_ingested_total).toBe(unique.length);
    expect(s.ticks_out_of_window_total ?? 0).toBe(0);
    for (const pair of pairs) {
      const mine = unique.filter((t) => t.pair === pair).map(({ amount: _a, ...t }) => toTick(t));
      const expected = candlesFromTicks(mine, 5000, Math.floor(end / 5000) * 5000).map(strip);
      expect((await store.closedCandles(pair, 5000, { from: 0, limit: 10_000 })).map(strip), pair).toEqual(expected);
    }
    await last.stop();
  }, 120_000);
});
