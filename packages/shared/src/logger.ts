/**
 * pino: JSON lines in production; `pnpm dev` pipes them through pino-pretty.
 * A child logger per component (`log.child({ component: 'poloniex' })`).
 */
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { secretHider } from './redact.js';

export type { Logger };

/**
 * `destination`: stdout unless given (tests read what is logged).
 * `secrets`: values this process holds that no line may show, in any field
 * or message (see configSecrets); each is replaced by `***` in the written
 * line, whatever put it there.
 */
export function createLogger(app: string, level = 'info', destination?: DestinationStream, secrets: readonly (string | undefined)[] = []): Logger {
  const hide = secretHider(secrets);
  const options: LoggerOptions = {
    ...(hide ? { hooks: { streamWrite: hide } } : {}),
    name: app,
    level,
    // Never log a secret, whatever field it hides in. An ioredis error
    // carries the failed command's arguments: for AUTH or HELLO, the Redis
    // password; a Redis URL may hold it too.
    redact: {
      paths: [
        'password',
        '*.password',
        'ADMIN_PASSWORD',
        '*.ADMIN_PASSWORD',
        'authorization',
        '*.authorization',
        'req.headers.authorization',
        '*.headers.authorization',
        'REDIS_URL',
        '*.REDIS_URL',
        'err.command.args',
        '*.err.command.args',
      ],
      censor: '***',
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
