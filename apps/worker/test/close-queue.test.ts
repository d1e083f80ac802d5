/**
 * The worker runs what the shared contract queues (enqueueClose), and a job
 * the contract refuses (another version's, not ours) fails once, said in
 * the log, never retried. The queue an older version left under a prefix
 * with no hash tag is removed.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { CLOSE_SHARDS, Keys, Stats, createLogger, enqueueClose, openCloseQueue, parseConfig } from '@candlestack/shared';
import { TEST_REDIS_URL, deletePrefix, testPrefix } from '../../../test/support/redis.js';
import { waitFor } from '../../../test/support/wait.js';
import { workerEnv } from '../src/env.js';
import { startWorker, type RunningWorker } from '../src/worker.js';

const prefix = testPrefix('close-queue');
const keys = new Keys(prefix);
const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
let worker: RunningWorker | undefined;
afterAll(async () => {
  await worker?.close();
  await deletePrefix(prefix);
  redis.disconnect();
});

describe('the close queue', () => {
  it('runs jobs queued through the contract; refuses others without retrying them', async () => {
    // What an older worker left: its scheduler and a job, under `<prefix>:bull`.
    const old = new Queue('close', { connection: redis, prefix: keys.untaggedBullPrefix() });
    await old.upsertJobScheduler('close-every-1m', { every: 60_000 }, { name: 'close every 1m', data: { all: true } });
    await old.add('catch up', { all: true });
    await old.close();
    expect(await redis.keys(`${keys.untaggedBullPrefix()}:close:*`)).not.toEqual([]);

    const lines: Record<string, unknown>[] = [];
    const log = createLogger('test', 'info', { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
    worker = await startWorker(parseConfig(workerEnv, { REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: prefix, PERIODS: '1m' }), log);
    expect(await redis.keys(`${keys.untaggedBullPrefix()}:close:*`)).toEqual([]);
    expect(lines.some((l) => /removed the close queue of an older Candlestack/.test(String(l.msg)))).toBe(true);
    const queue = openCloseQueue(redis, keys);
    try {
      const stats = new Stats(redis, keys);
      const ran = async () => (await stats.read()).close_jobs_total ?? 0;
      await waitFor(async () => (await ran()) >= 1, 'the catch-up run');
      const before = await ran();
      await enqueueClose(queue, 'by the contract', { periodMs: 60_000 });
      // One job per shard, so that several workers share the run.
      await waitFor(async () => (await ran()) >= before + CLOSE_SHARDS, 'the queued run');
      const queued = (await queue.getCompleted()).filter((j) => j.name === 'by the contract');
      expect(queued.map((j) => j.data.shard?.index).sort()).toEqual([...Array(CLOSE_SHARDS).keys()]);
      await expect(enqueueClose(queue, 'bad', { periodMs: -5 })).rejects.toThrow();

      const foreign = await queue.add('foreign', { all: true } as never, { attempts: 5 });
      await waitFor(async () => (await queue.getJob(foreign.id!))?.failedReason, 'the foreign job to fail');
      const job = (await queue.getJob(foreign.id!))!;
      expect(job.attemptsMade).toBe(1);
      expect(job.failedReason).toMatch(/not a close job: .*all/);
      expect(lines.some((l) => l.msg === 'close job refused')).toBe(true);
    } finally {
      await queue.close();
    }
  });
});
