/**
 * The close queue's contract, owned here so that every app agrees on it:
 * its name, where its keys live, what a job carries and how one is queued.
 * The worker fills it with its schedulers and runs it, the ingester queues
 * a run at the end of a replay, the API shows it on the board.
 */
import { Queue, type JobsOptions, type QueueOptions } from 'bullmq';
import { Cluster } from 'ioredis';
import { z } from 'zod';
import type { Keys } from './keys.js';
import type { RedisClient } from './redis.js';

/** The queue's name (BullMQ forbids `:` in it). */
export const CLOSE_QUEUE = 'close';

/**
 * A close run is split into this many jobs, each closing the pairs of one
 * shard (closeShardOf), so that several workers share the work: two
 * workers each take about half the jobs. Each shard has its own scheduler.
 * Each job costs a few commands of its own besides its pairs' (the clock,
 * the pair list, the counters), hence few shards.
 */
export const CLOSE_SHARDS = 4;

/** Which shard of `of` a pair's closes belong to: FNV-1a of its name, stable across processes and versions. */
export function closeShardOf(pair: string, of: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < pair.length; i++) {
    h ^= pair.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % of;
}

const shardSchema = z
  .strictObject({ index: z.number().int().min(0), of: z.number().int().min(1).max(1024) })
  .refine((s) => s.index < s.of, 'index must be below of');

/** What a close job carries. Checked when queued and again when run. */
export const closeJobSchema = z.strictObject({
  /**
   * Close this period's chain only (the period and the periods it is rolled
   * up from); absent, every period (a scheduled run, a catch-up, the end of
   * a replay).
   */
  periodMs: z.number().int().positive().optional(),
  /**
   * Close only the pairs of this shard (closeShardOf(pair, of) === index);
   * absent, every pair. The shard count travels with the job, so workers
   * of versions with another CLOSE_SHARDS still close the right pairs.
   */
  shard: shardSchema.optional(),
});

export type CloseJobData = z.infer<typeof closeJobSchema>;
export type CloseShard = z.infer<typeof shardSchema>;

export class CloseJobError extends Error {}

/** A job's data as the contract says, or CloseJobError naming what is wrong (a job of another version, or not ours). */
export function parseCloseJob(data: unknown): CloseJobData {
  const r = closeJobSchema.safeParse(data);
  if (r.success) return r.data;
  const why = r.error.issues.map((i) => `${i.path.join('.') || '(data)'}: ${i.message}`).join('; ');
  throw new CloseJobError(`not a close job: ${why}`);
}

/**
 * The queue's options for a Queue or a Worker. The prefix carries a hash tag
 * (keys.ts bullPrefix), since BullMQ's scripts touch many keys of a queue
 * at once: on a Redis Cluster they must share a slot.
 */
export function closeQueueOptions(connection: RedisClient, keys: Keys): QueueOptions & { connection: RedisClient; prefix: string } {
  return { connection, prefix: keys.bullPrefix(CLOSE_QUEUE) };
}

/**
 * Opens the close queue on a connection made with `createRedis(config,
 * 'bullmq')`. `watchOnly` (the board): do not write the queue's meta, the
 * worker owns it.
 */
export function openCloseQueue(connection: RedisClient, keys: Keys, opts: { readonly watchOnly?: boolean } = {}): Queue<CloseJobData> {
  return new Queue<CloseJobData>(CLOSE_QUEUE, { ...closeQueueOptions(connection, keys), ...(opts.watchOnly && { skipMetasUpdate: true }) });
}

/**
 * Removes the close queue an older Candlestack kept under a prefix with no
 * hash tag (its scheduler would never fire again, its keys would stay):
 * true if there was one. Nothing to do on a Redis Cluster, where it never
 * worked.
 */
export async function removeUntaggedCloseQueue(connection: RedisClient, keys: Keys): Promise<boolean> {
  if (connection instanceof Cluster) return false;
  if ((await connection.exists(...keys.untaggedQueueKeys(CLOSE_QUEUE))) === 0) return false;
  const old = new Queue(CLOSE_QUEUE, { connection, prefix: keys.untaggedBullPrefix() });
  try {
    await old.obliterate({ force: true });
  } finally {
    await old.close();
  }
  return true;
}

/**
 * Every close job's options: a failed run is retried (Redis away for a
 * moment), and only the recent ones are kept for the board.
 */
export const CLOSE_JOB_OPTIONS = {
  removeOnComplete: { count: 200 },
  removeOnFail: { count: 1000 },
  attempts: 5,
  backoff: { type: 'exponential', delay: 500 },
} as const satisfies JobsOptions;

/**
 * Queues one close run now, named `name` on the board (e.g. "catch up",
 * "close after replay"); `data` as the contract says (default: every
 * period). A run over every pair is queued as one job per shard, so the
 * workers share it.
 */
export async function enqueueClose(queue: Queue<CloseJobData>, name: string, data: CloseJobData = {}): Promise<void> {
  const run = closeJobSchema.parse(data);
  const jobs = run.shard ? [run] : closeShards().map((shard) => ({ ...run, shard }));
  await queue.addBulk(jobs.map((d) => ({ name, data: d, opts: CLOSE_JOB_OPTIONS })));
}

/** Every shard of CLOSE_SHARDS. */
export function closeShards(): CloseShard[] {
  return Array.from({ length: CLOSE_SHARDS }, (_, index) => ({ index, of: CLOSE_SHARDS }));
}
