/** The three apps started in-process against the test Redis, with their own prefix. */
import { createLogger, parseConfig, type Logger } from '@candlestack/shared';
import { ingestEnv } from '../../apps/ingest/src/env.js';
import { Ingester } from '../../apps/ingest/src/ingester.js';
import type { Source } from '../../apps/ingest/src/source.js';
import { workerEnv } from '../../apps/worker/src/env.js';
import { startWorker, type RunningWorker } from '../../apps/worker/src/worker.js';
import { TEST_REDIS_URL } from './redis.js';

export const quietLog: Logger = createLogger('test', process.env.TEST_LOG_LEVEL ?? 'silent');

export function testEnv(prefix: string, extra: Record<string, string> = {}): Record<string, string> {
  return { REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: prefix, PERIODS: '1s,5s', GRACE_MS: '300', ...extra };
}

export async function startIngester(env: Record<string, string>, source: Source): Promise<Ingester> {
  const ingester = new Ingester(parseConfig(ingestEnv, env), source, quietLog);
  await ingester.start();
  return ingester;
}

export async function startTestWorker(env: Record<string, string>): Promise<RunningWorker> {
  return startWorker(parseConfig(workerEnv, env), quietLog);
}
