/**
 * The stored deployment meta: written at the first start, checked by every
 * app at each start. A compatible change (a new period on the same base) is
 * taken and built from what is stored; an incompatible one (a new base, a
 * simulated market meeting a real one, data of an older key layout) stops
 * the app with one line that names the variable, the stored value and what
 * to do.
 */
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CandleStore,
  KEY_LAYOUT,
  Keys,
  candlesFromTicks,
  createLogger,
  parseConfig,
  parsePeriods,
  planPeriods,
  type StoredCandle,
} from '@candlestack/shared';
import { workerEnv } from '../apps/worker/src/env.js';
import { startWorker } from '../apps/worker/src/worker.js';
import { AppProcess, type AppName } from './support/processes.js';
import { TEST_REDIS_URL, deletePrefix, testPrefix } from './support/redis.js';
import { syntheticTicks } from './support/synthetic.js';
import { waitFor } from './support/wait.js';

const redis = new Redis(TEST_REDIS_URL);
const prefixes: string[] = [];
afterAll(async () => {
  await Promise.all(prefixes.map((p) => deletePrefix(p)));
  redis.disconnect();
});

function newPrefix(): string {
  const p = testPrefix('meta');
  prefixes.push(p);
  return p;
}

/** Starts an app as a process and waits for it to exit; its output lines. */
async function runToExit(app: AppName, env: Record<string, string>): Promise<{ code: number | null | undefined; lines: string[] }> {
  const p = AppProcess.start(app, { REDIS_URL: TEST_REDIS_URL, PORT: '0', ...env });
  const t = setTimeout(() => void p.kill(), 20_000);
  await p.waitExit();
  clearTimeout(t);
  return { code: p.exitCode, lines: p.lines };
}

const strip = ({ ot: _a, oi: _b, ct: _c, ci: _d, ...c }: StoredCandle) => c;

describe('deployment meta', () => {
  it('is written at the first start: layout, base period, periods, source', async () => {
    const prefix = newPrefix();
    const worker = await startWorker(parseConfig(workerEnv, { REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: prefix, PERIODS: '5m,1m' }), createLogger('test', 'silent'));
    await worker.close();
    expect(await redis.hgetall(new Keys(prefix).meta())).toMatchObject({ layout: String(KEY_LAYOUT), base: '60000', periods: '60000,300000' });
  });

  it('a new base period stops every app with one line naming PERIODS, the stored base and what to do', async () => {
    const prefix = newPrefix();
    const first = await startWorker(parseConfig(workerEnv, { REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: prefix, PERIODS: '1m,5m' }), createLogger('test', 'silent'));
    await first.close();
    for (const app of ['worker', 'ingest', 'api'] as const) {
      const r = await runToExit(app, { REDIS_PREFIX: prefix, PERIODS: '1s,1m,5m', SOURCE: 'simulated', LOG_LEVEL: 'silent' });
      expect(r.code, app).toBe(1);
      expect(r.lines, app).toEqual([
        `invalid configuration: PERIODS=1s,1m,5m makes the base period 1s, but the data under REDIS_PREFIX=${prefix} was built on 1m (PERIODS=1m,5m): ` +
          'keep every period a multiple of 1m with one equal to it or to their greatest common divisor, or use a new REDIS_PREFIX for a new base',
      ]);
    }
  }, 60_000);

  it('a simulated market never shares data with a real one: SOURCE named, in both directions', async () => {
    const prefix = newPrefix();
    const keys = new Keys(prefix);
    await redis.hset(keys.meta(), { layout: KEY_LAYOUT, base: 60_000, periods: '60000', source: 'simulated' });
    const r = await runToExit('ingest', { REDIS_PREFIX: prefix, PERIODS: '1m', SOURCE: 'poloniex', POLONIEX_WS_URL: 'ws://127.0.0.1:9/ws', POLONIEX_REST_URL: 'http://127.0.0.1:9' });
    expect(r.code).toBe(1);
    expect(r.lines).toContain(
      `invalid configuration: SOURCE=poloniex: the data under REDIS_PREFIX=${prefix} comes from the simulated source, and a simulated market must never share candles with a real one: use another REDIS_PREFIX (e.g. REDIS_PREFIX=${prefix}-poloniex)`,
    );
    await redis.hset(keys.meta(), 'source', 'replay');
    const back = await runToExit('ingest', { REDIS_PREFIX: prefix, PERIODS: '1m', SOURCE: 'simulated' });
    expect(back.code).toBe(1);
    expect(back.lines.some((l) => l.startsWith('invalid configuration: SOURCE=simulated: the data under'))).toBe(true);
  }, 60_000);

  it('data of the first key layout (no meta) stops the app, saying how to start afresh', async () => {
    const prefix = newPrefix();
    await redis.sadd(`${prefix}:pairs`, 'BTC_USDT');
    const r = await runToExit('worker', { REDIS_PREFIX: prefix, LOG_LEVEL: 'silent' });
    expect(r.code).toBe(1);
    expect(r.lines).toEqual([
      `invalid configuration: REDIS_PREFIX=${prefix}: its data was written by an older Candlestack (key layout 1; this one reads layout ${KEY_LAYOUT}): ` +
        `use a new REDIS_PREFIX, or delete the old keys (redis-cli --scan --pattern '${prefix}:*' | xargs redis-cli unlink)`,
    ]);
    expect(await redis.exists(new Keys(prefix).meta())).toBe(0);
  }, 30_000);

  it('a new period on the same base is taken and built from the stored base candles; the log says so', async () => {
    const prefix = newPrefix();
    const keys = new Keys(prefix);
    const T0 = Date.UTC(2024, 3, 1);
    const ticks = syntheticTicks('A_USDT', T0, 3 * 3_600_000, 2_000, 9);
    const last = ticks.at(-1)!.time;
    const env = { REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: prefix, GRACE_MS: '0' };
    // Built and closed with 1m and 5m, as a finished replay.
    const before = planPeriods(parsePeriods('1m,5m'));
    const store = new CandleStore(redis, keys, before);
    await store.registerPairs(['A_USDT']);
    await store.addTicks('A_USDT', ticks);
    await redis.hset(keys.clock(), { source: 'replay', time: last, done: '1' });
    const w1 = await startWorker(parseConfig(workerEnv, { ...env, PERIODS: '1m,5m' }), createLogger('test', 'silent'));
    await waitFor(async () => Number(await redis.hget(keys.state('A_USDT'), 'c:300000')) >= Math.floor(last / 300_000) * 300_000, 'the 5m candles');
    await w1.close();

    // Then 1h is added.
    const logged: Record<string, unknown>[] = [];
    const log = createLogger('test', 'info', { write: (line: string) => void logged.push(JSON.parse(line) as Record<string, unknown>) });
    const w2 = await startWorker(parseConfig(workerEnv, { ...env, PERIODS: '1m,5m,1h' }), log);
    expect(logged.map((l) => l.msg)).toContain("period 1h is new to this deployment: its candles are built from every stored 1m candle, from each pair's first trade");
    await waitFor(async () => Number(await redis.hget(keys.state('A_USDT'), 'c:3600000')) >= Math.floor(last / 3_600_000) * 3_600_000, 'the 1h candles');
    await w2.close();
    const after = new CandleStore(redis, keys, planPeriods(parsePeriods('1m,5m,1h')));
    expect((await after.closedCandles('A_USDT', 3_600_000, { from: 0, limit: 100 })).map(strip)).toEqual(candlesFromTicks(ticks, 3_600_000).map(strip));
    expect((await redis.hget(keys.meta(), 'periods'))?.split(',')).toEqual(['60000', '300000', '3600000']);
  });
});
