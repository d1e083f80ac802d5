/**
 * Bull Board at /admin/queues over the deployment's BullMQ queues, and who
 * may see it (docs/api.md): with ADMIN_USER and ADMIN_PASSWORD, anyone with
 * them (HTTP basic auth); without them, only a loopback listener serves it,
 * and the API refuses to listen anywhere else.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { isIP, isIPv4 } from 'node:net';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import { Router, type Express, type RequestHandler } from 'express';
import { ConfigError, type Logger } from '@candlestack/shared';
import { HttpError } from './errors.js';
import { boardContentSecurityPolicy } from './guards/headers.js';

export const BOARD_PATH = '/admin/queues';

export interface AdminCredentials {
  readonly user: string;
  readonly password: string;
}

export function isLoopbackAddress(address: string): boolean {
  if (isIPv4(address)) return address.startsWith('127.');
  const a = address.toLowerCase();
  return a === '::1' || a === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(a);
}

/** True when every address `host` names is a loopback one. */
export async function isLoopbackHost(host: string): Promise<boolean> {
  if (isIP(host)) return isLoopbackAddress(host);
  try {
    const addresses = await lookup(host, { all: true });
    return addresses.length > 0 && addresses.every((a) => isLoopbackAddress(a.address));
  } catch (e) {
    throw new ConfigError(`invalid configuration: HOST=${JSON.stringify(host)}: cannot be resolved (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/**
 * The board's credentials, or undefined when it may be open; throws a
 * one-line ConfigError when it would be open beyond this machine.
 */
export async function boardAccess(config: {
  readonly HOST: string;
  readonly ADMIN_USER?: string | undefined;
  readonly ADMIN_PASSWORD?: string | undefined;
}): Promise<AdminCredentials | undefined> {
  if (config.ADMIN_USER !== undefined && config.ADMIN_PASSWORD !== undefined) {
    return { user: config.ADMIN_USER, password: config.ADMIN_PASSWORD };
  }
  if (await isLoopbackHost(config.HOST)) return undefined;
  throw new ConfigError(
    `refusing to listen on HOST=${config.HOST}: it is not a loopback address and the queue board at ${BOARD_PATH} would be open to anyone; set ADMIN_USER and ADMIN_PASSWORD, or listen on 127.0.0.1`,
  );
}

/** "Basic base64(user:password)" -> its parts; undefined if malformed. */
export function parseBasicAuth(header: string | undefined): AdminCredentials | undefined {
  const m = /^Basic +([A-Za-z0-9+/]+={0,2}) *$/i.exec(header ?? '');
  if (!m) return undefined;
  const bytes = Buffer.from(m[1]!, 'base64');
  // Node's decoder skips what it cannot use (extra padding, stray bits):
  // only base64 that encodes back to itself is well formed.
  if (bytes.toString('base64') !== m[1]) return undefined;
  const text = bytes.toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 0) return undefined;
  return { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

// Digests have equal lengths whatever was typed, as timingSafeEqual needs,
// so neither the length nor the content of a secret shows in the timing.
const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

export function basicAuth(credentials: AdminCredentials): RequestHandler {
  const user = digest(credentials.user);
  const password = digest(credentials.password);
  return (req, _res, next) => {
    const given = parseBasicAuth(req.headers.authorization) ?? { user: '', password: '' };
    // Both compared every time: the time taken does not say which was wrong.
    const userOk = timingSafeEqual(digest(given.user), user);
    const passwordOk = timingSafeEqual(digest(given.password), password);
    if (!(userOk && passwordOk)) {
      throw new HttpError(401, 'unauthorized', 'the queue board needs the admin credentials', {
        'WWW-Authenticate': 'Basic realm="Candlestack admin", charset="UTF-8"',
      });
    }
    next();
  };
}

/**
 * BullMQ's connection holds commands while Redis is away, so a board call
 * would wait with no end (for ever, if Redis refuses our password): its API
 * answers 503 at once instead while the data store is not ready.
 */
function whenStoreReady(ready: () => boolean): RequestHandler {
  return (req, _res, next) => {
    if (/^\/api\//i.test(req.path) && !ready()) throw new HttpError(503, 'unavailable', 'the data store is unavailable; try again shortly');
    next();
  };
}

export function boardRouter(
  queues: readonly Queue[],
  credentials: AdminCredentials | undefined,
  log: Logger,
  /** Whether Redis answers now (see whenStoreReady). */
  storeReady: () => boolean = () => true,
): Router {
  const serverAdapter = new ExpressAdapter().setBasePath(BOARD_PATH);
  createBullBoard({ queues: queues.map((q) => new BullMQAdapter(q)), serverAdapter });
  // Replaces the board's own handler, which puts the error's message (and
  // its stack, under NODE_ENV=development) in the response body.
  serverAdapter.setErrorHandler((err) => {
    // A client's mistake (e.g. a malformed JSON body) stays a 400.
    const status = (err as { status?: unknown }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      log.debug({ status, err: err.message }, 'board request rejected');
      return { status: 400, body: { error: { key: 'ERRORS.INVALID_REQUEST_BODY' } } };
    }
    log.error({ err }, 'board request failed');
    return { status: 500, body: { error: { key: 'ERRORS.INTERNAL_SERVER_ERROR' } } };
  });
  const board = serverAdapter.getRouter() as Express;
  board.disable('x-powered-by');
  const router = Router();
  const label: RequestHandler = (_req, res, next) => {
    res.locals.route = BOARD_PATH;
    next();
  };
  const auth = credentials ? [basicAuth(credentials)] : [];
  router.use(BOARD_PATH, label, ...auth, whenStoreReady(storeReady), boardContentSecurityPolicy, board);
  return router;
}
