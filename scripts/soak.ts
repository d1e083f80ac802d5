/**
 * `pnpm soak`: runs the whole pipeline (simulated market, ingester, worker,
 * API as separate processes) for a few minutes under load and samples Redis
 * memory and each process's RSS, to show that a long run's memory stays
 * flat once TICK_RETENTION has been reached. Prints a table and a verdict;
 * never fails on a figure.
 *
 *   SOAK_MINUTES  (default 5)    how long
 *   SOAK_PAIRS    (default 20)   simulated pairs
 *   SIM_RATE      (default 200)  trades per second per pair
 *   TICK_RETENTION (default 60s) short, so the plateau comes within the run
 *
 * Uses the Redis at REDIS_URL under a fresh prefix and deletes it after.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { deletePrefixKeys } from '@candlestack/shared';

const minutes = Number(process.env.SOAK_MINUTES ?? 5);
const pairs = Number(process.env.SOAK_PAIRS ?? 20);
const rate = process.env.SIM_RATE ?? '200';
const retention = process.env.TICK_RETENTION ?? '60s';
const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `soak-${randomUUID().slice(0, 8)}`;
const port = String(30_000 + Math.floor(Math.random() * 20_000));
const SAMPLE_MS = 10_000;

const names = ['BTC_USDT', 'ETH_USDT', 'SOL_USDT', 'XRP_USDT', 'ETH_BTC'];
const pairList = Array.from({ length: pairs }, (_, i) => names[i] ?? `SIM${i}_USDT`).join(',');
const env = {
  PATH: process.env.PATH ?? '',
  HOME: process.env.HOME ?? '',
  REDIS_URL: url,
  REDIS_PREFIX: prefix,
  SOURCE: 'simulated',
  PAIRS: pairList,
  SIM_RATE: rate,
  TICK_RETENTION: retention,
  PORT: port,
  LOG_LEVEL: 'warn',
};

const procs: Record<string, ChildProcess> = {};
for (const app of ['ingest', 'worker', 'api']) {
  procs[app] = spawn(process.execPath, ['--import', 'tsx', '--conditions=development', `apps/${app}/src/main.ts`], { env, stdio: ['ignore', 'ignore', 'inherit'] });
}

const redis = new Redis(url);
const rssMb = (p: ChildProcess) => {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p.pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
};

/** Memory of this run's keys alone (the server may hold others'). */
async function prefixMb(): Promise<number> {
  let bytes = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    const sizes = await Promise.all(keys.map((k) => redis.memory('USAGE', k, 'SAMPLES', '0') as Promise<number | null>));
    bytes += sizes.reduce<number>((a, b) => a + (b ?? 0), 0);
  } while (cursor !== '0');
  return bytes / 2 ** 20;
}

interface Sample {
  t: number;
  redisMb: number;
  keysMb: number;
  ticks: number;
  streamLen: number;
  rss: Record<string, number>;
}
const samples: Sample[] = [];
const started = Date.now();
console.log(`soak: ${minutes} min, ${pairs} pairs x ${rate} trades/s, TICK_RETENTION=${retention}, prefix ${prefix}`);
console.log('  min  redis MB  run keys MB  ticks stored  ticks/s  stream len  ingest MB  worker MB  api MB');

async function sample(): Promise<void> {
  const mem = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? 0) / 2 ** 20;
  const ticks = Number((await redis.hget(`${prefix}:stats`, 'ticks_ingested_total')) ?? 0);
  const streamLen = await redis.xlen(`${prefix}:ticks:{${names[0]}}`);
  const s: Sample = { t: Date.now() - started, redisMb: mem, keysMb: await prefixMb(), ticks, streamLen, rss: Object.fromEntries(Object.entries(procs).map(([k, p]) => [k, rssMb(p)])) };
  const prev = samples.at(-1);
  samples.push(s);
  const perSec = prev ? ((s.ticks - prev.ticks) * 1000) / (s.t - prev.t) : 0;
  console.log(
    `${(s.t / 60_000).toFixed(1).padStart(5)} ${s.redisMb.toFixed(1).padStart(9)} ${s.keysMb.toFixed(1).padStart(12)} ${String(s.ticks).padStart(13)} ${perSec.toFixed(0).padStart(8)} ${String(s.streamLen).padStart(11)} ${s.rss.ingest!.toFixed(0).padStart(10)} ${s.rss.worker!.toFixed(0).padStart(10)} ${s.rss.api!.toFixed(0).padStart(7)}`,
  );
}

async function cleanup(): Promise<void> {
  for (const p of Object.values(procs)) p.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 3000));
  for (const p of Object.values(procs)) if (p.exitCode === null) p.kill('SIGKILL');
  await deletePrefixKeys(redis, prefix);
  redis.disconnect();
}

process.on('SIGINT', () => void cleanup().then(() => process.exit(130)));
const timer = setInterval(() => void sample(), SAMPLE_MS);
await new Promise((r) => setTimeout(r, minutes * 60_000));
clearInterval(timer);
await sample();
// Compare the second half of the run with the end: flat means little growth there.
const half = samples.filter((s) => s.t >= (minutes * 60_000) / 2);
const first = half[0];
const last = samples.at(-1);
if (first && last && first !== last) {
  const growth = (a: number, b: number) => `${(b - a >= 0 ? '+' : '')}${(b - a).toFixed(1)} MB`;
  console.log(`second half: redis ${growth(first.redisMb, last.redisMb)} (this run's keys ${growth(first.keysMb, last.keysMb)}), ingest ${growth(first.rss.ingest!, last.rss.ingest!)}, worker ${growth(first.rss.worker!, last.rss.worker!)}, api ${growth(first.rss.api!, last.rss.api!)}`);
}
await cleanup();
