/**
 * Close throughput with one worker and with two, on the same pairs (issue
 * 10): a replay is ingested with no worker running (its close runs wait in
 * the queue), then the workers start together and close every bucket of it.
 * Each run has a fresh prefix on the same Redis (AOF `everysec`).
 *
 * The split of the work is read from the workers' own log: at
 * LOG_LEVEL=debug a worker logs every close job it ran, with the candles it
 * closed and how long it took (worker.ts). The throughput is the candles
 * closed over the span from the first job's start to the last job's end,
 * so the processes' start-up is not in it. The logged totals are checked
 * against `candles_closed_total`, which the close script counts itself.
 *
 * On a machine with two cores shared by Redis and both workers, two workers
 * need not close twice as fast; the split shows whether the work is shared.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Keys, deletePrefixKeys, openCloseQueue } from '@candlestack/shared';
import { writeReplayFile } from './e2e.js';
import { BenchApp, BenchRedis, sleep, waitFor, type BenchContext, type Figure } from './lib.js';

const HOUR = 3_600_000;
const PERIODS = '1m,5m,15m,1h';

/** One close job as a worker logged it. */
interface JobLine {
  readonly closed: number;
  readonly pairs: number;
  /** When it ended (pino's `time`) and how long it ran. */
  readonly end: number;
  readonly ms: number;
}

function jobLine(line: string): JobLine | undefined {
  if (!line.includes('candle(s) closed')) return undefined;
  try {
    const e = JSON.parse(line) as { closed?: number; pairs?: number; time?: number; ms?: number };
    if (typeof e.closed !== 'number' || typeof e.time !== 'number' || typeof e.ms !== 'number') return undefined;
    return { closed: e.closed, pairs: e.pairs ?? 0, end: e.time, ms: e.ms };
  } catch {
    return undefined;
  }
}

interface WorkerShare {
  readonly closed: number;
  /** Jobs that closed at least one candle. */
  readonly jobs: number;
  readonly busyMs: number;
  readonly cpu: number;
}

interface Run {
  readonly closed: number;
  /** candles_closed_total, summed over the pairs. */
  readonly counted: number;
  readonly spanMs: number;
  readonly redisCpu: number;
  readonly workers: WorkerShare[];
}

async function run(redis: BenchRedis, file: string, opts: { workers: number; pairs: number; last: number; prefix: string }, ctx: BenchContext): Promise<Run> {
  const keys = new Keys(opts.prefix);
  const env = { REDIS_URL: redis.url, REDIS_PREFIX: opts.prefix, PERIODS, GRACE_MS: '0', SOURCE: 'replay', REPLAY_FILE: file, REPLAY_SPEED: '0' };
  const pairs = Array.from({ length: opts.pairs }, (_, p) => `P${p}_USDT`);
  const lastHour = Math.floor(opts.last / HOUR) * HOUR;
  const workers: BenchApp[] = [];
  const jobs: JobLine[][] = [];
  // The workers start with the queue paused and get the work together
  // once all are up, so that a slow start does not decide the split.
  const queue = openCloseQueue(redis.client, keys, { watchOnly: true });
  try {
    ctx.progress(`close workers: ingesting the replay with no worker (prefix ${opts.prefix})`);
    const ingest = BenchApp.start('ingest', env);
    try {
      await waitFor(async () => (await redis.client.hget(keys.sourceStatus(), 'state')) === 'done', 'the replay', 600_000, 100);
    } finally {
      await ingest.stop();
    }

    await queue.pause();
    ctx.progress(`close workers: ${opts.workers} worker(s) closing every bucket`);
    const ready: boolean[] = [];
    for (let i = 0; i < opts.workers; i++) {
      const mine: JobLine[] = [];
      jobs.push(mine);
      workers.push(
        BenchApp.start('worker', { ...env, LOG_LEVEL: 'debug' }, (line) => {
          if (line.includes('close schedulers in place')) ready[i] = true;
          const j = jobLine(line);
          if (j) mine.push(j);
        }),
      );
    }
    await waitFor(() => ready.filter(Boolean).length === opts.workers, 'the workers to start', 60_000, 50);
    await sleep(500); // their blocking connections are waiting for jobs
    const cpu0 = await redis.cpuSeconds();
    await queue.resume();
    await waitFor(async () => {
      const closed = await Promise.all(pairs.map((p) => redis.client.hget(keys.state(p), `c:${HOUR}`)));
      return closed.every((c) => c !== null && Number(c) >= lastHour);
    }, 'every 1h candle to close', 600_000, 100);
    // The workers' own catch-up runs, queued at their start, have run too (they close nothing more).
    await waitFor(async () => {
      const c = await queue.getJobCounts('wait', 'active', 'prioritized');
      return (c.wait ?? 0) + (c.active ?? 0) + (c.prioritized ?? 0) === 0;
    }, 'the queued close runs', 60_000, 100);
    const redisCpu = (await redis.cpuSeconds()) - cpu0;

    const pipe = redis.client.pipeline();
    for (const p of pairs) pipe.hget(keys.state(p), 'candles_closed_total');
    const counted = ((await pipe.exec()) ?? []).reduce((s, [, v]) => s + Number(v ?? 0), 0);
    const working = jobs.flat().filter((j) => j.closed > 0);
    const start = Math.min(...working.map((j) => j.end - j.ms));
    const end = Math.max(...working.map((j) => j.end));
    return {
      closed: working.reduce((s, j) => s + j.closed, 0),
      counted,
      spanMs: end - start,
      redisCpu,
      workers: workers.map((w, i) => {
        const done = jobs[i]!.filter((j) => j.closed > 0);
        return { closed: done.reduce((s, j) => s + j.closed, 0), jobs: done.length, busyMs: done.reduce((s, j) => s + j.ms, 0), cpu: w.cpuSeconds() };
      }),
    };
  } finally {
    await queue.close();
    await Promise.all(workers.map((w) => w.stop()));
    await deletePrefixKeys(redis.client, opts.prefix);
  }
}

const pct = (n: number, of: number) => `${((100 * n) / of).toFixed(1)}%`;

export async function closeWorkers(ctx: BenchContext): Promise<Figure[]> {
  const trades = Number(process.env.BENCH_CLOSE_TRADES ?? (ctx.quick ? 100_000 : 500_000));
  const pairs = Number(process.env.BENCH_PAIRS ?? (ctx.quick ? 100 : 1_000));
  const hours = 6;
  const dir = mkdtempSync(join(tmpdir(), 'candlestack-bench-workers-'));
  const redis = await BenchRedis.start({ aof: true });
  const section = 'close workers';
  try {
    const file = join(dir, 'replay.jsonl');
    ctx.progress(`close workers: writing ${trades.toLocaleString('en-US')} trades over ${pairs} pairs, ${hours} h`);
    const { last } = writeReplayFile(file, trades, pairs, hours, 3);
    // Rounds alternate one worker and two, so that the load of others on a
    // shared machine hits both alike; each keeps its best round.
    const rounds = ctx.quick ? [1, 2] : [1, 2, 1, 2];
    const best = new Map<number, { run: Run; perSecond: number; all: number[] }>();
    for (const [i, n] of rounds.entries()) {
      const load = loadavg()[0]!;
      const r = await run(redis, file, { workers: n, pairs, last, prefix: `bench-workers-${i}` }, ctx);
      const perSecond = r.closed / (r.spanMs / 1000);
      ctx.progress(`close workers: ${n} worker(s): ${Math.round(perSecond)} candles/s (load average ${load.toFixed(1)})`);
      const b = best.get(n);
      if (!b || perSecond > b.perSecond) best.set(n, { run: r, perSecond, all: [...(b?.all ?? []), perSecond] });
      else b.all.push(perSecond);
    }
    const one = best.get(1)!.perSecond;
    const out: Figure[] = [];
    for (const [n, { run: r, perSecond, all }] of best) {
      const check = r.closed === r.counted ? 'logged = candles_closed_total' : `logged ${r.closed}, candles_closed_total ${r.counted}`;
      const label = `${n} worker${n > 1 ? 's' : ''}`;
      out.push({
        section,
        name: `${label}: candles closed/s, ${pairs} pairs × ${hours} h, PERIODS=${PERIODS}`,
        value: perSecond,
        unit: 'candles/s',
        note: `best of ${all.map((x) => Math.round(x).toLocaleString('en-US')).join(', ')}; ${r.closed.toLocaleString('en-US')} candles in ${(r.spanMs / 1000).toFixed(1)} s; ${check}${n > 1 ? `; ×${(perSecond / one).toFixed(2)} of 1 worker` : ''}`,
      });
      out.push({
        section,
        name: `${label}: Redis CPU per candle closed`,
        value: (r.redisCpu * 1e6) / Math.max(r.closed, 1),
        unit: 'µs',
        note: `Redis busy ${pct(r.redisCpu, r.spanMs / 1000)} of the span`,
      });
      r.workers.forEach((w, i) =>
        out.push({
          section,
          name: `${label}: worker ${i + 1}'s share of the candles closed`,
          value: (100 * w.closed) / Math.max(r.closed, 1),
          unit: '%',
          ...(n > 1 && { goal: '≥ 15 each' }),
          note: `${w.closed.toLocaleString('en-US')} candles, ${w.jobs} job(s), busy ${(w.busyMs / 1000).toFixed(1)} s, CPU ${w.cpu.toFixed(1)} s`,
        }),
      );
    }
    return out;
  } finally {
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
