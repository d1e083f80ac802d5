/**
 * `pnpm bench`: the performance harness. Prints figures; never fails on time.
 *
 *   ingest   ticks/s through the add-ticks script (dedupe + stream + fold),
 *            many pairs, batches as the tick writer sends them
 *   close    candles/s closed by the close-pair script for many pairs
 *   read     GET-style reads: newest 100 closed + forming candles
 *
 * Uses the Redis at REDIS_URL (default 127.0.0.1:6379) under a fresh prefix
 * and deletes its keys afterwards. BENCH_TICKS and BENCH_PAIRS scale it.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import {
  CandleStore,
  deletePrefixKeys,
  Keys,
  closeLimits,
  parsePeriods,
  planPeriods,
  redactUrl,
  type Tick,
} from '@candlestack/shared';

const TICKS = Number(process.env.BENCH_TICKS ?? 200_000);
const PAIRS = Number(process.env.BENCH_PAIRS ?? 1_000);
const BATCH = 1_000;
const PARALLEL = 32;
const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `bench-${randomUUID().slice(0, 8)}`;

const redis = new Redis(url);
const plan = planPeriods(parsePeriods(process.env.PERIODS ?? '1m,5m,10m,15m,30m,1h,4h,1d'));
const store = new CandleStore(redis, new Keys(prefix), plan);
const pairs = Array.from({ length: PAIRS }, (_, i) => `P${i}_USDT`);

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

async function timed<T>(label: string, count: number, unit: string, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const r = await fn();
  const s = (performance.now() - t0) / 1000;
  console.log(`${label.padEnd(34)} ${fmt(count).padStart(10)} ${unit.padEnd(8)} ${s.toFixed(2).padStart(7)} s  ${fmt(count / s).padStart(10)} ${unit}/s`);
  return r;
}

async function cleanup(): Promise<void> {
  await deletePrefixKeys(redis, prefix);
}

async function main(): Promise<void> {
  const start = Date.UTC(2024, 0, 1);
  const span = 2 * 3_600_000; // two hours of market time
  const perPair = Math.max(1, Math.floor(TICKS / PAIRS));
  const batches: { pair: string; ticks: Tick[] }[] = [];
  for (const pair of pairs) {
    const ticks: Tick[] = [];
    for (let i = 0; i < perPair; i++) {
      const price = (100 + ((i * 7919) % 1000) / 100).toFixed(2);
      ticks.push({ pair, time: start + Math.floor((i / perPair) * span), price, quantity: '0.125', amount: '12.5', side: 'buy', id: String(i + 1) });
    }
    for (let i = 0; i < ticks.length; i += BATCH) batches.push({ pair, ticks: ticks.slice(i, i + BATCH) });
  }
  const total = perPair * PAIRS;
  console.log(`candlestack bench: ${fmt(total)} ticks over ${fmt(PAIRS)} pairs, periods ${plan.periods.map((p) => p.label).join(',')} (base ${plan.baseMs / 1000}s), Redis ${redactUrl(url)}`);
  const info0 = await redis.info('commandstats');

  await timed('ingest (add-ticks, new trades)', total, 'ticks', async () => {
    for (let i = 0; i < batches.length; i += PARALLEL) {
      await Promise.all(batches.slice(i, i + PARALLEL).map((b) => store.addTicks(b.pair, b.ticks)));
    }
  });
  await timed('ingest (all duplicates)', total, 'ticks', async () => {
    for (let i = 0; i < batches.length; i += PARALLEL) {
      await Promise.all(batches.slice(i, i + PARALLEL).map((b) => store.addTicks(b.pair, b.ticks)));
    }
  });
  const limits = closeLimits(plan, { source: 'replay', replayTime: start + span, done: true }, 0);
  const closed = await timed('close (all periods, all pairs)', PAIRS, 'pairs', async () => {
    let n = 0;
    for (let i = 0; i < pairs.length; i += PARALLEL) {
      const rs = await Promise.all(pairs.slice(i, i + PARALLEL).map((p) => store.closePair(p, limits)));
      n += rs.reduce((a, r) => a + r.closed, 0);
    }
    return n;
  });
  console.log(`${''.padEnd(34)} ${fmt(closed).padStart(10)} candles closed`);
  const reads = Math.min(PAIRS, 500);
  await timed('read newest 100 1h-candles + forming', reads, 'reads', async () => {
    for (let i = 0; i < reads; i += PARALLEL) {
      await Promise.all(
        pairs.slice(i, Math.min(reads, i + PARALLEL)).map(async (p) => {
          await store.closedCandles(p, 3_600_000, { limit: 100 });
          await store.formingCandles(p, 3_600_000, { source: 'replay', replayTime: start + span, done: false });
        }),
      );
    }
  });
  const mem = (await redis.info('memory')).match(/used_memory_human:(\S+)/)?.[1];
  console.log(`redis memory used: ${mem}; commands per tick ~ ${commandsPerTick(info0, await redis.info('commandstats'), total * 2)}`);
}

/** Redis commands (including those inside scripts) per tick, from INFO commandstats. */
function commandsPerTick(before: string, after: string, ticks: number): string {
  const calls = (info: string) =>
    [...info.matchAll(/cmdstat_(\w+):calls=(\d+)/g)].reduce((m, [, k, v]) => m.set(k!, Number(v)), new Map<string, number>());
  const a = calls(before);
  const b = calls(after);
  let n = 0;
  for (const [k, v] of b) if (!['evalsha', 'eval', 'info'].includes(k)) n += v - (a.get(k) ?? 0);
  return (n / ticks).toFixed(2);
}

try {
  await main();
} finally {
  await cleanup();
  redis.disconnect();
}
