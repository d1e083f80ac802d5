/**
 * A pair whose stored data makes the close script fail is skipped, counted
 * and logged once; every other pair of the same run is closed. (A failing
 * pair must never hold up the others.)
 */
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { CandleStore, Keys, Stats, createLogger, parsePeriods, planPeriods } from '@candlestack/shared';
import { TEST_REDIS_URL, deletePrefix, testPrefix } from '../../../test/support/redis.js';
import { syntheticTicks } from '../../../test/support/synthetic.js';
import { Closer } from '../src/closer.js';

const redis = new Redis(TEST_REDIS_URL);
const prefix = testPrefix('close-errors');
afterAll(async () => {
  await deletePrefix(prefix);
  redis.disconnect();
});

describe('close errors', () => {
  it('skips a pair the script fails on, closes the others, counts and logs it once', async () => {
    const keys = new Keys(prefix);
    const plan = planPeriods(parsePeriods('1m,5m'));
    const store = new CandleStore(redis, keys, plan);
    const T0 = Date.UTC(2024, 1, 1);
    const pairs = ['A_USDT', 'B_USDT', 'C_USDT'];
    for (const [i, pair] of pairs.entries()) await store.addTicks(pair, syntheticTicks(pair, T0, 3_600_000, 200, i + 1));
    await store.registerPairs(pairs);
    await redis.hset(keys.clock(), { source: 'replay', time: T0 + 3_600_000, done: '1' });
    // B's 1m candles hold one that does not decode, and its 5m candles are
    // rolled up at close (as for trades stored before 5m was built as they
    // come: no bf mark): rolling up its 5m fails.
    await redis.zadd(keys.candles('B_USDT', 60_000), T0 + 120_000, '{broken');
    await redis.hdel(keys.state('B_USDT'), 'bf:300000');
    const lines: Record<string, unknown>[] = [];
    const log = createLogger('test', 'info', { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
    const closer = new Closer(redis, keys, plan, 0, log);
    const first = await closer.run(undefined);
    await closer.run(undefined);
    expect(first.pairs).toBe(3);
    for (const pair of ['A_USDT', 'C_USDT']) expect((await store.state(pair)).closedThrough.get(300_000), pair).toBe(T0 + 3_600_000);
    expect((await store.state('B_USDT')).closedThrough.get(300_000)).toBeUndefined();
    expect((await new Stats(redis, keys).read()).close_errors_total).toBe(2);
    const errors = lines.filter((l) => /cannot close B_USDT/.test(String(l.msg)));
    expect(errors).toHaveLength(1);
    expect(errors[0]!.err).toMatch(/^ERR user_script/);
  });
});
