/**
 * pino: JSON lines in production; `pnpm dev` pipes them through pino-pretty.
 * A child logger per component (`log.child({ component: 'poloniex' })`).
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(app: string, level = 'info'): Logger {
  return pino({
    name: app,
    level,
    // Never log a secret, whatever field it hides in.
    redact: {
      paths: ['password', '*.password', 'ADMIN_PASSWORD', '*.ADMIN_PASSWORD', 'authorization', '*.authorization', 'req.headers.authorization'],
      censor: '***',
    },
  });
}
