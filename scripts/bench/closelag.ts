/**
 * Close lag, as issue 9 defines it: 1,000 pairs × 8 periods on the wall
 * clock (the simulated market, one trade per pair per second), from each
 * bucket's end plus GRACE_MS to its closed candle being readable, read
 * through the API (GET /candles of a sample of pairs, retried every 10 ms
 * until the bucket reads as closed). Periods are seconds to minutes so that
 * many buckets end within the run: 1s,2s,5s,10s,15s,30s,1m,5m.
 *
 * Beside it, the worker's own lag: when the closed candle's event (sent
 * right after the worker stored it) reached a subscriber. Reads do not wait
 * for it: a bucket whose grace time is over reads as closed (read-candles).
 */
import { Agent, get } from 'node:http';
import { Redis } from 'ioredis';
import { BenchApp, BenchRedis, freePort, percentile, sleep, waitFor, type BenchContext, type Figure } from './lib.js';

const PERIODS = ['1s', '2s', '5s', '10s', '15s', '30s', '1m', '5m'];
const GRACE_MS = 250;
const SECONDS: Record<string, number> = { '1s': 1, '2s': 2, '5s': 5, '10s': 10, '15s': 15, '30s': 30, '1m': 60, '5m': 300 };
const SAMPLE = 40;

interface Body {
  candles: { time: number; closed: boolean }[];
}

/**
 * GET and parse, on kept-alive sockets: this process asks 280 reads at once
 * at a minute's end (40 pairs × 7 periods), and fetch()'s own CPU per
 * request queued the answers here, in the figure, not in the API.
 */
const agent = new Agent({ keepAlive: true });
function getBody(url: string): Promise<Body> {
  return new Promise((resolve, reject) => {
    get(url, { agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString()) as Body);
        } catch (err) {
          reject(err as Error);
        }
      });
    }).on('error', reject);
  });
}

export async function closeLag(ctx: BenchContext): Promise<Figure[]> {
  const pairs = Number(process.env.BENCH_PAIRS ?? 1000);
  const seconds = ctx.quick ? 9 : 65;
  const redis = await BenchRedis.start({ aof: true });
  const sub = new Redis(redis.url);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const section = 'close lag';
  const pairList = Array.from({ length: pairs }, (_, i) => `P${i}_USDT`).join(',');
  const env = {
    REDIS_URL: redis.url, REDIS_PREFIX: 'bench-lag', PERIODS: PERIODS.join(','), GRACE_MS: String(GRACE_MS),
    SOURCE: 'simulated', PAIRS: pairList, SIM_RATE: '1', PORT: String(port), RATE_LIMIT: '0',
  };
  const workerLags: number[] = [];
  let started = Infinity;
  // Kept as received and parsed after the run: parsing 8,000 events at a
  // minute's end took this process's CPU just when its reads were timed.
  const received: [number, string][] = [];
  sub.on('message', (_ch, text: string) => received.push([Date.now(), text]));
  const workerLagsOf = () => {
    for (const [at, text] of received) {
      const e = JSON.parse(text) as { type: string; period?: string; candle?: { time: number } };
      if (e.type !== 'closed' || !e.period || !e.candle) continue;
      const end = e.candle.time + SECONDS[e.period]! * 1000;
      if (end >= started) workerLags.push(at - (end + GRACE_MS));
    }
  };
  await sub.subscribe('bench-lag:events');
  const apps = [BenchApp.start('ingest', env), BenchApp.start('worker', env), BenchApp.start('api', env)];
  const lags: number[] = [];
  let beforeFirst = 0;
  const byPeriod = new Map<string, number[]>();
  try {
    ctx.progress(`close lag: ${pairs} pairs × 8 periods on the wall clock for ${seconds} s, reading ${SAMPLE} of the pairs through the API`);
    await waitFor(async () => (await redis.client.hget('bench-lag:{global}:source', 'state')) === 'connected', 'the simulated market', 30_000, 100);
    await waitFor(async () => (await fetch(`${url}/healthz`).catch(() => undefined))?.ok, 'the API', 30_000, 100);
    await sleep(3_000); // every pair has traded, the schedulers are in place
    started = Date.now();
    const until = started + seconds * 1000;
    const sample = Array.from({ length: SAMPLE }, (_, i) => `P${Math.floor((i * pairs) / SAMPLE)}_USDT`);
    const waits: Promise<void>[] = [];
    // At each second's end plus the grace time: every bucket that just ended, read until closed.
    for (let end = Math.ceil(started / 1000) * 1000; end + GRACE_MS < until; end += 1000) {
      await sleep(end + GRACE_MS - Date.now());
      for (const p of PERIODS) {
        if ((end / 1000) % SECONDS[p]! !== 0) continue;
        const bucket = end - SECONDS[p]! * 1000;
        for (const pair of sample) {
          waits.push(
            (async () => {
              for (;;) {
                // From the bucket itself: a slow answer can never scroll it out of view.
                const body = await getBody(`${url}/candles/${pair}/${p}?from=${bucket}&limit=1`);
                const now = Date.now();
                if (body.candles.some((c) => c.time === bucket && c.closed)) {
                  const lag = now - (end + GRACE_MS);
                  lags.push(lag);
                  let l = byPeriod.get(p);
                  if (!l) byPeriod.set(p, (l = []));
                  l.push(lag);
                  return;
                }
                // A bucket before the pair's first trade has no candle at all (the
                // simulated market has quiet spells): not a lag, left out.
                if (body.candles[0] !== undefined && body.candles[0].time > bucket) {
                  beforeFirst++;
                  return;
                }
                if (now - end > 10_000) return; // never: counted as missing below
                await sleep(10);
              }
            })(),
          );
        }
      }
    }
    await Promise.all(waits);
    workerLagsOf();
    lags.sort((a, b) => a - b);
    workerLags.sort((a, b) => a - b);
    const out: Figure[] = [
      {
        section,
        name: `bucket end + grace to readable as closed, ${pairs} pairs × 8 periods: p99 of ${lags.length} reads`,
        value: percentile(lags, 99),
        unit: 'ms',
        goal: '≤ 250',
        note: `p50 ${percentile(lags, 50).toFixed(0)} ms; ${waits.length - lags.length - beforeFirst} never closed (${beforeFirst} before the pair's first trade)`,
      },
    ];
    for (const p of PERIODS) {
      const l = (byPeriod.get(p) ?? []).sort((a, b) => a - b);
      if (l.length > 0) out.push({ section, name: `${p}: p99 of ${l.length} reads`, value: percentile(l, 99), unit: 'ms', note: `p50 ${percentile(l, 50).toFixed(0)} ms` });
    }
    out.push({
      section,
      name: `the worker's own: to the closed event, p99 of ${workerLags.length}`,
      value: percentile(workerLags, 99),
      unit: 'ms',
      note: `p50 ${percentile(workerLags, 50).toFixed(0)} ms (reads do not wait for it)`,
    });
    return out;
  } finally {
    sub.disconnect();
    agent.destroy();
    for (const a of apps) await a.stop();
    await redis.stop();
  }
}
