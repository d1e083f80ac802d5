/**
 * Worker faults, with real worker processes: killed with SIGKILL in the
 * middle of a long catch-up and started again later; two and three replicas
 * at once. Every candle must be present once and equal the reference.
 */
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { CLOSE_QUEUE, CandleStore, Keys, Stats, candlesFromTicks, parsePeriods, planPeriods, type StoredCandle, type Tick } from '@candlestack/shared';
import { AppProcess } from '../support/processes.js';
import { TEST_REDIS_URL, deletePrefix, testPrefix } from '../support/redis.js';
import { syntheticTicks } from '../support/synthetic.js';
import { waitFor } from '../support/wait.js';

const PERIODS = '1s,5s,1m';
const plan = planPeriods(parsePeriods(PERIODS));
const redis = new Redis(TEST_REDIS_URL);
const prefixes: string[] = [];
const procs: AppProcess[] = [];
const T0 = Date.UTC(2024, 2, 1);
const SPAN = 30 * 60_000;

afterAll(async () => {
  await Promise.all(procs.map((p) => p.kill()));
  await Promise.all(prefixes.map((p) => deletePrefix(p)));
  redis.disconnect();
});

/** A finished replay of `pairs` pairs, stored but not closed: a long catch-up for the worker. */
async function seed(pairs: number, prefix = testPrefix('fault-worker')) {
  prefixes.push(prefix);
  const keys = new Keys(prefix);
  const store = new CandleStore(redis, keys, plan);
  const all = new Map<string, Tick[]>();
  for (let i = 0; i < pairs; i++) all.set(`P${i}_USDT`, syntheticTicks(`P${i}_USDT`, T0, SPAN, 300, i + 1));
  const names = [...all.keys()];
  for (let i = 0; i < names.length; i += 50) await Promise.all(names.slice(i, i + 50).map((pair) => store.addTicks(pair, all.get(pair)!)));
  // The replay's clock before the pairs, as an ingester writes it: a
  // worker already running that met the pairs with no clock would close
  // them by the wall clock (up to today).
  const last = Math.max(...[...all.values()].map((t) => t.at(-1)!.time));
  await redis.hset(keys.clock(), { source: 'replay', time: last, done: '1' });
  await store.registerPairs([...all.keys()]);
  return { prefix, keys, store, all, last };
}

const env = (prefix: string) => ({ REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: prefix, PERIODS, GRACE_MS: '0' });
const strip = ({ ot: _a, oi: _b, ct: _c, ci: _d, ...c }: StoredCandle) => c;

async function expectComplete(s: Awaited<ReturnType<typeof seed>>) {
  let total = 0;
  for (const [pair, ticks] of s.all) {
    for (const { ms } of plan.chain) {
      const got = (await s.store.closedCandles(pair, ms, { from: 0, limit: 100_000 })).map(strip);
      // The replay's clock is one for all pairs: each closes through its end.
      expect(got, `${pair} ${ms}`).toEqual(candlesFromTicks(ticks, ms, Math.floor(s.last / ms) * ms).map(strip));
      // Stored once each: only candles with trades are stored (flat ones are derived when read).
      expect(await redis.zcard(s.keys.candles(pair, ms))).toBe(got.filter((c) => c.trades > 0).length);
      total += got.length;
    }
  }
  return total;
}

/** Each pair's closed candles, period by period, are the reference through that period's watermark (none without one). */
async function expectConsistent(s: Awaited<ReturnType<typeof seed>>) {
  for (const [pair, ticks] of s.all) {
    const state = await s.store.state(pair);
    for (const { ms } of plan.chain) {
      const through = state.closedThrough.get(ms);
      const got = (await s.store.closedCandles(pair, ms, { from: 0, limit: 100_000 })).map(strip);
      expect(got, `${pair} ${ms} through ${through}`).toEqual(through === undefined ? [] : candlesFromTicks(ticks, ms, through).map(strip));
    }
  }
}

/** Pairs whose 1m chain is closed, in one round trip (the kill below must land mid-run). */
const closedPairs = async (s: Awaited<ReturnType<typeof seed>>) => {
  const p = redis.pipeline();
  for (const pair of s.all.keys()) p.hexists(s.keys.state(pair), 'c:60000');
  const res = (await p.exec()) ?? [];
  return res.filter(([, v]) => v === 1).length;
};

describe('worker faults', () => {
  it('killed with SIGKILL in the middle of closing, restarted later: every candle once, equal to the reference', async () => {
    // 1,000 pairs: the worker closes 64 at a time, so a run is many rounds long.
    const s = await seed(1000);
    const w1 = AppProcess.start('worker', env(s.prefix));
    procs.push(w1);
    // Freeze it (SIGSTOP) as soon as some pair is closed, so what it left
    // half done can be seen; then kill it. Polled back to back, one round trip each.
    const deadline = Date.now() + 30_000;
    while ((await closedPairs(s)) < 1) {
      if (Date.now() > deadline) throw new Error('the catch-up never got under way');
    }
    w1.proc.kill('SIGSTOP');
    await w1.kill('SIGKILL');
    const done = await closedPairs(s);
    expect(done).toBeLessThan(s.all.size);
    // Down for a while; then a new worker catches up.
    await new Promise((r) => setTimeout(r, 500));
    const w2 = AppProcess.start('worker', env(s.prefix));
    procs.push(w2);
    await waitFor(async () => (await closedPairs(s)) === s.all.size, 'every pair to be closed', 60_000);
    await waitFor(async () => (await new Stats(redis, s.keys).read()).close_jobs_total! >= 1, 'the run to finish');
    await expectComplete(s);
    await w2.stop();
    expect(w2.exitCode).toBe(0);
  }, 120_000);

  it('two workers share the close work: each closes a good part of the candles, none twice', async () => {
    // Both up before there is anything to close, so both wait for the same jobs.
    const prefix = testPrefix('fault-worker');
    const workers = [1, 2].map(() => AppProcess.start('worker', env(prefix)));
    procs.push(...workers);
    for (const w of workers) await w.waitForLog((l) => l.msg === 'close schedulers in place', 'ready');
    const s = await seed(200, prefix);
    await waitFor(async () => (await closedPairs(s)) === s.all.size, 'every pair to be closed', 60_000);
    await waitFor(async () => (await redis.llen(`${s.keys.bullPrefix(CLOSE_QUEUE)}:${CLOSE_QUEUE}:active`)) === 0, 'no close job running');
    const total = await expectComplete(s);
    expect((await new Stats(redis, s.keys).read()).candles_closed_total).toBe(total);
    await Promise.all(workers.map((w) => w.stop()));
    // What each closed, from its job lines.
    const closedBy = workers.map((w) => w.logs().reduce((sum, l) => sum + (typeof l.closed === 'number' ? l.closed : 0), 0));
    expect(closedBy[0]! + closedBy[1]!).toBe(total);
    for (const c of closedBy) expect(c / total, `closed by each: ${closedBy.join(', ')} of ${total}`).toBeGreaterThan(0.15);
  });

  it('two workers, one killed with SIGKILL in the middle of closing: the other closes everything, every candle once', async () => {
    const s = await seed(1000);
    const workers = [1, 2].map(() => AppProcess.start('worker', env(s.prefix)));
    procs.push(...workers);
    const deadline = Date.now() + 30_000;
    while ((await closedPairs(s)) < 1) {
      if (Date.now() > deadline) throw new Error('the catch-up never got under way');
    }
    await workers[0]!.kill('SIGKILL');
    // Nothing half done: with the survivor frozen too (its script call in
    // flight finishes in Redis), every pair's stored candles agree with its
    // watermarks, period by period: the reference through the watermark.
    workers[1]!.proc.kill('SIGSTOP');
    await new Promise((r) => setTimeout(r, 200));
    expect(await closedPairs(s)).toBeLessThan(s.all.size);
    await expectConsistent(s);
    workers[1]!.proc.kill('SIGCONT');
    // The survivor runs every shard's scheduled jobs, the killed one's included.
    await waitFor(async () => (await closedPairs(s)) === s.all.size, 'every pair to be closed', 60_000);
    await waitFor(async () => (await redis.llen(`${s.keys.bullPrefix(CLOSE_QUEUE)}:${CLOSE_QUEUE}:active`)) <= 1, 'no close job running but the killed one');
    await expectComplete(s);
    await workers[1]!.stop();
    expect(workers[1]!.exitCode).toBe(0);
  }, 120_000);

  it('three replicas at once close each bucket exactly once, as one worker would', async () => {
    const s = await seed(60);
    const workers = [1, 2, 3].map(() => AppProcess.start('worker', env(s.prefix)));
    procs.push(...workers);
    await waitFor(async () => (await closedPairs(s)) === s.all.size, 'every pair to be closed', 60_000);
    // Let every replica's queued runs finish.
    await waitFor(async () => (await redis.llen(`${s.keys.bullPrefix(CLOSE_QUEUE)}:${CLOSE_QUEUE}:active`)) === 0, 'no close job running');
    const total = await expectComplete(s);
    const stats = await new Stats(redis, s.keys).read();
    expect(stats.candles_closed_total).toBe(total);
    await Promise.all(workers.map((w) => w.stop()));
    for (const w of workers) expect(w.exitCode).toBe(0);
  });
});
