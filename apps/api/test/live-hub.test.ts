/**
 * The WebSocket server and its hub alone (real Redis, real sockets), so the
 * test can read the hub's subscriptions: a connection that goes away leaves
 * none behind, even with subscribes still queued or waiting on Redis when it
 * closed.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CandleStore, Keys, createLogger, parsePeriods, planPeriods } from '@candlestack/shared';
import { LiveHub } from '../src/live/hub.js';
import { DEFAULT_LIMITS } from '../src/live/protocol.js';
import { attachLiveServer, type LiveServer } from '../src/live/ws-server.js';
import { TEST_REDIS_URL, deletePrefix, testPrefix } from '../../../test/support/redis.js';
import { sleep, waitFor } from '../../../test/support/wait.js';

const prefix = testPrefix('live-hub');
const keys = new Keys(prefix);
const periods = parsePeriods('1m,5m');
const redis = new Redis(TEST_REDIS_URL);
const subscriber = new Redis(TEST_REDIS_URL);
const log = createLogger('api', 'silent');
let server: Server;
let hub: LiveHub;
let live: LiveServer;
let url: string;

beforeAll(async () => {
  await redis.sadd(keys.pairs(), 'AAA_USDT', 'BBB_USDT');
  const store = new CandleStore(redis, keys, planPeriods(periods));
  hub = new LiveHub(store, subscriber, keys.events(), 100, log);
  await hub.start();
  server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  live = attachLiveServer(server, hub, store, periods, DEFAULT_LIMITS, log);
  url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/ws`;
});

afterAll(async () => {
  await live?.close();
  await hub?.close();
  await new Promise((resolve) => server?.close(resolve));
  redis.disconnect();
  subscriber.disconnect();
  await deletePrefix(prefix);
});

describe('LiveHub behind the WebSocket server', () => {
  it('keeps no subscription of a connection that closed with subscribes in flight', async () => {
    for (let round = 0; round < 10; round++) {
      const ws = new WebSocket(url);
      await new Promise((resolve) => ws.once('open', resolve));
      for (const pair of ['AAA_USDT', 'BBB_USDT', 'NOPE_USDT']) for (const period of ['1m', '5m']) ws.send(JSON.stringify({ op: 'subscribe', pair, period }));
      ws.terminate();
    }
    await waitFor(() => live.connections === 0, 'every connection gone');
    await sleep(500); // what was queued has run
    expect(hub.subscriptionCount).toBe(0);
  });

  it('keeps a subscription while its connection is open, and none once it closes', async () => {
    const ws = new WebSocket(url);
    const msgs: string[] = [];
    ws.on('message', (d) => msgs.push(d.toString()));
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send(JSON.stringify({ op: 'subscribe', pair: 'AAA_USDT', period: '1m' }));
    await waitFor(() => msgs.some((m) => m.includes('"subscribed"')), 'subscribed');
    expect(hub.subscriptionCount).toBe(1);
    ws.close();
    await waitFor(() => hub.subscriptionCount === 0, 'the subscription dropped');
  });
});
