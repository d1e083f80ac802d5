/**
 * Reads over HTTP, as issue 9 defines them (goals 2 and 7): the production
 * API (`node apps/api/dist/main.js`, RATE_LIMIT high enough never to refuse
 * but still counting every request) over a Redis of the bench's own holding
 * 2,000 pairs (BENCH_PAIRS) with candles, stored through the shared store's
 * write and close path (CandleStore.addTicks, closePair), as the ingester
 * and the worker store them, on the wall clock of a live source.
 *
 * - GET /candles/P1_USDT/1m?limit=100 with 100 connections, beside two
 *   ceilings answering the very same body (fetched from the API once) from
 *   memory: an Express 5 + helmet app and a bare node:http server
 *   (http-ceiling.ts). The ratio is to the Express + helmet floor; p99 is
 *   printed beside the floor's p99.
 * - GET /pairs, /metrics and /readyz at 2,000 pairs (10 connections).
 *
 * Method. The load generator is autocannon, run as a process of its own for
 * each measurement (so the bench's own process, which holds the Redis
 * clients, is idle meanwhile): on 2 cores, it, the server measured and Redis
 * compete, and the ceilings pay the same load generator on the same cores.
 * The API and the ceilings are measured in interleaved short rounds
 * (API, Express, bare, API, ...) so that a drift of the machine's load hits
 * all of them alike; req/s is the sum of 2xx answers over the sum of the
 * rounds' durations, p99 the median of the rounds' p99s. Each target gets an
 * unmeasured warm-up first (JIT, connection set-up: 2,000 requests, 20 for
 * the slow routes; --quick sends a quarter of them from the bench's process,
 * see warmUp); --quick runs one round per slow route and node:http once.
 * A non-2xx answer is counted and named in the note, never silently.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CandleStore, Keys, Stats, canonical, checkMeta, closeLimits, decimal, LIVE_CLOCK, parsePeriods, planPeriods, type Tick } from '@candlestack/shared';
import { BenchApp, BenchRedis, ROOT, freePort, waitFor, type BenchContext, type Figure } from './lib.js';

export const PREFIX = 'bench-http';
export const PERIODS = '1m,5m,10m,15m,30m,1h,4h,1d';
const MIN = 60_000;
const AUTOCANNON = join(ROOT, 'node_modules/autocannon/autocannon.js');

interface Shot {
  /** 2xx answers. */
  readonly ok: number;
  readonly other: number;
  readonly errors: number;
  readonly seconds: number;
  readonly p99: number;
}

/** One autocannon run in a process of its own: for `seconds`, or (warm-ups) `{ requests }` in all; `headers` as name=value. */
export function shoot(url: string, connections: number, seconds: number | { requests: number }, headers: readonly string[] = []): Promise<Shot> {
  return new Promise((resolve, reject) => {
    const length = typeof seconds === 'number' ? ['-d', String(seconds)] : ['-a', String(seconds.requests)];
    const proc = spawn(process.execPath, [AUTOCANNON, '-c', String(connections), ...length, ...headers.flatMap((h) => ['-H', h]), '-j', url], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.once('error', reject);
    proc.once('exit', (code) => {
      try {
        if (code !== 0) throw new Error(`autocannon exited ${code}`);
        const r = JSON.parse(out) as Record<string, number> & { latency: { p99: number }; duration: number };
        resolve({
          ok: r['2xx']!,
          other: r['1xx']! + r['3xx']! + r['4xx']! + r['5xx']!,
          errors: r.errors! + r.timeouts!,
          seconds: r.duration,
          p99: r.latency.p99,
        });
      } catch (err) {
        reject(new Error(`bench: autocannon on ${url}: ${(err as Error).message}: ${out.slice(0, 200)}`));
      }
    });
  });
}

/**
 * An unmeasured warm-up (JIT, connections): a full run uses autocannon like
 * the measurement; --quick sends `requests` from this process, 10 at a time,
 * which spares the load generator's start-up (about 0.7 s a process here).
 */
export async function warmUp(ctx: BenchContext, url: string, connections: number, requests: number, headers: readonly string[] = []): Promise<void> {
  if (!ctx.quick) {
    await shoot(url, connections, { requests }, headers);
    return;
  }
  const init = { headers: Object.fromEntries(headers.map((h) => h.split('=', 2) as [string, string])) };
  let left = Math.ceil(requests / 4);
  await Promise.all(
    Array.from({ length: 10 }, async () => {
      while (left-- > 0) await (await fetch(url, init)).arrayBuffer();
    }),
  );
}

export interface Tally {
  ok: number;
  other: number;
  errors: number;
  seconds: number;
  p99s: number[];
}

export const tally = (): Tally => ({ ok: 0, other: 0, errors: 0, seconds: 0, p99s: [] });
export function add(t: Tally, s: Shot): void {
  t.ok += s.ok;
  t.other += s.other;
  t.errors += s.errors;
  t.seconds += s.seconds;
  t.p99s.push(s.p99);
}
export const rate = (t: Tally) => t.ok / t.seconds;
export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
export const refused = (t: Tally) => (t.other + t.errors > 0 ? `; ${t.other} non-2xx, ${t.errors} errors` : '');

/**
 * `pairs` pairs P0_USDT, P1_USDT, ... on the wall clock: P1_USDT trades
 * twice a minute for the last 150 minutes (so limit=100 reads 100 candles
 * with trades), every other pair a few trades in the last minutes; closed as
 * far as the clock allows, as the worker would.
 */
export async function seed(redis: BenchRedis, pairs: number): Promise<void> {
  const plan = planPeriods(parsePeriods(PERIODS));
  const keys = new Keys(PREFIX);
  await checkMeta(redis.client, keys, plan, { source: 'simulated', recordPeriods: true });
  await redis.client.hset(keys.clock(), { source: 'simulated' });
  const store = new CandleStore(redis.client, keys, plan);
  const names = Array.from({ length: pairs }, (_, i) => `P${i}_USDT`);
  await store.registerPairs(names);
  const now = Date.now();
  const tick = (pair: string, time: number, i: number): Tick => {
    const price = canonical(`${100 + (i % 37)}.${i % 10}5`);
    const quantity = canonical(`0.${(i % 9) + 1}`);
    return { pair, time, price, quantity, amount: decimal.mul(price, quantity), side: i % 2 ? 'buy' : 'sell', id: String(1_000 + i) };
  };
  const limits = closeLimits(plan, LIVE_CLOCK, 2_000);
  const CHUNK = 200;
  for (let i = 0; i < names.length; i += CHUNK) {
    await Promise.all(
      names.slice(i, i + CHUNK).map(async (pair) => {
        const ticks = pair === 'P1_USDT' ? Array.from({ length: 300 }, (_, k) => tick(pair, now - 150 * MIN + k * 30_000, k)) : Array.from({ length: 4 }, (_, k) => tick(pair, now - (4 - k) * MIN, k));
        await store.addTicks(pair, ticks);
        await store.closePair(pair, limits);
      }),
    );
  }
}

/** What a healthy ingester and worker keep writing, so /readyz answers 200 throughout. */
async function healthy(stats: Stats): Promise<void> {
  await stats.writeSourceStatus({ source: 'simulated', state: 'connected', detail: '', gaps: 0 });
  for (const p of PERIODS.split(',')) await stats.closeRun(p, Date.now(), 40);
}

export async function http(ctx: BenchContext): Promise<Figure[]> {
  const pairs = Number(process.env.BENCH_PAIRS ?? 2000);
  const section = 'http';
  const rounds = ctx.quick ? 2 : 5;
  const seconds = ctx.quick ? 1 : 3;
  const redis = await BenchRedis.start({ aof: false });
  const dir = mkdtempSync(join(tmpdir(), 'candlestack-bench-http-'));
  let api: BenchApp | undefined;
  let ceiling: ChildProcess | undefined;
  let beat: NodeJS.Timeout | undefined;
  try {
    ctx.progress(`http: seeding ${pairs} pairs with candles`);
    await seed(redis, pairs);
    const stats = new Stats(redis.client, new Keys(PREFIX));
    await healthy(stats);
    beat = setInterval(() => void healthy(stats).catch(() => undefined), 2_000);

    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    api = BenchApp.start('api', { REDIS_URL: redis.url, REDIS_PREFIX: PREFIX, PERIODS, PORT: String(port), RATE_LIMIT: '1000000' });
    await waitFor(async () => (await fetch(`${url}/healthz`).catch(() => undefined))?.ok, 'the API', 30_000, 100);
    const path = '/candles/P1_USDT/1m?limit=100';
    const res = await fetch(`${url}${path}`);
    const body = await res.text();
    if (res.status !== 200 || (JSON.parse(body) as { candles: unknown[] }).candles.length !== 100) {
      throw new Error(`bench: ${path} answered ${res.status}: ${body.slice(0, 200)}`);
    }
    const bodyFile = join(dir, 'body.json');
    writeFileSync(bodyFile, body);
    const proc = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts/bench/http-ceiling.ts'), bodyFile], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    ceiling = proc;
    const ports = await new Promise<{ express: number; bare: number }>((resolve, reject) => {
      let out = '';
      proc.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) resolve(JSON.parse(out) as { express: number; bare: number });
      });
      proc.once('exit', (code) => reject(new Error(`bench: the ceiling servers exited ${code}`)));
    });

    const targets = {
      api: `${url}${path}`,
      express: `http://127.0.0.1:${ports.express}${path}`,
      bare: `http://127.0.0.1:${ports.bare}${path}`,
    };
    ctx.progress(`http: GET ${path}, 100 connections, ${rounds} interleaved rounds of ${seconds} s (API, Express + helmet, node:http), body ${body.length} B`);
    for (const u of Object.values(targets)) await warmUp(ctx, u, 100, 2_000);
    const got = { api: tally(), express: tally(), bare: tally() };
    for (let r = 0; r < rounds; r++) {
      for (const [name, u] of Object.entries(targets) as [keyof typeof targets, string][]) {
        // node:http is the machine's limit, not a ratio's floor: --quick measures it once.
        if (name === 'bare' && ctx.quick && r > 0) continue;
        add(got[name], await shoot(u, 100, seconds));
      }
    }
    const express = rate(got.express);
    const figures: Figure[] = [
      {
        section,
        name: `GET ${path}, 100 conns`,
        value: rate(got.api),
        unit: 'req/s',
        ceiling: { name: 'Express 5 + helmet, same body', value: express },
        goal: '≥ 0.7',
        note: `p99 ${median(got.api.p99s)} ms (floor's ${median(got.express.p99s)} ms)${refused(got.api)}`,
      },
      {
        section,
        name: 'node:http, same body, 100 conns',
        value: rate(got.bare),
        unit: 'req/s',
        note: `p99 ${median(got.bare.p99s)} ms; the machine's and the load generator's own limit`,
      },
    ];

    ctx.progress(`http: /pairs, /metrics, /readyz at ${pairs} pairs, 10 connections`);
    for (const route of ['/pairs', '/metrics', '/readyz']) {
      await warmUp(ctx, `${url}${route}`, 10, 20);
      const t = tally();
      for (let r = 0; r < (ctx.quick ? 1 : rounds); r++) add(t, await shoot(`${url}${route}`, 10, seconds));
      figures.push({
        section,
        name: `GET ${route} at ${pairs} pairs, 10 conns`,
        value: rate(t),
        unit: 'req/s',
        ceiling: { name: 'Express 5 + helmet, the candles body', value: express },
        note: `p99 ${median(t.p99s)} ms${refused(t)}`,
      });
    }
    return figures;
  } finally {
    clearInterval(beat);
    ceiling?.kill('SIGTERM');
    await api?.stop();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
