/**
 * The API process: `pnpm --filter ./apps/api dev` (or `start`). Exits 1 on a
 * bad configuration with one line saying what is wrong.
 */
import { ConfigError, configSecrets, createLogger, loadConfig, redactUrl } from '@candlestack/shared';
import { apiEnv } from './env.js';
import { startApi } from './server.js';

const config = loadConfig(apiEnv);
const log = createLogger('api', config.LOG_LEVEL, undefined, configSecrets(config));

async function main(): Promise<void> {
  let api;
  try {
    api = await startApi(config, {
      log,
      onFatal: (err) => {
        process.stderr.write(`${err.message}\n`);
        process.exit(1);
      },
    });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  log.info(
    {
      url: api.url,
      board: api.boardUrl,
      dashboard: `${api.url}/`,
      redis: redactUrl(config.REDIS_CLUSTER_NODES ?? config.REDIS_URL),
      prefix: config.REDIS_PREFIX,
      periods: config.PERIODS.map((p) => p.label),
    },
    `API at ${api.url} (board ${api.boardUrl}, dashboard ${api.url}/)`,
  );

  const { close } = api;
  let stoppingSince: number | undefined;
  const stop = (signal: NodeJS.Signals) => {
    if (stoppingSince !== undefined) {
      // One Ctrl-C under `tsx watch` arrives twice (from the terminal and
      // relayed by tsx) within milliseconds; a second press later means "now".
      if (Date.now() - stoppingSince < 500) return;
      log.warn({ signal }, 'forced exit');
      process.exit(1);
    }
    stoppingSince = Date.now();
    log.info({ signal }, 'shutting down');
    close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
  log.fatal({ err }, 'API failed to start');
  process.exit(1);
});
