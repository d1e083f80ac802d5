/**
 * End to end, as issue 9 defines it: a replay at REPLAY_SPEED=0 of many
 * trades over many pairs (PERIODS=1m,5m,15m,1h), on a Redis with AOF
 * `everysec`, with the production build of the ingester and the worker,
 * until every trade is counted in closed 1h candles. Beside it, the ceiling
 * of the same Redis in the same run: redis-benchmark's pipelined XADD.
 *
 * Figures: trades/s and its ratio to the ceiling; Redis CPU µs per trade
 * (INFO cpu over the whole run, closes included); the ingester's CPU µs per
 * trade (/proc); Redis memory per retained trade (the stream and what
 * dedupe keeps, MEMORY USAGE over every pair); and, in a full run, the
 * ingest alone with 1 period and with 8, to show the cost per trade does
 * not grow with the periods.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deletePrefixKeys, parsePeriods } from '@candlestack/shared';
import { BenchApp, BenchRedis, waitFor, type BenchContext, type Figure } from './lib.js';

const HOUR = 3_600_000;

/** A replay file: `pairs` pairs over `hours` hours, dense integer ids per pair, a random walk per pair. */
export function writeReplayFile(path: string, trades: number, pairs: number, hours: number, seed = 1): { first: number; last: number } {
  // mulberry32: a plain LCG's low bits left some pairs without a trade.
  let s = seed >>> 0;
  const rnd = () => {
    let t = (s = (s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const start = Date.UTC(2024, 0, 1);
  const span = hours * HOUR;
  const price = Array.from({ length: pairs }, (_, i) => 100 + (i % 50) * 10);
  const ids = Array.from({ length: pairs }, () => 1_000_000);
  const lines: string[] = [];
  for (let i = 0; i < trades; i++) {
    // Every pair trades at least once: the first `pairs` trades go round them.
    const p = i < pairs ? i : Math.floor(rnd() * pairs);
    price[p] = Math.max(1, price[p]! * (1 + (rnd() - 0.5) / 500));
    const time = start + Math.floor((i / trades) * span);
    lines.push(
      `{"pair":"P${p}_USDT","time":${time},"price":"${price[p]!.toFixed(4)}","quantity":"${(rnd() * 2 + 0.0001).toFixed(6)}","side":"${rnd() < 0.5 ? 'buy' : 'sell'}","id":"${ids[p]!++}"}`,
    );
  }
  writeFileSync(path, `${lines.join('\n')}\n`);
  return { first: start, last: start + Math.floor(((trades - 1) / trades) * span) };
}

/** redis-benchmark's pipelined XADD on the same server: the ceiling a trade's write is judged against. */
export function xaddCeiling(port: number, requests: number): number | undefined {
  const r = spawnSync('redis-benchmark', ['-h', '127.0.0.1', '-p', String(port), '-n', String(requests), '-c', '50', '-P', '32', '-q', 'XADD', 'bench:ceiling', '*', 'f', 'v'], {
    encoding: 'utf8',
  });
  if (r.error || r.status !== 0) return undefined;
  const m = /([\d.]+) requests per second/.exec(r.stdout);
  return m ? Number(m[1]) : undefined;
}

async function sumMemory(redis: BenchRedis, keys: string[]): Promise<number> {
  let total = 0;
  for (let i = 0; i < keys.length; i += 200) {
    const sizes = await Promise.all(keys.slice(i, i + 200).map((k) => redis.client.memory('USAGE', k, 'SAMPLES', '0')));
    for (const n of sizes) total += Number(n ?? 0);
  }
  return total;
}

interface Run {
  readonly seconds: number;
  readonly redisCpu: number;
  readonly ingestCpu: number;
  readonly retainedBytes: number;
}

/** One replay through ingester (and worker, unless `ingestOnly`) on a fresh prefix; cleans up after. */
async function run(redis: BenchRedis, file: string, opts: { trades: number; pairs: number; last: number; periods: string; ingestOnly?: boolean; prefix: string }): Promise<Run> {
  const env = { REDIS_URL: redis.url, REDIS_PREFIX: opts.prefix, PERIODS: opts.periods, GRACE_MS: '0', SOURCE: 'replay', REPLAY_FILE: file, REPLAY_SPEED: '0' };
  const top = parsePeriods(opts.periods).at(-1)!;
  const topMs = top.ms;
  const topLabel = top.label;
  const lastTop = Math.floor(opts.last / topMs) * topMs;
  const cpu0 = await redis.cpuSeconds();
  const t0 = performance.now();
  const worker = opts.ingestOnly ? undefined : BenchApp.start('worker', env);
  const ingest = BenchApp.start('ingest', env);
  try {
    const state = (p: number) => `${opts.prefix}:state:{P${p}_USDT}`;
    if (opts.ingestOnly) {
      await waitFor(async () => (await redis.client.hget(`${opts.prefix}:{global}:source`, 'state')) === 'done', 'the replay', 600_000, 100);
    } else {
      // Every pair's last bucket of the longest period closed: every trade
      // is in a closed candle of it (1h for the workload).
      await waitFor(async () => (await redis.client.hget(`${opts.prefix}:{global}:clock`, 'done')) === '1', 'the replay', 600_000, 100);
      let behind = 0;
      await waitFor(async () => {
        const closed = await Promise.all(Array.from({ length: opts.pairs }, (_, p) => redis.client.hget(state(p), `c:${topMs}`)));
        behind = closed.filter((c) => c === null || Number(c) < lastTop).length;
        return behind === 0;
      }, `every ${topLabel} candle to close`, 600_000, 100).catch((err: Error) => {
        throw new Error(`${err.message}: ${behind} pair(s) behind; worker said: ${worker?.lines.slice(-5).join(' | ')}`);
      });
    }
    const seconds = (performance.now() - t0) / 1000;
    const redisCpu = (await redis.cpuSeconds()) - cpu0;
    const ingestCpu = ingest.cpuSeconds();
    const keys: string[] = [];
    for (let p = 0; p < opts.pairs; p++) keys.push(`${opts.prefix}:ticks:{P${p}_USDT}`, `${opts.prefix}:ids:{P${p}_USDT}`, `${opts.prefix}:seen:{P${p}_USDT}`);
    const retainedBytes = await sumMemory(redis, keys);
    if (!opts.ingestOnly) {
      // Check, not assume: the closed candles of the longest period hold every trade.
      let counted = 0;
      for (let p = 0; p < opts.pairs; p++) {
        const members = await redis.client.zrange(`${opts.prefix}:candles:{P${p}_USDT}:${topLabel}`, '0', '-1');
        for (const m of members) counted += (JSON.parse(m) as { trades: number }).trades;
      }
      if (counted !== opts.trades) throw new Error(`bench: the closed ${topLabel} candles hold ${counted} trades, not ${opts.trades}`);
    }
    return { seconds, redisCpu, ingestCpu, retainedBytes };
  } finally {
    await ingest.stop();
    await worker?.stop();
    await deletePrefixKeys(redis.client, opts.prefix);
  }
}

export async function e2e(ctx: BenchContext): Promise<Figure[]> {
  const trades = Number(process.env.BENCH_TRADES ?? (ctx.quick ? 100_000 : 1_000_000));
  const pairs = Number(process.env.BENCH_PAIRS ?? (ctx.quick ? 100 : 1_000));
  const dir = mkdtempSync(join(tmpdir(), 'candlestack-bench-e2e-'));
  const redis = await BenchRedis.start({ aof: true });
  const section = 'end to end';
  try {
    const file = join(dir, 'replay.jsonl');
    ctx.progress(`e2e: writing ${trades.toLocaleString('en-US')} trades over ${pairs} pairs`);
    const { last } = writeReplayFile(file, trades, pairs, 6);
    ctx.progress('e2e: redis-benchmark pipelined XADD (the ceiling)');
    const ceiling = xaddCeiling(redis.port, ctx.quick ? 200_000 : 1_000_000);
    await redis.client.del('bench:ceiling');
    ctx.progress('e2e: replay through ingester and worker (production build), PERIODS=1m,5m,15m,1h');
    const r = await run(redis, file, { trades, pairs, last, periods: '1m,5m,15m,1h', prefix: 'bench-e2e' });
    const out: Figure[] = [
      {
        section,
        name: `replay of ${trades.toLocaleString('en-US')} trades, ${pairs} pairs, to closed 1h candles`,
        value: trades / r.seconds,
        unit: 'trades/s',
        ...(ceiling !== undefined && { ceiling: { name: 'redis-benchmark XADD -P 32', value: ceiling } }),
        goal: '≥ 0.25',
        note: `${r.seconds.toFixed(1)} s`,
      },
      { section, name: 'Redis CPU per trade (closes included)', value: (r.redisCpu * 1e6) / trades, unit: 'µs', goal: '≤ 6' },
      { section, name: 'ingester CPU per trade', value: (r.ingestCpu * 1e6) / trades, unit: 'µs', goal: '≤ 6' },
      { section, name: 'Redis memory per retained trade (stream + dedupe)', value: r.retainedBytes / trades, unit: 'B', goal: '≤ 60' },
    ];
    if (!ctx.quick) {
      const small = 200_000;
      const smallFile = join(dir, 'small.jsonl');
      const w = writeReplayFile(smallFile, small, 200, 6, 2);
      for (const periods of ['1m', '1m,5m,10m,15m,30m,1h,4h,1d']) {
        const count = periods.split(',').length;
        ctx.progress(`e2e: ingest only, PERIODS=${periods}`);
        const x = await run(redis, smallFile, { trades: small, pairs: 200, last: w.last, periods, ingestOnly: true, prefix: `bench-periods-${periods.length}` });
        out.push({ section, name: `ingest only, ${count} period(s): Redis CPU per trade`, value: (x.redisCpu * 1e6) / small, unit: 'µs', note: `PERIODS=${periods}` });
        // With the closes: the longer periods are built as trades come, so
        // what they cost is in the ingest; this is the whole of it.
        ctx.progress(`e2e: ingest and close, PERIODS=${periods}`);
        const y = await run(redis, smallFile, { trades: small, pairs: 200, last: w.last, periods, prefix: `bench-periods-closed-${periods.length}` });
        out.push({ section, name: `ingest and close, ${count} period(s): Redis CPU per trade`, value: (y.redisCpu * 1e6) / small, unit: 'µs', note: `PERIODS=${periods}` });
      }
    }
    return out;
  } finally {
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
