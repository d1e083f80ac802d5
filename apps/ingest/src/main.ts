/** The ingester process: `pnpm --filter ./apps/ingest dev`. */
import { ConfigError, configSecrets, createLogger, keepHealthFile, loadConfig } from '@candlestack/shared';
import { ingestEnv } from './env.js';
import { Ingester } from './ingester.js';
import { SourceConfigError, createSource } from './sources/index.js';

const config = loadConfig(ingestEnv);
const log = createLogger('ingest', config.LOG_LEVEL, undefined, configSecrets(config));

let source;
try {
  source = await createSource(config);
} catch (err) {
  if (err instanceof SourceConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
  throw err;
}
// The source lease found held by another ingester (this one stalled past it,
// and a standby took over): exit with an error; a supervisor's restart
// stands by for the lease again.
const ingester = new Ingester(config, source, log, { onSourceLeaseLost: () => stop('source lease lost', 1) });
// Healthy: Redis answers and the source delivers (or its replay is done),
// the same source states /readyz accepts; or it stands by for the source
// lease another ingester holds.
const HEALTHY_STATES = new Set(['connected', 'replaying', 'done']);
const health = config.HEALTH_FILE
  ? keepHealthFile(config.HEALTH_FILE, async () => (ingester.standingBy || HEALTHY_STATES.has(ingester.sourceState)) && (await ingester.redis.ping()) === 'PONG', log)
  : undefined;

let stopping = false;
function stop(signal: string, code = 0): void {
  if (stopping) return;
  stopping = true;
  health?.stop();
  log.info({ signal }, 'stopping');
  void ingester.close().then(() => process.exit(code));
}
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));

try {
  await ingester.start();
} catch (err) {
  if (err instanceof ConfigError) {
    // A configuration the stored data cannot take: one line, and stop.
    process.stderr.write(`${err.message}\n`);
    await ingester.close();
    process.exit(1);
  }
  log.fatal({ err: (err as Error).message }, `cannot start: ${(err as Error).message}`);
  await ingester.close();
  process.exit(1);
}
