/**
 * HEALTH_FILE, what the containers' health checks read (docker-compose.yml):
 * the ingester and the worker rewrite it while they do their work, and an
 * ingester whose source is unreachable does not.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { isHealthFileFresh } from '@candlestack/shared';
import { AppProcess } from './support/processes.js';
import { TEST_REDIS_URL, deletePrefix, testPrefix } from './support/redis.js';
import { waitFor } from './support/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'health-'));
const prefix = testPrefix('health');
const running: AppProcess[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.stop()));
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await deletePrefix(prefix);
});

const env = (file: string, more: Record<string, string> = {}) => ({
  REDIS_URL: TEST_REDIS_URL,
  REDIS_PREFIX: prefix,
  PERIODS: '1s,1m',
  HEALTH_FILE: file,
  ...more,
});

describe('HEALTH_FILE', () => {
  it('is kept fresh by a worker and by an ingester whose source delivers', async () => {
    const workerFile = join(dir, 'worker');
    const ingestFile = join(dir, 'ingest');
    running.push(AppProcess.start('worker', env(workerFile)));
    running.push(AppProcess.start('ingest', env(ingestFile, { SOURCE: 'simulated', PAIRS: 'BTC_USDT' })));
    await waitFor(() => isHealthFileFresh(workerFile), 'the worker to write its health file', 30_000);
    await waitFor(() => isHealthFileFresh(ingestFile), 'the ingester to write its health file', 30_000);
  });

  it('is not written by an ingester that cannot reach its exchange', async () => {
    const file = join(dir, 'cut-off');
    const ingest = AppProcess.start(
      'ingest',
      env(file, { SOURCE: 'poloniex', PAIRS: 'BTC_USDT', POLONIEX_WS_URL: 'ws://127.0.0.1:9/ws', POLONIEX_REST_URL: 'http://127.0.0.1:9' }),
    );
    running.push(ingest);
    await ingest.waitForLog((l) => l.msg === 'health file: unhealthy', 'the ingester to call itself unhealthy', 30_000);
    expect(existsSync(file)).toBe(false);
  });
});
