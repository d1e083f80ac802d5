/**
 * Starts the API: Redis clients, the close queue (for the board), the
 * Express app and the one http.Server that serves it (the WebSocket server
 * attaches to that same server). Nothing waits for Redis: the API answers
 * /healthz at once and /readyz says 503 until Redis is there.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { isIPv6, type AddressInfo } from 'node:net';
import proxyAddr from 'proxy-addr';
import type { Express, RequestHandler } from 'express';
import {
  CandleStore,
  ConfigError,
  Keys,
  Stats,
  checkMetaWhenReady,
  closeRedis,
  createLogger,
  createRedis,
  onLibraryError,
  openAuditQueue,
  openCloseQueue,
  planPeriods,
  type Logger,
} from '@candlestack/shared';
import { createApp } from './app.js';
import { LiveHub } from './live/hub.js';
import { DEFAULT_LIMITS, type LiveLimits } from './live/protocol.js';
import { attachLiveServer } from './live/ws-server.js';
import { boardAccess, BOARD_PATH } from './board.js';
import { createDashboard } from './dashboard/dashboard.js';
import type { ApiConfig } from './env.js';
import { answerClientError, refuseConnect } from './guards/client-error.js';
import { DEFAULT_HTTP_TIMEOUTS, applyIdleTimeout, timeoutOptions, type HttpTimeouts } from './guards/http-timeouts.js';
import { STARTUP_GRACE_MS } from './readiness.js';
import { STATUS_MAX_AGE_MS } from './routes/health.js';

export interface StartOptions {
  /** Default: silent. */
  readonly log?: Logger;
  /** How long a close job may not have run yet after start (see readiness.ts); tests pass 0. */
  readonly startupGraceMs?: number;
  /** How long /readyz's and /metrics' answers are reused (routes/health.ts STATUS_MAX_AGE_MS); tests of their rules pass 0. */
  readonly statusMaxAgeMs?: number;
  /** The dashboard, mounted before the 404 (see app.ts); default: the page in apps/api/public. */
  readonly dashboard?: RequestHandler;
  /** WebSocket limits (tests make them small). */
  readonly liveLimits?: Partial<LiveLimits>;
  /**
   * Called when the stored deployment meta, checked once Redis answers,
   * refuses this configuration after start-up went on without Redis (main
   * prints the line and exits). Default: log it.
   */
  readonly onFatal?: (err: ConfigError) => void;
  /** How long a client may take (guards/http-timeouts.ts; tests make them small). */
  readonly httpTimeouts?: Partial<HttpTimeouts>;
}

export interface RunningApi {
  /** e.g. http://127.0.0.1:3000 (the actual port when PORT=0). */
  readonly url: string;
  readonly boardUrl: string;
  readonly server: Server;
  readonly app: Express;
  /** Idempotent: every call returns the first call's promise. */
  close(): Promise<void>;
}

/** In-flight requests get this long to finish at shutdown before their sockets are cut. */
const DRAIN_MS = 5_000;

function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    const cut = setTimeout(() => server.closeAllConnections(), DRAIN_MS).unref();
    server.close((err) => {
      clearTimeout(cut);
      if (err && (err as NodeJS.ErrnoException).code !== 'ERR_SERVER_NOT_RUNNING') reject(err);
      else resolve();
    });
    // Keep-alive sockets with no request in flight would hold close() open.
    server.closeIdleConnections();
  });
}

export async function startApi(config: ApiConfig, opts: StartOptions = {}): Promise<RunningApi> {
  const log = opts.log ?? createLogger('api', 'silent');
  // Before anything is opened, so a refusal leaves nothing behind.
  const credentials = await boardAccess(config);
  const upSince = Date.now();
  const keys = new Keys(config.REDIS_PREFIX);
  // Run in reverse at close: the server first, the Redis clients last.
  const closers: { what: string; close: () => Promise<void> }[] = [];
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      for (const c of [...closers].reverse()) {
        try {
          await c.close();
        } catch (err) {
          log.warn({ err, what: c.what }, 'error while closing');
        }
      }
    })());

  try {
    const redisLog = log.child({ component: 'redis' });
    const redis = createRedis(config, 'command', redisLog);
    closers.push({ what: 'redis', close: () => closeRedis(redis) });
    const bullRedis = createRedis(config, 'bullmq', redisLog);
    closers.push({ what: 'bullmq redis', close: () => closeRedis(bullRedis) });
    // The board only reads the queue; the worker owns it (and its meta hash).
    const queue = openCloseQueue(bullRedis, keys, { watchOnly: true });
    // Unheard, BullMQ prints its errors with console.error (the AUTH password included).
    onLibraryError(queue, log, 'board queue');
    closers.push({ what: 'queue', close: () => queue.close() });
    const auditQueue = openAuditQueue(bullRedis, keys, { watchOnly: true });
    onLibraryError(auditQueue, log, 'board audit queue');
    closers.push({ what: 'audit queue', close: () => auditQueue.close() });

    const plan = planPeriods(config.PERIODS);
    // The stored meta must agree with PERIODS, or every read would misread
    // the data. The API answers /healthz without Redis, so it waits for the
    // check only briefly; a refusal found later stops it all the same.
    const meta = checkMetaWhenReady(redis, keys, plan, {}, log);
    const early = await Promise.race([meta.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 2_000).unref())]);
    if (!early) {
      meta.catch((err: unknown) => {
        if (!(err instanceof ConfigError)) return;
        log.fatal({ err: err.message }, err.message);
        opts.onFatal?.(err);
      });
    }
    const store = new CandleStore(redis, keys, plan, { candleRetention: config.CANDLE_RETENTION, maxLateMs: config.MAX_LATE });
    const limits: LiveLimits = { ...DEFAULT_LIMITS, ...opts.liveLimits };
    // Pub/sub needs a connection of its own; it resubscribes after a reconnect.
    const subscriber = createRedis(config, 'bullmq', redisLog);
    closers.push({ what: 'subscriber redis', close: () => closeRedis(subscriber) });
    const hub = new LiveHub(store, subscriber, keys.events(), limits.throttleMs, log.child({ component: 'live' }));
    await hub.start();
    closers.push({ what: 'live hub', close: () => hub.close() });

    const { app, metrics } = createApp({
      config,
      redis,
      store,
      stats: new Stats(redis, keys),
      queues: [queue, auditQueue],
      credentials,
      log,
      upSince,
      startupGraceMs: opts.startupGraceMs ?? STARTUP_GRACE_MS,
      statusMaxAgeMs: opts.statusMaxAgeMs ?? STATUS_MAX_AGE_MS,
      dashboard: opts.dashboard ?? createDashboard(),
    });
    // Host is checked by the app (guards/request-limits.ts), which answers in JSON.
    const timeouts = { ...DEFAULT_HTTP_TIMEOUTS, ...opts.httpTimeouts };
    const server = createServer({ requireHostHeader: false, ...timeoutOptions(timeouts) }, app);
    applyIdleTimeout(server, timeouts);
    server.on('clientError', answerClientError);
    server.on('connect', refuseConnect);
    const address = await listen(server, config.PORT, config.HOST);
    closers.push({ what: 'http server', close: () => closeServer(server) });
    // The address Express gives req.ip (its `trust proxy` setting, TRUST_PROXY), for an upgrade Express never sees.
    const trust = app.get('trust proxy fn') as Parameters<typeof proxyAddr>[1];
    const clientAddress = (req: IncomingMessage) => proxyAddr(req, trust);
    const live = attachLiveServer(server, hub, store, config.PERIODS, limits, log.child({ component: 'ws' }), config.CORS_ORIGINS, clientAddress);
    closers.push({ what: 'websocket server', close: () => live.close() });
    metrics.countWsConnections(() => live.connections);

    const host = isIPv6(config.HOST) ? `[${config.HOST}]` : config.HOST;
    const url = `http://${host}:${address.port}`;
    if (!credentials) {
      log.warn(`Bull Board at ${url}${BOARD_PATH} is open to anyone on this machine (no ADMIN_USER/ADMIN_PASSWORD): set them to require a password`);
    }
    return { url, boardUrl: `${url}${BOARD_PATH}`, server, app, close };
  } catch (err) {
    await close();
    throw err;
  }
}
