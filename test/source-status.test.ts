/**
 * The source's status with several ingesters sharing the pairs by lease:
 * each writes its own, with the pairs it holds, and what /readyz and the
 * dashboard read is judged from all of them. An ingester holding no pair
 * (restarted, waiting for leases) must not make the deployment look down;
 * a healthy one must not hide another's pairs going stale.
 */
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { Keys, Stats, type SourceState } from '@candlestack/shared';
import { TEST_REDIS_URL, deletePrefix, testPrefix } from './support/redis.js';

const redis = new Redis(TEST_REDIS_URL);
const prefixes: string[] = [];
afterAll(async () => {
  for (const p of prefixes) await deletePrefix(p);
  redis.disconnect();
});

function stats(): { stats: Stats; keys: Keys } {
  const prefix = testPrefix('source-status');
  prefixes.push(prefix);
  const keys = new Keys(prefix);
  return { stats: new Stats(redis, keys), keys };
}

const NOW = Date.now();
const report = (s: Stats, id: string, state: SourceState, holds: number, ageMs = 0, detail = `${id} ${state}`) =>
  s.writeSourceStatus({ source: 'poloniex', state, detail, gaps: 1 }, { id, holds, now: NOW - ageMs });

describe('the source status of several ingesters', () => {
  it('one ingester reads exactly as it wrote', async () => {
    const { stats: s } = stats();
    await report(s, 'a', 'connecting', 0);
    expect(await s.readSourceStatus(NOW)).toEqual({ source: 'poloniex', state: 'connecting', detail: 'a connecting', heartbeat: NOW, gaps: 1 });
  });

  it('an ingester holding no pair does not make the deployment look down', async () => {
    const { stats: s } = stats();
    await report(s, 'a', 'connected', 6);
    await report(s, 'b', 'connecting', 0);
    expect(await s.readSourceStatus(NOW)).toMatchObject({ state: 'connected', detail: 'a connected', gaps: 2 });
  });

  it("a healthy ingester does not hide another's pairs going stale: the worst of those holding pairs speaks", async () => {
    const { stats: s } = stats();
    await report(s, 'a', 'connected', 3);
    await report(s, 'b', 'disconnected', 3, 1_000, 'b cannot reach Poloniex');
    expect(await s.readSourceStatus(NOW)).toMatchObject({ state: 'disconnected', detail: 'b cannot reach Poloniex (2 ingesters)', heartbeat: NOW - 1_000 });
  });

  it('an ingester that stopped reporting (killed) is left out once its report is old', async () => {
    const { stats: s } = stats();
    await report(s, 'dead', 'disconnected', 3, 20_000);
    await report(s, 'alive', 'connected', 6);
    expect(await s.readSourceStatus(NOW)).toMatchObject({ state: 'connected', detail: 'alive connected' });
  });

  it('when none reports now, the latest report: its age says the ingesters are silent', async () => {
    const { stats: s } = stats();
    await report(s, 'a', 'connected', 3, 40_000);
    await report(s, 'b', 'connected', 3, 30_000);
    expect(await s.readSourceStatus(NOW)).toMatchObject({ state: 'connected', heartbeat: NOW - 30_000 });
  });

  it('keeps an ingester’s own report a minute at most, and forgets reporters older than that', async () => {
    const { stats: s, keys } = stats();
    await report(s, 'a', 'connected', 3);
    const ttl = await redis.pttl(keys.sourceStatusOf('a'));
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    await report(s, 'old', 'connected', 3, 120_000);
    await report(s, 'a', 'connected', 3);
    expect(await redis.zrange(keys.sourceReporters(), '0', '-1')).toEqual(['a']);
  });
});
