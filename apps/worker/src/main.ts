/** The worker process: `pnpm --filter ./apps/worker dev`. */
import { ConfigError, configSecrets, createLogger, keepHealthFile, loadConfig } from '@candlestack/shared';
import { workerEnv } from './env.js';
import { startWorker } from './worker.js';

const config = loadConfig(workerEnv);
const log = createLogger('worker', config.LOG_LEVEL, undefined, configSecrets(config));
let worker;
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

const health = config.HEALTH_FILE ? keepHealthFile(config.HEALTH_FILE, () => worker!.healthy(), log) : undefined;

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    health?.stop();
    log.info({ signal }, 'stopping');
    void worker!.close().then(() => process.exit(0));
  });
}
