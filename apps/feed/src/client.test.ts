/**
 * The client against a stand-in API that speaks the protocol of DESIGN.md
 * (/pairs, /candles, /ws), so reconnects can be forced at will. The real
 * server is exercised by test/feed.test.ts.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Candle } from '@candlestack/shared';
import { FeedClient, type FeedEvents } from './client.js';

const candle = (time: number, trades: number, closed = false): Candle => ({
  time,
  open: '1',
  high: '2',
  low: '1',
  close: '2',
  volume: '3',
  quoteVolume: '4',
  trades,
  closed,
});

interface StandIn {
  readonly port: number;
  /** Requests and WebSocket messages, in order. */
  readonly log: string[];
  readonly closeCodes: number[];
  readonly sockets: Set<WebSocket>;
  stop(): Promise<void>;
}

async function standIn(port = 0): Promise<StandIn> {
  const log: string[] = [];
  const closeCodes: number[] = [];
  const sockets = new Set<WebSocket>();
  const server: Server = createServer((req, res) => {
    log.push(`GET ${req.url}`);
    const url = new URL(req.url ?? '/', 'http://x');
    const body =
      url.pathname === '/pairs'
        ? { pairs: [{ pair: 'AAA_USDT', lastTradeTime: 1 }, { pair: 'BBB_USDT', lastTradeTime: null }], periods: ['1m'], source: null }
        : { pair: url.pathname.split('/')[2], period: '1m', candles: [candle(0, 5, true), candle(60_000, 1)] };
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(body));
  });
  const wss = new WebSocketServer({ server, path: '/ws' });
  wss.on('connection', (ws) => {
    sockets.add(ws);
    ws.on('close', (code) => {
      sockets.delete(ws);
      closeCodes.push(code);
    });
    ws.on('message', (data) => {
      const msg = JSON.parse(data.toString()) as { op: string; pair: string; period: string };
      log.push(`WS ${msg.op} ${msg.pair} ${msg.period}`);
      if (msg.pair === 'BAD') return ws.send(JSON.stringify({ type: 'error', message: 'unknown pair BAD' }));
      ws.send(JSON.stringify({ type: 'subscribed', pair: msg.pair, period: msg.period }));
      ws.send(JSON.stringify({ type: 'candle', pair: msg.pair, period: msg.period, candle: candle(60_000, 2) }));
    });
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    log,
    closeCodes,
    sockets,
    async stop() {
      for (const ws of sockets) ws.terminate();
      await new Promise((r) => wss.close(r));
      // fetch keeps its connections alive; a restart must not wait for them.
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

function recorder() {
  const seen: string[] = [];
  const events: FeedEvents = {
    status: (s) => seen.push(`status ${s.kind}${s.kind === 'reconnecting' ? ` ${s.attempt}` : ''}`),
    session: () => seen.push('session'),
    info: (i) => seen.push(`info ${i.pairs.map((p) => p.pair).join(',')}`),
    history: (pair, candles) => seen.push(`history ${pair} ${candles.map((c) => c.trades).join(',')}`),
    candle: (pair, c) => seen.push(`candle ${pair} ${c.time} ${c.trades}`),
    problem: (m) => seen.push(`problem ${m}`),
  };
  return { seen, events };
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const clients: FeedClient[] = [];
const servers: StandIn[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

function client(port: number, events: FeedEvents) {
  const api = `http://127.0.0.1:${port}`;
  const c = new FeedClient({ api, url: `ws://127.0.0.1:${port}/ws`, period: '1m', limit: 3, events, backoff: { initialMs: 50, maxMs: 200 } });
  clients.push(c);
  return c;
}

describe('FeedClient', () => {
  it('subscribes each pair, loads its history once subscribed, and passes pushes on', async () => {
    const server = await standIn();
    servers.push(server);
    const { seen, events } = recorder();
    await client(server.port, events).start(['AAA_USDT', 'BBB_USDT'], 2_000);
    await until(() => seen.filter((s) => s.startsWith('history')).length === 2, 'both histories');
    expect(server.log.filter((l) => l.startsWith('WS'))).toEqual(['WS subscribe AAA_USDT 1m', 'WS subscribe BBB_USDT 1m']);
    expect(server.log).toContain('GET /candles/AAA_USDT/1m?limit=3');
    expect(seen.slice(0, 2)).toEqual(['status live', 'session']);
    expect(seen).toContain('candle AAA_USDT 60000 2');
    expect(seen).toContain('history BBB_USDT 5,1');
    // The history is asked for only after the subscription is confirmed: no update can fall between.
    const subscribed = server.log.indexOf('WS subscribe AAA_USDT 1m');
    expect(server.log.indexOf('GET /candles/AAA_USDT/1m?limit=3')).toBeGreaterThan(subscribed);
  });

  it('reads the history again on a gap: candles changed that were not each sent', async () => {
    const server = await standIn();
    servers.push(server);
    const { seen, events } = recorder();
    await client(server.port, events).start(['AAA_USDT'], 2_000);
    await until(() => seen.filter((s) => s === 'history AAA_USDT 5,1').length === 1, 'the history');
    for (const ws of server.sockets) ws.send(JSON.stringify({ type: 'gap', pair: 'AAA_USDT', period: '1m', from: 0, to: 60_000 }));
    await until(() => seen.filter((s) => s === 'history AAA_USDT 5,1').length === 2, 'the history read again');
    expect(server.log.filter((l) => l === 'GET /candles/AAA_USDT/1m?limit=3')).toHaveLength(2);
  });

  it('shows what the server objects to, and stays connected', async () => {
    const server = await standIn();
    servers.push(server);
    const { seen, events } = recorder();
    await client(server.port, events).start(['BAD', 'AAA_USDT'], 2_000);
    await until(() => seen.some((s) => s.startsWith('history AAA_USDT')), 'the good pair');
    expect(seen).toContain('problem unknown pair BAD');
    expect(server.sockets.size).toBe(1);
  });

  it('reconnects when the API restarts: backs off, resubscribes, reloads the history', async () => {
    let server = await standIn();
    const { port } = server;
    const { seen, events } = recorder();
    await client(port, events).start(['AAA_USDT'], 2_000);
    await until(() => seen.some((s) => s.startsWith('history')), 'the history');
    await server.stop();
    await until(() => seen.includes('status reconnecting 2'), 'a second failed attempt');
    seen.length = 0;
    server = await standIn(port);
    servers.push(server);
    await until(() => seen.some((s) => s.startsWith('history')), 'the history again');
    expect(seen.slice(0, 2)).toEqual(['status live', 'session']);
    expect(seen).toContain('info AAA_USDT,BBB_USDT');
    expect(server.log).toContain('WS subscribe AAA_USDT 1m');
    // A pair that appeared while the feed was away is followed too.
    await until(() => server.log.includes('WS subscribe BBB_USDT 1m'), 'the new pair');
  });

  it('closes with a normal close frame', async () => {
    const server = await standIn();
    servers.push(server);
    const c = client(server.port, recorder().events);
    await c.start(['AAA_USDT'], 2_000);
    await c.close();
    await until(() => server.closeCodes.length === 1, 'the close');
    expect(server.closeCodes).toEqual([1000]);
  });

  it('gives up at start when nothing answers, saying why', async () => {
    const server = await standIn();
    const { port } = server;
    await server.stop();
    const { seen, events } = recorder();
    await expect(client(port, events).start(['AAA_USDT'], 300)).rejects.toThrow(/ECONNREFUSED/);
    // No "reconnecting" before the feed has ever been up: main() reports the failure instead.
    expect(seen.filter((s) => s.startsWith('status'))).toEqual([]);
  });
});
