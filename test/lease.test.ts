/**
 * The lease primitives against the test Redis (packages/shared/src/lease.ts
 * and its scripts): one holder at a time, renewed and released only by it,
 * taken by another once lapsed, taken again by its holder if Redis lost it; the heartbeat counts the live members by
 * Redis' clock and forgets the ones that stopped beating.
 */
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { Keys, Leases } from '@candlestack/shared';
import { TEST_REDIS_URL, deletePrefix, testPrefix } from './support/redis.js';
import { sleep } from './support/wait.js';

const redis = new Redis(TEST_REDIS_URL);
const prefix = testPrefix('lease');
const keys = new Keys(prefix);
afterAll(async () => {
  await deletePrefix(prefix);
  redis.disconnect();
});

describe('leases', () => {
  it('has one holder: only it renews or releases; once lapsed, another takes it', async () => {
    const key = keys.lease('BTC_USDT');
    expect(key).toBe(`${prefix}:lease:{BTC_USDT}`);
    const a = new Leases(redis, 'a', 300);
    const b = new Leases(redis, 'b', 300);
    expect(await a.take(key)).toBe(true);
    expect(await b.take(key)).toBe(false);
    expect(await b.renew(key)).toBe(false);
    expect(await b.release(key)).toBe(false);
    expect(await a.holder(key)).toBe('a');
    await sleep(200);
    expect(await a.renew(key)).toBe(true);
    await sleep(200);
    // Renewed: still a's, 400 ms after it was taken with a 300 ms lease.
    expect(await b.take(key)).toBe(false);
    await sleep(350);
    expect(await b.take(key)).toBe(true);
    expect(await a.renew(key)).toBe(false);
    expect(await a.release(key)).toBe(false);
    expect(await b.holder(key)).toBe('b');
    expect(await b.release(key)).toBe(true);
    expect(await a.holder(key)).toBe(null);
    // Gone from Redis (a restart without it) while a still counts it as held: renewing takes it again.
    expect(await a.renew(key)).toBe(true);
    expect(await b.take(key)).toBe(false);
    expect(await a.holder(key)).toBe('a');
  });

  it('counts the live members by heartbeat, without the ones that stopped or left', async () => {
    const members = keys.ingesters();
    expect(members).toBe(`${prefix}:{global}:ingesters`);
    const a = new Leases(redis, 'a', 300);
    const b = new Leases(redis, 'b', 300);
    const c = new Leases(redis, 'c', 300);
    expect(await a.heartbeat(members)).toBe(1);
    expect(await b.heartbeat(members)).toBe(2);
    expect(await c.heartbeat(members)).toBe(3);
    await c.leave(members);
    expect(await a.heartbeat(members)).toBe(2);
    await sleep(200);
    expect(await a.heartbeat(members)).toBe(2);
    await sleep(200);
    // b has not beaten for 400 ms: gone.
    expect(await a.heartbeat(members)).toBe(1);
  });
});
