/**
 * What compression costs and saves at `GET /candles/DEEP_USDT/1m?limit=5000`
 * (issue 11, goal 4): the production API over a Redis of the bench's own
 * holding one pair with 5,200 minutes of trades (a trade a minute), stored
 * through the shared store's write and close path as in http.ts.
 *
 * - bytes on the wire: identity, gzip, br;
 * - req/s and p99 with 10 connections, per encoding, in interleaved rounds
 *   (identity, gzip, br, ...): the answer is kept in the read cache with
 *   its compressed forms, so this is the steady state of a window that does
 *   not change (a closed window, or between two trades);
 * - the cold cost: a window never asked before (a new `to` each time, so
 *   one script read, the body and, compressed, one zlib pass), median of
 *   sequential requests, per encoding. A live pair's newest window is in
 *   this case after every trade.
 */
import { get as httpGet } from 'node:http';
import { CandleStore, Keys, Stats, canonical, checkMeta, closeLimits, decimal, LIVE_CLOCK, parsePeriods, planPeriods, type Tick } from '@candlestack/shared';
import { BenchApp, BenchRedis, freePort, waitFor, type BenchContext, type Figure } from './lib.js';
import { add, median, rate, refused, shoot, tally, warmUp } from './http.js';

const PREFIX = 'bench-compression';
const PERIODS = '1m,5m';
const MIN = 60_000;
const PAIR = 'DEEP_USDT';
const MINUTES = 5_200;
const ENCODINGS = ['identity', 'gzip', 'br'] as const;

export async function seed(redis: BenchRedis): Promise<number> {
  const plan = planPeriods(parsePeriods(PERIODS));
  const keys = new Keys(PREFIX);
  await checkMeta(redis.client, keys, plan, { source: 'simulated', recordPeriods: true });
  await redis.client.hset(keys.clock(), { source: 'simulated' });
  const store = new CandleStore(redis.client, keys, plan);
  await store.registerPairs([PAIR]);
  const start = Math.floor(Date.now() / MIN) * MIN - MINUTES * MIN;
  const ticks: Tick[] = Array.from({ length: MINUTES }, (_, k) => {
    const price = canonical(`${30_000 + ((k * 37) % 997)}.${k % 100}`);
    const quantity = canonical(`0.0${(k % 9) + 1}3`);
    return { pair: PAIR, time: start + k * MIN + 17_000, price, quantity, amount: decimal.mul(price, quantity), side: k % 2 ? 'buy' : 'sell', id: String(k + 1) };
  });
  for (let i = 0; i < ticks.length; i += 500) await store.addTicks(PAIR, ticks.slice(i, i + 500));
  await store.closePair(PAIR, closeLimits(plan, LIVE_CLOCK, 2_000));
  const stats = new Stats(redis.client, keys);
  await stats.writeSourceStatus({ source: 'simulated', state: 'connected', detail: '', gaps: 0 });
  return start;
}

function fetchRaw(url: string, encoding: string): Promise<{ ms: number; bytes: number; encoding: string }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    httpGet(url, { headers: { 'Accept-Encoding': encoding } }, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => (bytes += c.length));
      res.on('end', () => resolve({ ms: performance.now() - t0, bytes, encoding: String(res.headers['content-encoding'] ?? 'identity') }));
    }).on('error', reject);
  });
}

export async function compression(ctx: BenchContext): Promise<Figure[]> {
  const section = 'compression';
  const rounds = ctx.quick ? 1 : 3;
  const seconds = ctx.quick ? 1 : 3;
  const redis = await BenchRedis.start({ aof: false });
  let api: BenchApp | undefined;
  try {
    ctx.progress(`compression: seeding ${PAIR} with ${MINUTES} minutes of trades`);
    const start = await seed(redis);
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    api = BenchApp.start('api', { REDIS_URL: redis.url, REDIS_PREFIX: PREFIX, PERIODS, PORT: String(port), RATE_LIMIT: '0' });
    await waitFor(async () => (await fetch(`${base}/healthz`).catch(() => undefined))?.ok, 'the API', 30_000, 100);
    // A closed window of 5,000 candles: the same bytes throughout the run.
    const to = start + 5_000 * MIN;
    const path = `/candles/${PAIR}/1m?limit=5000&to=${to}`;
    const url = `${base}${path}`;
    const size = new Map<string, number>();
    for (const e of ENCODINGS) {
      const r = await fetchRaw(url, e);
      if (r.encoding !== e) throw new Error(`bench: asked ${e}, got ${r.encoding}`);
      size.set(e, r.bytes);
    }
    const figures: Figure[] = ENCODINGS.map((e) => ({
      section,
      name: `bytes of ${path.split('?')[0]}?limit=5000, ${e}`,
      value: size.get(e)!,
      unit: 'B',
      note: e === 'identity' ? '5,000 candles, JSON' : `${((100 * size.get(e)!) / size.get('identity')!).toFixed(1)}% of identity`,
    }));

    ctx.progress(`compression: req/s at limit=5000 per encoding, 10 connections, ${rounds} interleaved rounds of ${seconds} s`);
    const got = Object.fromEntries(ENCODINGS.map((e) => [e, tally()]));
    for (const e of ENCODINGS) await warmUp(ctx, url, 10, 200, [`Accept-Encoding=${e}`]);
    for (let r = 0; r < rounds; r++) for (const e of ENCODINGS) add(got[e]!, await shoot(url, 10, seconds, [`Accept-Encoding=${e}`]));
    for (const e of ENCODINGS) {
      figures.push({
        section,
        name: `GET limit=5000 kept, ${e}, 10 conns`,
        value: rate(got[e]!),
        unit: 'req/s',
        ceiling: e === 'identity' ? undefined : { name: 'the same, identity', value: rate(got.identity!) },
        note: `p99 ${median(got[e]!.p99s)} ms${refused(got[e]!)}`,
      });
    }

    ctx.progress('compression: cold requests (a window never asked before), sequential');
    const n = ctx.quick ? 5 : 15;
    let k = 0;
    for (const e of ENCODINGS) {
      const ms: number[] = [];
      for (let i = 0; i < n; i++) ms.push((await fetchRaw(`${base}/candles/${PAIR}/1m?limit=5000&to=${to - ++k * MIN}`, e)).ms);
      figures.push({ section, name: `GET limit=5000 cold (read + body${e === 'identity' ? '' : ` + ${e}`})`, value: median(ms), unit: 'ms', note: `median of ${n}, one at a time` });
    }
    return figures;
  } finally {
    await api?.stop();
    await redis.stop();
  }
}
