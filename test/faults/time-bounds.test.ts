/**
 * Time bounds (DESIGN.md): one bad timestamp costs no more than one good
 * trade. Real processes on a Redis of the test's own, as an attacker would
 * meet them:
 * - live (Poloniex, through the local stand-in): trades dated a year ago,
 *   in 2000 and in 2099 are set aside, counted and logged; candles of the
 *   good trades are exact; no Redis call takes 50 ms; the API's memory and
 *   Redis's stay flat while clients read every period, 1d included;
 * - a replay of 2019 with a 2099 trade, a 2000 trade and a trade older than
 *   MAX_LATE in its middle: the same, and the replay's clock never leaves
 *   2019.
 * Exact bounds (at MAX_LATE and 60 s ahead, to the millisecond) are tested
 * with a fixed clock in apps/ingest/test/time-bounds.test.ts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { afterAll, describe, expect, it } from 'vitest';
import { CandleStore, Keys, Stats, candlesFromTicks, parsePeriods, planPeriods, toTick, type StoredCandle, type Tick } from '@candlestack/shared';
import { PoloniexStandIn, type WireTrade } from '../../apps/ingest/test/support/poloniex-stand-in.js';
import { AppProcess } from '../support/processes.js';
import { PrivateRedis, freePort } from '../support/redis-server.js';
import { rng, syntheticTicks } from '../support/synthetic.js';
import { sleep, waitFor } from '../support/wait.js';

const DAY = 86_400_000;
const MB = 1024 * 1024;
const dir = mkdtempSync(join(tmpdir(), 'candlestack-time-bounds-'));
const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

const strip = ({ ot: _a, oi: _b, ct: _c, ci: _d, ...c }: StoredCandle) => c;

async function privateRedis() {
  const server = await PrivateRedis.start();
  const redis = new Redis(server.url);
  cleanups.push(async () => {
    redis.disconnect();
    await server.destroy();
  });
  // Every command of 10 ms or more is logged; the test asserts none took 50.
  await redis.config('SET', 'slowlog-log-slower-than', '10000');
  await redis.slowlog('RESET');
  return { server, redis };
}

async function slowCalls(redis: Redis): Promise<{ ms: number; command: string }[]> {
  const log = (await redis.slowlog('GET', 1000)) as [number, number, number, string[]][];
  return log.map(([, , us, args]) => ({ ms: us / 1000, command: args.slice(0, 12).join(' ').slice(0, 300) })).filter((c) => c.ms >= 50);
}

async function usedMemory(redis: Redis): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
}

/** Reads every period of every pair over HTTP and WebSocket for `ms`, as dashboards would. */
async function readHard(url: string, pairs: readonly string[], periods: readonly string[], ms: number): Promise<number> {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/ws`);
  await new Promise((r) => ws.once('open', r));
  for (const pair of pairs) for (const period of periods) ws.send(JSON.stringify({ op: 'subscribe', pair, period }));
  let requests = 0;
  const until = Date.now() + ms;
  while (Date.now() < until) {
    await Promise.all(
      pairs.flatMap((pair) =>
        periods.map(async (period) => {
          const res = await fetch(`${url}/candles/${pair}/${period}?limit=1000`);
          expect(res.status).toBe(200);
          await res.arrayBuffer();
          requests++;
        }),
      ),
    );
  }
  ws.close();
  return requests;
}

describe('time bounds against bad timestamps', () => {
  it('live: trades of a year ago, of 2000 and of 2099 are set aside; nothing else grows', async () => {
    const { server, redis } = await privateRedis();
    const standIn = await PoloniexStandIn.start();
    cleanups.push(() => standIn.close());
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const prefix = 'bounds-live';
    const PERIODS = '1s,1m,1h,1d';
    const env = {
      REDIS_URL: server.url, REDIS_PREFIX: prefix, PERIODS, GRACE_MS: '300', PORT: String(port),
      RATE_LIMIT: '0', SOURCE: 'poloniex', PAIRS: 'BTC_USDT,ETH_USDT', POLONIEX_WS_URL: standIn.wsUrl, POLONIEX_REST_URL: standIn.restUrl,
    };
    const procs = ['ingest', 'worker', 'api'].map((app) => AppProcess.start(app as 'ingest', env));
    cleanups.push(() => Promise.all(procs.map((p) => p.kill())).then(() => undefined));
    const [ingest, , api] = procs as [AppProcess, AppProcess, AppProcess];
    await waitFor(async () => (await fetch(`${url}/healthz`).catch(() => undefined))?.ok, 'the API');
    await waitFor(() => standIn.subscribed('BTC_USDT') && standIn.subscribed('ETH_USDT'), 'the subscriptions');

    const rnd = rng(8);
    const good: WireTrade[] = [];
    const trade = (symbol: string) =>
      good.push(...standIn.execute(symbol, [{ price: `${symbol === 'BTC_USDT' ? 37_000 : 2_000}.${Math.floor(rnd() * 90) + 10}`, quantity: '0.5' }]));
    for (let i = 0; i < 10; i++) {
      trade('BTC_USDT');
      trade('ETH_USDT');
      await sleep(100);
    }
    const stats = new Stats(redis, new Keys(prefix));
    await waitFor(async () => ((await stats.read()).ticks_ingested_total ?? 0) >= good.length, 'the good trades');
    // Warm up: the API's heap grows to its working size under this load first.
    await readHard(url, ['BTC_USDT', 'ETH_USDT'], ['1s', '1m', '1h', '1d'], 3_000);
    const before = { api: api.rss(), redis: await usedMemory(redis) };

    const now = Date.now();
    const bad = standIn.execute('BTC_USDT', [
      { price: '37000', quantity: '1', createTime: now - 365 * DAY },
      { price: '37000', quantity: '1', createTime: Date.UTC(2000, 0, 1) },
      { price: '37000', quantity: '1', createTime: Date.UTC(2099, 0, 1) },
    ]);
    await waitFor(async () => (await stats.read()).ticks_out_of_window_total === 3, 'the three set aside');
    for (let i = 0; i < 5; i++) {
      trade('BTC_USDT');
      trade('ETH_USDT');
      await sleep(100);
    }
    const requests = await readHard(url, ['BTC_USDT', 'ETH_USDT'], ['1s', '1m', '1h', '1d'], 4_000);
    await waitFor(async () => ((await stats.read()).ticks_ingested_total ?? 0) >= good.length, 'the later good trades');
    const after = { api: api.rss(), redis: await usedMemory(redis) };

    const s = await stats.read();
    expect(s.ticks_ingested_total).toBe(good.length);
    expect(s.ticks_out_of_window_total).toBe(3);
    const dead = (await redis.xrange(new Keys(prefix).deadLetter(), '-', '+')).map(([, f]) => f[f.indexOf('reason') + 1]!);
    expect(dead).toHaveLength(3);
    expect(dead.filter((r) => /older than the source's clock/.test(r))).toHaveLength(2);
    expect(dead.filter((r) => /ahead of the wall clock/.test(r))).toHaveLength(1);
    for (const b of bad) expect(dead.some((r) => r.includes(b.id))).toBe(true);
    // Logged (once per kind), never a crash.
    expect(ingest.logs().filter((l) => /input set aside/.test(String(l.msg))).length).toBeGreaterThanOrEqual(1);
    for (const p of procs) expect(p.running, p.app).toBe(true);

    // The good trades' candles are exact: nothing of the bad ones leaked in.
    const store = new CandleStore(redis, new Keys(prefix), planPeriods(parsePeriods(PERIODS)));
    await waitFor(async () => {
      const st = await store.state('BTC_USDT');
      return (st.closedThrough.get(1000) ?? 0) >= Math.floor(Math.max(...good.map((t) => t.createTime)) / 1000) * 1000;
    }, 'the 1s candles to close');
    for (const symbol of ['BTC_USDT', 'ETH_USDT']) {
      const ticks: Tick[] = good.filter((t) => t.symbol === symbol).map((t) => toTick({ pair: symbol, time: t.createTime, price: t.price, quantity: t.quantity, amount: t.amount, side: t.takerSide, id: t.id }));
      const expected = candlesFromTicks(ticks, 1000).map(strip);
      const got = (await store.closedCandles(symbol, 1000, { from: expected[0]!.time, to: expected.at(-1)!.time + 1, limit: 1000 })).map(strip);
      expect(got, symbol).toEqual(expected);
    }

    const slow = await slowCalls(redis);
    console.log(`time bounds, live: ${requests} reads; API RSS ${(before.api / MB).toFixed(1)} -> ${(after.api / MB).toFixed(1)} MB; Redis used ${(before.redis / MB).toFixed(2)} -> ${(after.redis / MB).toFixed(2)} MB; calls >= 50 ms: ${slow.length}`);
    expect(slow).toEqual([]);
    // Flat, within the garbage collector's slack: the 2099 trade once took
    // the API past 2 GB and Redis to 2.5 GB.
    expect(after.api - before.api).toBeLessThan(64 * MB);
    expect(after.redis - before.redis).toBeLessThan(8 * MB);
  }, 90_000);

  it('replay: a 2099, a 2000 and a too-old trade inside 2019 are set aside; the clock stays in 2019', async () => {
    const { server, redis } = await privateRedis();
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const prefix = 'bounds-replay';
    const start = Date.UTC(2019, 9, 11);
    const ticks = syntheticTicks('XRP_ETH', start, 2 * DAY, 6_000, 3);
    const lines = ticks.map((t) => JSON.stringify({ pair: t.pair, time: t.time, price: t.price, quantity: t.quantity, id: t.id }));
    const mid = ticks[3_000]!;
    const bad = [
      { pair: 'XRP_ETH', time: Date.UTC(2099, 0, 1), price: '1', quantity: '1', id: 'future' },
      { pair: 'XRP_ETH', time: Date.UTC(2000, 0, 1), price: '1', quantity: '1', id: 'y2000' },
      { pair: 'XRP_ETH', time: mid.time - DAY - 1, price: '1', quantity: '1', id: 'too-old' },
    ];
    lines.splice(3_001, 0, ...bad.map((b) => JSON.stringify(b)));
    const file = join(dir, 'xrp-2019.jsonl');
    writeFileSync(file, `${lines.join('\n')}\n`);
    const PERIODS = '1m,1h,1d';
    const env = { REDIS_URL: server.url, REDIS_PREFIX: prefix, PERIODS, GRACE_MS: '300', PORT: String(port), RATE_LIMIT: '0', SOURCE: 'replay', REPLAY_FILE: file, REPLAY_SPEED: '0' };
    const procs = ['ingest', 'worker', 'api'].map((app) => AppProcess.start(app as 'ingest', env));
    cleanups.push(() => Promise.all(procs.map((p) => p.kill())).then(() => undefined));
    const api = procs[2]!;
    const keys = new Keys(prefix);
    await waitFor(async () => (await redis.hget(keys.clock(), 'done')) === '1', 'the replay to finish', 60_000);
    const last = ticks.at(-1)!.time;
    await waitFor(async () => Number(await redis.hget(keys.state('XRP_ETH'), 'c:86400000')) >= Math.floor(last / DAY) * DAY, 'every bucket to close', 60_000);
    await waitFor(async () => (await fetch(`${url}/healthz`).catch(() => undefined))?.ok, 'the API');
    await readHard(url, ['XRP_ETH'], ['1m', '1h', '1d'], 3_000); // warm-up
    const before = api.rss();
    const requests = await readHard(url, ['XRP_ETH'], ['1m', '1h', '1d'], 3_000);
    const after = api.rss();

    expect(Number(await redis.hget(keys.clock(), 'time'))).toBe(last);
    const s = await new Stats(redis, keys).read();
    expect(s.ticks_ingested_total).toBe(ticks.length);
    expect(s.ticks_out_of_window_total).toBe(3);
    const dead = (await redis.xrange(keys.deadLetter(), '-', '+')).map(([, f]) => f[f.indexOf('sample') + 1]!);
    for (const b of bad) expect(dead.some((d) => d.includes(`"${b.id}"`)), b.id).toBe(true);
    const store = new CandleStore(redis, keys, planPeriods(parsePeriods(PERIODS)));
    // The file gives no quote amount: it is price x quantity, as the ingester computes it.
    const written = ticks.map(({ amount: _a, ...t }) => toTick(t));
    for (const ms of [60_000, 3_600_000, DAY]) {
      const expected = candlesFromTicks(written, ms).map(strip);
      expect((await store.closedCandles('XRP_ETH', ms, { from: 0, limit: 5_000 })).map(strip), `${ms}`).toEqual(expected);
    }
    const slow = await slowCalls(redis);
    console.log(`time bounds, replay: ${requests} reads; API RSS ${(before / MB).toFixed(1)} -> ${(after / MB).toFixed(1)} MB; calls >= 50 ms: ${slow.length}`);
    expect(slow).toEqual([]);
    expect(after - before).toBeLessThan(64 * MB);
    for (const p of procs) expect(p.running, p.app).toBe(true);
  }, 120_000);
});
