/**
 * The dead letters: counted with the entry in one MULTI, even when nothing
 * good ever arrives; while Redis is away they wait, up to a bound, and what
 * is dropped past it is still counted (its own counter, and
 * dead_letters_failed_total) and logged, once Redis is back.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { Keys, Stats, createRedis } from '@candlestack/shared';
import { PrivateRedis } from '../../../test/support/redis-server.js';
import { DeadLetters } from '../src/dead-letters.js';
import { ReplaySource } from '../src/sources/replay.js';
import { captureLog, counter, startPipeline, waitFor } from './support/harness.js';

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

describe('dead letters', () => {
  it('a file of only bad lines is counted, line by line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'candlestack-dl-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'bad.jsonl');
    await writeFile(file, ['{"pair":"BTC_USDT","time":1}', '{"pair":"BTC_USDT","time":2,"price":"x"}', '{oops'].join('\n'));
    const p = await startPipeline(new ReplaySource({ file, speed: 0 }));
    cleanups.push(() => p.close());
    await waitFor('the replay done', async () => (await p.stats.readSourceStatus())?.state === 'done');
    expect(await counter(p, 'ticks_malformed_total')).toBe(3);
    expect(await p.redis.xlen(p.keys.deadLetter())).toBe(3);
    expect(await counter(p, 'ticks_ingested_total')).toBe(0);
  });

  it('waits while Redis is away, drops past its bound, and counts and logs every drop once Redis is back', async () => {
    const server = await PrivateRedis.start();
    cleanups.push(() => server.destroy());
    const log = captureLog();
    const redis = createRedis({ REDIS_URL: server.url }, 'command');
    const keys = new Keys('dl');
    const dl = new DeadLetters(redis, keys, 'replay', log.logger);
    cleanups.push(async () => {
      await dl.close();
      redis.disconnect();
    });
    await waitFor('the client', () => redis.status === 'ready');
    await server.stop();
    for (let i = 0; i < 10_250; i++) dl.add({ reason: `bad ${i}`, sample: '{}', counter: 'ticks_malformed_total' });
    await waitFor('the outage noticed', () => log.find(/cannot write dead letters/).length === 1);
    expect(log.find(/dead letters cannot be written \(Redis away\): dropping them/)).toHaveLength(1);
    await server.start();
    await dl.drain();
    const check = new Redis(server.url);
    cleanups.push(async () => check.disconnect());
    const stats = await new Stats(check, keys).read();
    // 10,000 waited and were written; 250 were dropped, yet still counted.
    expect(stats.ticks_malformed_total).toBe(10_250);
    expect(stats.dead_letters_failed_total).toBe(250);
    expect(await check.xlen(keys.deadLetter())).toBeGreaterThanOrEqual(10_000);
    expect(log.find(/writing dead letters again/)).toHaveLength(1);
  });
});
