/**
 * Redis stopped for some seconds and started again (AOF persistence, as in
 * docker-compose.yml and `pnpm dev`), under a running ingester, worker and
 * API as real processes: no process exits, /readyz says 503 with the reason
 * while Redis is down, everything resumes by itself, and the candles are
 * complete: the trades that arrived meanwhile were buffered, not dropped.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { Keys, Stats, candlesFromTicks, toCandle, toTick, type Candle } from '@candlestack/shared';
import { AppProcess } from '../support/processes.js';
import { PrivateRedis, freePort } from '../support/redis-server.js';
import { syntheticTicks } from '../support/synthetic.js';
import { sleep, waitFor } from '../support/wait.js';

const procs: AppProcess[] = [];
let redis: PrivateRedis | undefined;
const dir = mkdtempSync(join(tmpdir(), 'candlestack-fault-'));

afterAll(async () => {
  await Promise.all(procs.map((p) => p.kill()));
  await redis?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

describe('Redis stopped and started again', () => {
  it('loses nothing, keeps every process up, and says why it is not ready meanwhile', async () => {
    redis = await PrivateRedis.start();
    const prefix = 'fault-redis';
    // A replay in real time (speed 1) of trades from now on: the ingester is
    // still receiving while Redis is away.
    const start = Date.now() + 1_000;
    const ticks = ['AAA_USDT', 'BBB_USDT'].flatMap((pair, i) => syntheticTicks(pair, start, 11_000, 150, i + 7));
    ticks.sort((a, b) => a.time - b.time);
    const file = join(dir, 'trades.jsonl');
    writeFileSync(file, ticks.map((t) => JSON.stringify({ pair: t.pair, time: t.time, price: t.price, quantity: t.quantity, side: t.side, id: t.id })).join('\n') + '\n');

    const port = await freePort();
    const env = { REDIS_URL: redis.url, REDIS_PREFIX: prefix, PERIODS: '1s,5s', GRACE_MS: '300', PORT: String(port) };
    const api = AppProcess.start('api', env);
    const worker = AppProcess.start('worker', env);
    const ingest = AppProcess.start('ingest', { ...env, SOURCE: 'replay', REPLAY_FILE: file, REPLAY_SPEED: '1' });
    procs.push(api, worker, ingest);
    const url = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await fetch(`${url}/healthz`)).ok, 'the API');
    await waitFor(async () => (await fetch(`${url}/readyz`)).status === 200, 'ready before the fault');

    await sleep(3_000);
    await redis.stop();
    const down = Date.now();
    const ready = await waitFor(async () => {
      const r = await fetch(`${url}/readyz`);
      return r.status === 503 ? ((await r.json()) as { reasons: string[] }) : undefined;
    }, '/readyz to say 503');
    expect(ready.reasons.join(' ')).toMatch(/redis/i);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const during = await fetch(`${url}/candles/AAA_USDT/1s`);
    expect(during.status).toBe(503);
    expect(((await during.json()) as { error: { code: string } }).error.code).toBeTruthy();
    await sleep(Math.max(0, 4_000 - (Date.now() - down)));
    for (const p of procs) expect(p.running, `${p.app} still running`).toBe(true);
    await redis.start();

    // Everything resumes by itself; the replay finishes and every bucket closes.
    const client = new Redis(redis.url);
    const keys = new Keys(prefix);
    try {
      await waitFor(async () => (await client.hget(keys.clock(), 'done')) === '1', 'the replay to finish', 30_000);
      const last = ticks.at(-1)!.time;
      await waitFor(async () => Number(await client.hget(keys.state('AAA_USDT'), 'c:5000')) >= Math.floor(last / 5000) * 5000, 'the last candles to close', 20_000);
      await waitFor(async () => (await fetch(`${url}/readyz`)).status === 200, 'ready again', 20_000);
      for (const p of procs) expect(p.running, `${p.app} still running`).toBe(true);

      const canonical = ticks.map(({ amount: _quoteFromFile, ...t }) => toTick(t));
      for (const pair of ['AAA_USDT', 'BBB_USDT']) {
        for (const [period, ms] of [['1s', 1000], ['5s', 5000]] as const) {
          const r = await fetch(`${url}/candles/${pair}/${period}?limit=5000`);
          const got = ((await r.json()) as { candles: Candle[] }).candles;
          const expected = candlesFromTicks(canonical.filter((t) => t.pair === pair), ms, Math.floor(last / ms) * ms).map((c) => toCandle(c, true));
          expect(got, `${pair} ${period}`).toEqual(expected);
        }
      }
      const stats = await new Stats(client, keys).read();
      expect(stats.ticks_ingested_total).toBe(ticks.length);
      expect(stats.ticks_dropped_total ?? 0).toBe(0);
      // The outage was logged, readably, by the ingester.
      expect(ingest.logs().some((l) => /keeping them and retrying/.test(String(l.msg)))).toBe(true);
    } finally {
      client.disconnect();
    }
  }, 90_000);
});
