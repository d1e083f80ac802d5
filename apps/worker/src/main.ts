/** The worker process: `pnpm --filter ./apps/worker dev`. */
import { configSecrets, createLogger, loadConfig } from '@candlestack/shared';
import { workerEnv } from './env.js';
import { startWorker } from './worker.js';

const config = loadConfig(workerEnv);
const log = createLogger('worker', config.LOG_LEVEL, undefined, configSecrets(config));
const worker = await startWorker(config, log);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    void worker.close().then(() => process.exit(0));
  });
}
