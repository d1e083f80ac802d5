/**
 * `/ws` on the API's HTTP server (docs/websocket.md). Each connection
 * may hold several subscriptions; a bad message gets an error and the
 * connection stays open. Guards: message size, subscriptions per
 * connection, subscribe/unsubscribe messages per second per connection (a
 * token bucket), connections per client address, a send buffer limit past
 * which a slow client is dropped (so it never holds up the others), and
 * ping/pong to find dead peers. A subscribe checks its one pair (KnownPairs),
 * never the whole set: its cost does not grow with the number of pairs.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { PairError, PeriodError, normalizePair, parsePeriod, type CandleStore, type Logger, type Period } from '@candlestack/shared';
import { endWithError, type ErrorCode } from '../errors.js';
import { isOriginAllowed } from '../guards/origins.js';
import type { LiveHub, LiveClient } from './hub.js';
import { KnownPairs } from '../known-pairs.js';
import { CLOSE, clientMessage, type LiveErrorCode, type LiveLimits, type ServerMessage } from './protocol.js';

interface Conn extends LiveClient {
  readonly ws: WebSocket;
  readonly address: string;
  readonly subs: Set<string>;
  alive: boolean;
  /** The messages being handled, in order (see onConnection). */
  queue: Promise<void>;
  queued: number;
  /** The subscribe/unsubscribe token bucket: tokens left as of `refilledAt` (performance.now(), ms). */
  tokens: number;
  refilledAt: number;
}

export interface LiveServer {
  readonly connections: number;
  close(): Promise<void>;
}

export function attachLiveServer(
  server: Server,
  hub: LiveHub,
  store: CandleStore,
  periods: readonly Period[],
  limits: LiveLimits,
  log: Logger,
  /** CORS_ORIGINS: pages of these origins may connect, besides the API's own. */
  allowedOrigins: readonly string[] = [],
  /** Who the client is, for the connections per address (server.ts: through TRUST_PROXY's proxies). */
  clientAddress: (req: IncomingMessage) => string = (req) => req.socket.remoteAddress ?? 'unknown',
): LiveServer {
  const wss = new WebSocketServer({ noServer: true, maxPayload: limits.maxMessageBytes });
  const perAddress = new Map<string, number>();
  const conns = new Set<Conn>();
  const knownPairs = new KnownPairs(store.redis, store.keys);

  // A handshake ws refuses (no key, a bad version...) gets the JSON error body too.
  wss.on('wsClientError', (err: Error, socket: Duplex, req: IncomingMessage) => {
    if (req.method !== 'GET') reject(socket, 405, 'Method Not Allowed', { code: 'method_not_allowed', message: 'a WebSocket handshake is a GET' });
    else reject(socket, 400, 'Bad Request', { code: 'bad_request', message: `bad WebSocket handshake: ${err.message}` });
  });

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    // Not `new URL(req.url, base)`: it throws on targets such as `//%ff`, and
    // a throw in this listener would take the whole process down.
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/ws') {
      reject(socket, 404, 'Not Found', { code: 'not_found', message: 'WebSocket is served at /ws' });
      return;
    }
    // Browsers send Origin on an upgrade but apply no CORS to it: the
    // check is ours, or any web page could read the feed.
    if (!isOriginAllowed(req.headers.origin, req.headers.host, allowedOrigins)) {
      reject(socket, 403, 'Forbidden', {
        code: 'forbidden_origin',
        message: 'WebSocket connections from this origin are not allowed (the API allows its own pages and CORS_ORIGINS)',
      });
      return;
    }
    const address = clientAddress(req);
    if ((perAddress.get(address) ?? 0) >= limits.maxConnectionsPerAddress) {
      reject(socket, 429, 'Too Many Requests', {
        code: 'too_many_connections',
        message: `at most ${limits.maxConnectionsPerAddress} WebSocket connections per client address`,
      });
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, address));
  };
  server.on('upgrade', onUpgrade);

  function onConnection(ws: WebSocket, address: string): void {
    perAddress.set(address, (perAddress.get(address) ?? 0) + 1);
    const conn: Conn = {
      ws,
      address,
      subs: new Set(),
      alive: true,
      queue: Promise.resolve(),
      queued: 0,
      tokens: limits.opsBurst,
      refilledAt: performance.now(),
      send(msg: ServerMessage) {
        this.sendEncoded(Buffer.from(JSON.stringify(msg)));
      },
      // The hot loop of a broadcast: no serializing, no allocation but ws's frame header.
      sendEncoded(data: Buffer) {
        if (ws.readyState !== ws.OPEN) return;
        if (ws.bufferedAmount > limits.maxBufferedBytes) {
          log.warn({ address, buffered: ws.bufferedAmount }, 'dropping a slow WebSocket client');
          ws.close(CLOSE.slowConsumer.code, CLOSE.slowConsumer.reason);
          // Its buffer may never drain: do not wait for the closing handshake.
          setTimeout(() => ws.terminate(), 5_000).unref();
          return;
        }
        ws.send(data, { binary: false });
      },
    };
    conns.add(conn);
    ws.on('pong', () => (conn.alive = true));
    // One message at a time, in order: a subscribe waits on Redis, and an
    // unsubscribe sent right after it must not overtake it (found by
    // fuzz.test.ts: the client ended subscribed after its last unsubscribe).
    ws.on('message', (data, isBinary) => {
      if (conn.queued >= limits.maxPendingMessages) {
        conn.send({ type: 'error', code: 'too_many_pending', message: `more than ${limits.maxPendingMessages} messages waiting: wait for the answers` });
        return;
      }
      conn.queued++;
      conn.queue = conn.queue
        .then(() => onMessage(conn, data, isBinary))
        .catch((err: unknown) => {
          log.error({ err, address }, 'WebSocket message failed');
          conn.send({ type: 'error', code: 'internal', message: 'internal error' });
        })
        .finally(() => conn.queued--);
    });
    ws.on('error', (err) => log.debug({ address, err: err.message }, 'WebSocket error'));
    ws.on('close', () => {
      conns.delete(conn);
      hub.removeClient(conn);
      const n = (perAddress.get(address) ?? 1) - 1;
      if (n <= 0) perAddress.delete(address);
      else perAddress.set(address, n);
    });
  }

  async function onMessage(conn: Conn, data: RawData, isBinary: boolean): Promise<void> {
    // The subscription concerned, once the message names one (see LiveError).
    let about: { op?: 'subscribe' | 'unsubscribe'; pair?: string; period?: string } = {};
    const fail = (code: LiveErrorCode, message: string) => conn.send({ type: 'error', code, message, ...about });
    if (isBinary) return fail('bad_message', 'send JSON text messages');
    let json: unknown;
    try {
      json = JSON.parse(data.toString());
    } catch {
      return fail('bad_message', 'not JSON: send {"op":"subscribe","pair":"BTC_USDT","period":"1m"}');
    }
    const parsed = clientMessage.safeParse(json);
    if (!parsed.success) {
      return fail('bad_message', 'expected {"op":"subscribe"|"unsubscribe","pair":"BTC_USDT","period":"1m"}');
    }
    const { op } = parsed.data;
    about = { op, pair: parsed.data.pair, period: parsed.data.period };
    if (!takeToken(conn)) {
      return fail('rate_limited', `too many subscribe/unsubscribe messages: at most ${limits.opsPerSecond} a second (bursts of ${limits.opsBurst}); send it again later`);
    }
    let pair: string;
    let period: Period;
    try {
      pair = normalizePair(parsed.data.pair);
      about = { ...about, pair };
      period = parsePeriod(parsed.data.period);
    } catch (err) {
      if (err instanceof PairError) return fail('bad_pair', err.message);
      if (err instanceof PeriodError) return fail('bad_period', err.message);
      throw err;
    }
    about = { ...about, period: period.label };
    if (!periods.some((p) => p.ms === period.ms)) {
      return fail('bad_period', `period ${period.label} is not built; built: ${periods.map((p) => p.label).join(', ')}`);
    }
    const k = `${pair}|${period.ms}`;
    if (op === 'unsubscribe') {
      if (!conn.subs.delete(k)) return fail('not_subscribed', `not subscribed to ${pair} ${period.label}`);
      hub.unsubscribe(conn, pair, period.ms);
      conn.send({ type: 'unsubscribed', pair, period: period.label });
      return;
    }
    if (conn.subs.has(k)) return fail('already_subscribed', `already subscribed to ${pair} ${period.label}`);
    if (conn.subs.size >= limits.maxSubscriptions) return fail('too_many_subscriptions', `at most ${limits.maxSubscriptions} subscriptions per connection`);
    // Reserve the slot before any await, so a burst of subscribes cannot pass the limit.
    conn.subs.add(k);
    try {
      if (!(await knownPairs.has(pair))) {
        conn.subs.delete(k);
        return fail('unknown_pair', `unknown pair ${pair}: the pairs served are listed at /pairs`);
      }
      // Closed while the check waited on Redis (or while this message was
      // queued): its 'close' has already taken it out of the hub, and
      // adding it now would keep it there for ever.
      if (conn.ws.readyState !== conn.ws.OPEN) return;
      await hub.subscribe(conn, pair, period.ms);
    } catch (err) {
      conn.subs.delete(k);
      hub.unsubscribe(conn, pair, period.ms);
      log.warn({ err: (err as Error).message }, 'subscribe failed');
      fail('unavailable', 'the candle store is unavailable; try again');
    }
  }

  function takeToken(conn: Conn): boolean {
    const now = performance.now(); // monotonic: a clock set back must not drain the bucket
    conn.tokens = Math.min(limits.opsBurst, conn.tokens + ((now - conn.refilledAt) * limits.opsPerSecond) / 1000);
    conn.refilledAt = now;
    if (conn.tokens < 1) return false;
    conn.tokens -= 1;
    return true;
  }

  const pinger = setInterval(() => {
    for (const c of conns) {
      if (!c.alive) {
        log.debug({ address: c.address }, 'WebSocket peer did not answer ping: dropping it');
        c.ws.terminate();
        continue;
      }
      c.alive = false;
      c.ws.ping();
    }
  }, limits.pingMs);

  let closing: Promise<void> | undefined;
  return {
    get connections() {
      return conns.size;
    },
    close() {
      closing ??= (async () => {
        clearInterval(pinger);
        server.off('upgrade', onUpgrade);
        for (const c of conns) c.ws.close(CLOSE.goingAway.code, CLOSE.goingAway.reason);
        await new Promise<void>((resolve) => {
          const t = setTimeout(() => {
            for (const c of conns) c.ws.terminate();
            resolve();
          }, 1_000);
          if (conns.size === 0) {
            clearTimeout(t);
            resolve();
          } else {
            const check = setInterval(() => {
              if (conns.size === 0) {
                clearInterval(check);
                clearTimeout(t);
                resolve();
              }
            }, 20);
          }
        });
        await new Promise<void>((resolve) => wss.close(() => resolve()));
      })();
      return closing;
    },
  };
}

function reject(socket: Duplex, status: number, text: string, error: { code: ErrorCode; message: string }): void {
  endWithError(socket, status, text, error.code, error.message);
}
