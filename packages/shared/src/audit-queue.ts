/**
 * The audit queue's contract (docs/audit.md): its name and where its keys
 * live. The worker fills it with one job scheduler and runs it; the API
 * shows it on the board. Its jobs carry no data: each compares what has
 * closed since the last one.
 */
import { Queue, type JobsOptions } from 'bullmq';
import type { Keys } from './keys.js';
import type { RedisClient } from './redis.js';

export const AUDIT_QUEUE = 'audit';

/** The closed candles that differ kept for `GET /admin/audit` (the newest). */
export const AUDIT_KEEP = 500;

/** The scheduler's id: one for the deployment, whatever the number of workers. */
export const AUDIT_SCHEDULER = 'audit-closed-candles';

/** A run that fails (Redis away) is not retried: the next one, seconds later, does its work. */
export const AUDIT_JOB_OPTIONS = {
  removeOnComplete: { count: 100 },
  removeOnFail: { count: 100 },
  attempts: 1,
} as const satisfies JobsOptions;

export function auditQueueOptions(connection: RedisClient, keys: Keys): { connection: RedisClient; prefix: string } {
  return { connection, prefix: keys.bullPrefix(AUDIT_QUEUE) };
}

/** Opens the audit queue on a `createRedis(config, 'bullmq')` connection; `watchOnly` (the board): the worker owns its meta. */
export function openAuditQueue(connection: RedisClient, keys: Keys, opts: { readonly watchOnly?: boolean } = {}): Queue {
  return new Queue(AUDIT_QUEUE, { ...auditQueueOptions(connection, keys), ...(opts.watchOnly && { skipMetasUpdate: true }) });
}
