/** The worker process: `pnpm --filter ./apps/worker dev`. */
import { ConfigError, configSecrets, createLogger, loadConfig } from '@candlestack/shared';
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

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    void worker!.close().then(() => process.exit(0));
  });
}
