/** The worker process: `pnpm --filter ./apps/worker dev`. */
import { ConfigError, configSecrets, createLogger, keepHealthFile, loadConfig } from '@candlestack/shared';
import { workerEnv } from './env.js';
import { startWorker } from './worker.js';

const config = loadConfig(workerEnv);
const log = createLogger('worker', config.LOG_LEVEL, undefined, configSecrets(config));

// Handled from the start: a stop asked for while the worker starts (its
// schedulers are in place before its audit is) waits for the start to end,
// then closes it and exits 0, not killed by the signal half started.
let stopping = false;
let worker: Awaited<ReturnType<typeof startWorker>> | undefined;
let health: ReturnType<typeof keepHealthFile> | undefined;
const stop = () => {
  health?.stop();
  void worker!.close().then(() => process.exit(0));
};
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    if (worker) stop();
  });
}

try {
  worker = await startWorker(config, log);
} catch (err) {
  // A configuration the stored data cannot take: one line, and stop.
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
  throw err;
}
if (stopping) stop();
else health = config.HEALTH_FILE ? keepHealthFile(config.HEALTH_FILE, () => worker!.healthy(), log) : undefined;
