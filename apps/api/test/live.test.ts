/**
 * The WebSocket protocol against a real API, worker, ingester and Redis:
 * snapshot on subscribe, forming updates (throttled, latest state), the
 * close, a revision, errors that keep the connection open, unsubscribe,
 * limits (the subscribe/unsubscribe rate among them), a pair registered
 * after start, a broadcast to many clients, and a slow consumer dropped
 * without holding up the others.
 */
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Keys, parseConfig, type Candle, type LiveEvent, type RawTrade } from '@candlestack/shared';
import { apiEnv } from '../src/env.js';
import { startApi, type RunningApi } from '../src/server.js';
import type { Ingester } from '../../ingest/src/ingester.js';
import type { RunningWorker } from '../../worker/src/worker.js';
import { startIngester, startTestWorker, testEnv } from '../../../test/support/pipeline.js';
import { PushSource } from '../../../test/support/push-source.js';
import { TEST_REDIS_URL, deletePrefix, testPrefix } from '../../../test/support/redis.js';
import { sleep, waitFor } from '../../../test/support/wait.js';

const prefix = testPrefix('live');
const env = testEnv(prefix, { PERIODS: '1s,5s' });
const redis = new Redis(TEST_REDIS_URL);
const source = new PushSource(['AAA_USDT', 'BBB_USDT']);
let ingester: Ingester;
let worker: RunningWorker;
let api: RunningApi;
let id = 1;

type Msg = { type: string; pair?: string; period?: string; candle?: Candle; message?: string; code?: string; op?: string };

class Client {
  readonly ws: WebSocket;
  readonly msgs: Msg[] = [];
  readonly opened: Promise<void>;
  closeCode: number | undefined;
  constructor(url: string) {
    this.ws = new WebSocket(url.replace('http', 'ws') + '/ws');
    this.ws.on('message', (d) => this.msgs.push(JSON.parse(d.toString()) as Msg));
    this.ws.on('close', (code) => (this.closeCode = code));
    this.ws.on('error', () => undefined);
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
  }
  send(msg: unknown) {
    this.ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
  }
  async next(match: (m: Msg) => boolean, what: string, timeoutMs = 8000): Promise<Msg> {
    return waitFor(() => this.msgs.find(match), what, timeoutMs);
  }
  candles(pair: string, period: string) {
    return this.msgs.filter((m) => m.type === 'candle' && m.pair === pair && m.period === period).map((m) => m.candle!);
  }
}

async function trade(pair: string, price: string, time = Date.now()): Promise<RawTrade> {
  const t = { pair, time, price, quantity: '1', id: String(id++) };
  await source.push([t]);
  return t;
}

beforeAll(async () => {
  ingester = await startIngester(env, source);
  worker = await startTestWorker(env);
  api = await startApi(parseConfig(apiEnv, { ...env, PORT: '0' }), {
    liveLimits: { maxSubscriptions: 3, throttleMs: 100, maxConnectionsPerAddress: 20, opsPerSecond: 2, opsBurst: 10 },
    dashboard: (_req, _res, next) => next(),
  });
  await trade('AAA_USDT', '10');
  await trade('BBB_USDT', '20');
  await ingester.writer.drain();
});

afterAll(async () => {
  await api?.close();
  await worker?.close();
  await ingester?.close();
  await deletePrefix(prefix);
  redis.disconnect();
});

describe('WebSocket /ws', () => {
  it('acks a subscription and sends the forming candle at once', async () => {
    const c = new Client(api.url);
    await c.opened;
    const asked = Math.floor(Date.now() / 5000) * 5000;
    c.send({ op: 'subscribe', pair: 'aaa-usdt', period: '5s' });
    expect(await c.next((m) => m.type === 'subscribed', 'subscribed')).toEqual({ type: 'subscribed', pair: 'AAA_USDT', period: '5s' });
    const snap = await c.next((m) => m.type === 'candle', 'snapshot', 1500);
    // The bucket forming when it was read: the one asked in, or the next if a 5 s boundary passed meanwhile.
    const got = Math.floor(Date.now() / 5000) * 5000;
    expect(snap.candle).toMatchObject({ closed: false });
    expect([asked, got]).toContain((snap.candle as { time: number }).time);
    c.ws.close();
  });

  it('sends forming updates (throttled, latest state last), then the closed candle', async () => {
    const c = new Client(api.url);
    await c.opened;
    c.send({ op: 'subscribe', pair: 'BBB_USDT', period: '1s' });
    await c.next((m) => m.type === 'subscribed', 'subscribed');
    // Wait for the start of a fresh second so the burst lands in one bucket.
    await sleep(1000 - (Date.now() % 1000) + 50);
    const bucket = Math.floor(Date.now() / 1000) * 1000;
    const prices = ['21', '25', '19', '22'];
    for (const p of prices) await trade('BBB_USDT', p);
    const closed = await c.next((m) => m.type === 'candle' && m.candle!.time === bucket && m.candle!.closed, 'the close');
    expect(closed.candle).toMatchObject({ open: '21', high: '25', low: '19', close: '22', trades: 4, closed: true });
    const forming = c.candles('BBB_USDT', '1s').filter((x) => x.time === bucket && !x.closed);
    expect(forming.length).toBeGreaterThanOrEqual(1);
    expect(forming.length).toBeLessThanOrEqual(prices.length);
    expect(forming.at(-1)).toMatchObject({ close: '22', trades: 4 });
    // The next bucket is forming now (flat at 22 if no trade came).
    await c.next((m) => m.type === 'candle' && m.candle!.time > bucket && !m.candle!.closed, 'the next forming candle');
    c.ws.close();
  });

  it('sends a revision of a closed candle when a late trade arrives', async () => {
    const c = new Client(api.url);
    await c.opened;
    c.send({ op: 'subscribe', pair: 'AAA_USDT', period: '1s' });
    await c.next((m) => m.type === 'subscribed', 'subscribed');
    const past = Date.now() - 3_000;
    const bucket = Math.floor(past / 1000) * 1000;
    await trade('AAA_USDT', '99', past);
    const rev = await c.next((m) => m.type === 'candle' && m.candle!.time === bucket && m.candle!.closed && m.candle!.high === '99', 'revision');
    expect(rev.candle).toMatchObject({ high: '99', closed: true });
    c.ws.close();
  });

  it('answers bad messages with an error and keeps the connection open; unsubscribes', async () => {
    const c = new Client(api.url);
    await c.opened;
    const bad: unknown[] = [
      'not json',
      { op: 'dance' },
      { op: 'subscribe', pair: 'BTCUSDT', period: '1s' },
      { op: 'subscribe', pair: 'AAA_USDT', period: '7m' },
      { op: 'subscribe', pair: 'AAA_USDT', period: '1m' },
      { op: 'subscribe', pair: 'ZZZ_USDT', period: '1s' },
      { op: 'unsubscribe', pair: 'AAA_USDT', period: '1s' },
      [1, 2, 3],
    ];
    for (const b of bad) c.send(b);
    await waitFor(() => c.msgs.filter((m) => m.type === 'error').length === bad.length, 'one error per bad message');
    const errors = c.msgs.filter((m) => m.type === 'error').map((m) => m.message);
    for (const reason of [/not JSON/, /divide a day/, /not built; built: 1s, 5s/, /unknown pair ZZZ_USDT/, /not subscribed to AAA_USDT 1s/, /not a pair/]) {
      expect(errors.some((e) => reason.test(e ?? '')), String(reason)).toBe(true);
    }
    // A code for programs, and the subscription concerned (canonical once it could be read).
    const shapes = c.msgs.filter((m) => m.type === 'error').map(({ type: _t, message: _m, ...rest }) => rest);
    expect(shapes).toEqual(
      expect.arrayContaining([
        { code: 'bad_message' },
        { code: 'bad_pair', op: 'subscribe', pair: 'BTCUSDT', period: '1s' },
        { code: 'bad_period', op: 'subscribe', pair: 'AAA_USDT', period: '7m' },
        { code: 'bad_period', op: 'subscribe', pair: 'AAA_USDT', period: '1m' },
        { code: 'unknown_pair', op: 'subscribe', pair: 'ZZZ_USDT', period: '1s' },
        { code: 'not_subscribed', op: 'unsubscribe', pair: 'AAA_USDT', period: '1s' },
      ]),
    );
    expect(shapes.filter((e) => e.code === 'bad_message')).toHaveLength(3);
    expect(c.ws.readyState).toBe(WebSocket.OPEN);

    c.send({ op: 'subscribe', pair: 'aaa-usdt', period: '1s' });
    await c.next((m) => m.type === 'subscribed', 'subscribed');
    c.send({ op: 'subscribe', pair: 'AAA/USDT', period: '1s' });
    const again = await c.next((m) => m.type === 'error' && m.code === 'already_subscribed', 'already subscribed');
    expect(again).toMatchObject({ op: 'subscribe', pair: 'AAA_USDT', period: '1s' });
    c.send({ op: 'unsubscribe', pair: 'AAA_USDT', period: '1s' });
    await c.next((m) => m.type === 'unsubscribed', 'unsubscribed');
    await sleep(200);
    const before = c.msgs.length;
    await trade('AAA_USDT', '11');
    await sleep(1500);
    expect(c.msgs.slice(before).filter((m) => m.type === 'candle')).toEqual([]);
    c.ws.close();
  });

  it('limits subscriptions per connection and message size', async () => {
    const c = new Client(api.url);
    await c.opened;
    for (const [pair, period] of [['AAA_USDT', '1s'], ['AAA_USDT', '5s'], ['BBB_USDT', '1s'], ['BBB_USDT', '5s']]) {
      c.send({ op: 'subscribe', pair, period });
    }
    const err = await c.next((m) => m.type === 'error', 'limit error');
    expect(err.message).toMatch(/at most 3 subscriptions/);
    expect(err).toMatchObject({ code: 'too_many_subscriptions', pair: 'BBB_USDT', period: '5s' });
    c.send(JSON.stringify({ op: 'subscribe', pair: 'AAA_USDT', period: '1s', pad: 'x'.repeat(10_000) }));
    await waitFor(() => c.closeCode, 'close for an oversized message');
    expect(c.closeCode).toBe(1009);
  });

  it('rejects connections past the per-address cap with 429', async () => {
    const clients = Array.from({ length: 20 }, () => new Client(api.url));
    await Promise.all(clients.map((c) => c.opened.catch(() => undefined)));
    const extra = new Client(api.url);
    const status = await new Promise<number>((resolve) => extra.ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)));
    expect(status).toBe(429);
    for (const c of clients) c.ws.close();
    await sleep(200);
  });

  it('refuses subscribe/unsubscribe past the rate limit with an error message, and the connection stays usable', async () => {
    const c = new Client(api.url);
    await c.opened;
    // 30 at once: the bucket holds 10 and refills 2 a second.
    for (let i = 0; i < 30; i++) c.send({ op: 'unsubscribe', pair: 'AAA_USDT', period: '1s' });
    await waitFor(() => c.msgs.length === 30, 'one answer per message');
    const limited = c.msgs.filter((m) => m.type === 'error' && /too many subscribe\/unsubscribe messages: at most 2 a second \(bursts of 10\)/.test(m.message ?? ''));
    expect(limited.length).toBeGreaterThan(0);
    expect(limited[0]).toMatchObject({ code: 'rate_limited', op: 'unsubscribe', pair: 'AAA_USDT', period: '1s' });
    expect(c.msgs.every((m) => m.type === 'error')).toBe(true);
    expect(c.ws.readyState).toBe(WebSocket.OPEN);
    // Once the bucket refills, the same connection subscribes as usual.
    let tries = 0;
    await waitFor(
      () => {
        if (c.msgs.some((m) => m.type === 'subscribed')) return true;
        if (tries++ % 5 === 0) c.send({ op: 'subscribe', pair: 'AAA_USDT', period: '1s' });
        return false;
      },
      'a subscription after the limit',
      10_000,
    );
    expect(c.msgs.find((m) => m.type === 'subscribed')).toEqual({ type: 'subscribed', pair: 'AAA_USDT', period: '1s' });
    c.ws.close();
  });

  it('subscribes to a pair registered after the API started; an unknown pair is refused until then', async () => {
    const c = new Client(api.url);
    await c.opened;
    c.send({ op: 'subscribe', pair: 'NEW_USDT', period: '5s' });
    const err = await c.next((m) => m.type === 'error', 'unknown pair');
    expect(err.message).toMatch(/unknown pair NEW_USDT/);
    await redis.sadd(new Keys(prefix).pairs(), 'NEW_USDT');
    // Within about a second (a cache may answer "unknown" that long).
    let tries = 0;
    await waitFor(
      () => {
        if (c.msgs.some((m) => m.type === 'subscribed')) return true;
        if (tries++ % 4 === 0) c.send({ op: 'subscribe', pair: 'NEW_USDT', period: '5s' });
        return false;
      },
      'the new pair subscribed',
      5_000,
    );
    expect(c.msgs.find((m) => m.type === 'subscribed')).toEqual({ type: 'subscribed', pair: 'NEW_USDT', period: '5s' });
    c.ws.close();
  });

  it('sends each broadcast to every one of 200 subscribers exactly once', async () => {
    // An API of its own: the other one allows 20 connections per address.
    const wide = await startApi(parseConfig(apiEnv, { ...env, PORT: '0' }), {
      liveLimits: { maxConnectionsPerAddress: 250 },
      dashboard: (_req, _res, next) => next(),
    });
    const clients = Array.from({ length: 200 }, () => new Client(wide.url));
    try {
      await Promise.all(clients.map((c) => c.opened));
      for (const c of clients) c.send({ op: 'subscribe', pair: 'AAA_USDT', period: '5s' });
      await waitFor(() => clients.every((c) => c.msgs.some((m) => m.type === 'subscribed')), 'every client subscribed', 15_000);
      // Bucket times far in the past, so that no real close is mistaken for one of them.
      const times = [5_000, 10_000, 15_000];
      for (const time of times) {
        const candle = { time, open: '1', high: '2', low: '0.5', close: '1.5', volume: '3', quoteVolume: '4.5', trades: 3, closed: true };
        await redis.publish(new Keys(prefix).events(), JSON.stringify({ type: 'closed', pair: 'AAA_USDT', period: '5s', candle }));
      }
      const ours = (c: Client) => c.candles('AAA_USDT', '5s').filter((x) => times.includes(x.time));
      await waitFor(() => clients.every((c) => ours(c).length >= times.length), 'every broadcast at every client', 15_000);
      await sleep(300);
      for (const c of clients) {
        expect(ours(c).map((x) => x.time)).toEqual(times);
        expect(ours(c)[0]).toEqual({ time: 5_000, open: '1', high: '2', low: '0.5', close: '1.5', volume: '3', quoteVolume: '4.5', trades: 3, closed: true });
      }
    } finally {
      for (const c of clients) c.ws.close();
      await wide.close();
    }
  });

  it('drops a slow consumer with close code 4008 while a fast one keeps getting messages', async () => {
    const slow = new Client(api.url);
    const fast = new Client(api.url);
    await Promise.all([slow.opened, fast.opened]);
    for (const c of [slow, fast]) c.send({ op: 'subscribe', pair: 'AAA_USDT', period: '5s' });
    await slow.next((m) => m.type === 'subscribed', 'slow subscribed');
    await fast.next((m) => m.type === 'subscribed', 'fast subscribed');
    // The slow client stops reading; events pile up in its send buffer.
    const socket = (slow.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    socket.pause();
    const keys = new Keys(prefix);
    const big: LiveEvent = {
      type: 'revised',
      pair: 'AAA_USDT',
      period: '5s',
      candle: { time: 0, open: '1', high: '1', low: '1', close: '1', volume: '0'.padEnd(2000, '0'), quoteVolume: '0', trades: 0, closed: true },
    };
    const payload = JSON.stringify(big);
    for (let i = 0; i < 4000; i++) await redis.publish(keys.events(), payload);
    await waitFor(() => fast.msgs.filter((m) => m.type === 'candle' && m.candle!.time === 0).length >= 4000, 'the fast client to get every event', 15_000);
    socket.resume();
    await waitFor(() => slow.closeCode, 'the slow client to be closed', 10_000);
    expect(slow.closeCode).toBe(4008);
    fast.ws.close();
  });
});
