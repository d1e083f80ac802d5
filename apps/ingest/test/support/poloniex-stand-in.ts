/**
 * A local stand-in for Poloniex's public API v3, speaking its protocol byte
 * for byte as recorded in shared/data/poloniex/ (the WebSocket session of
 * 2022-08-21 and the REST responses of rest-v3-btc_usdt.json):
 *
 * - WebSocket (`/ws/public`): `{"event":"subscribe","channel":["trades"],"symbols":[...]}`
 *   is acknowledged as `{"event":"subscribe","channel":"trades","symbols":[...]}`,
 *   and `{"event":"unsubscribe",...}` likewise (the connection stops getting
 *   the symbols' trades);
 *   `{"event":"ping"}` is answered `{"event":"pong"}`; anything else, or a
 *   subscription naming an unknown symbol, gets `{"event":"error","message":"..."}`;
 *   trades arrive as `{"channel":"trades","data":[{symbol, amount, quantity,
 *   takerSide, createTime, price, id, ts}, ...]}`, several per message; a
 *   session that sends nothing for 30 s is cut without a close frame.
 * - REST: `GET /markets` and `GET /markets/{symbol}/trades?limit=N` (newest
 *   first, at most 1000, `takerSide` in upper case, no paging), and
 *   `GET /markets/{symbol}/candles?interval=MINUTE_1&startTime=&endTime=&limit=`
 *   (rows `[low, high, open, close, amount, quantity, buyTakerAmount,
 *   buyTakerQuantity, tradeCount, ts, weightedAverage, interval, startTime,
 *   closeTime]`, oldest first, decimals as strings), computed from the trades
 *   executed here: open and close by trade id, `amount` the quote volume,
 *   `quantity` the base volume. A bucket with no trade is left out (or, with
 *   `quietBuckets = 'flat'`, listed flat at the previous close).
 *
 * Controls let a test execute trades (and choose who hears of them), drop
 * connections with or without a close frame, refuse connections, stop
 * answering pings or subscriptions, make REST fail or hang, alter one
 * candle the exchange reports, answer candle requests 429 or fail them.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { decimal } from '@candlestack/shared';

/** A trade as Poloniex's `trades` channel sends it (key order as recorded). */
export interface WireTrade {
  readonly symbol: string;
  readonly amount: string;
  readonly quantity: string;
  readonly takerSide: 'buy' | 'sell';
  readonly createTime: number;
  readonly price: string;
  readonly id: string;
  readonly ts: number;
}

export interface TradeSpec {
  readonly price: string;
  readonly quantity: string;
  readonly side?: 'buy' | 'sell';
  /** Trade time (ms); default now. */
  readonly createTime?: number;
}

export interface MarketSpec {
  readonly symbol: string;
  readonly state?: string;
}

export interface StandInOptions {
  /** A session silent this long (ms) is cut; Poloniex: 30 s. */
  readonly idleMs?: number;
  readonly markets?: readonly MarketSpec[];
  /** First trade id per symbol; default 60184114 (as recorded for BTC_USDT). */
  readonly firstId?: bigint;
}

/** How the next REST trade requests fail. */
export type RestFailure = 'http-500' | 'html-503' | 'hang' | 'not-a-list';

/** How the next candle requests fail: 429 (rate limited; with or without `Retry-After: 1`), 500, the connection cut with no answer, or a 200 that is not the candle list. */
export type CandleFailure = 'http-429' | 'http-429-retry-after-1' | 'http-500' | 'cut' | 'not-a-list';

/** Poloniex's candle intervals the stand-in serves, in ms. */
export const INTERVALS: Readonly<Record<string, number>> = {
  MINUTE_1: 60_000,
  MINUTE_5: 300_000,
  MINUTE_10: 600_000,
  MINUTE_15: 900_000,
  MINUTE_30: 1_800_000,
  HOUR_1: 3_600_000,
  HOUR_2: 7_200_000,
  HOUR_4: 14_400_000,
  HOUR_6: 21_600_000,
  HOUR_12: 43_200_000,
  DAY_1: 86_400_000,
};

/** A field of a candle row a test may alter (see alterCandle). */
export interface CandlePatch {
  readonly low?: string;
  readonly high?: string;
  readonly open?: string;
  readonly close?: string;
  readonly amount?: string;
  readonly quantity?: string;
  readonly tradeCount?: number;
}

interface Client {
  readonly ws: WebSocket;
  readonly symbols: Set<string>;
  last: number;
  readonly timer: NodeJS.Timeout;
}

const DEFAULT_MARKETS: MarketSpec[] = [
  { symbol: 'BTC_USDT', state: 'NORMAL' },
  { symbol: 'ETH_USDT', state: 'NORMAL' },
  { symbol: 'SOL_USDT', state: 'NORMAL' },
  { symbol: 'OLD_USDT', state: 'PAUSE' },
];

export class PoloniexStandIn {
  /** Every text frame clients sent, in order. */
  readonly received: { readonly at: number; readonly text: string }[] = [];
  /** Connections accepted since start. */
  connections = 0;
  /** REST requests served (path and query), in order. */
  readonly restRequests: string[] = [];
  /** Candle requests, in order: when each came (ms), its symbol, `startTime`, and the status answered. */
  readonly candleRequests: { readonly at: number; readonly symbol: string; readonly startTime: number; status: number }[] = [];
  /** Answer `{"event":"ping"}`? */
  answerPings = true;
  /** Acknowledge subscriptions? */
  answerSubscribes = true;
  /** After each ack, resend this many of the latest trades of each symbol (as an exchange may after a reconnect). */
  resendOnSubscribe = 0;
  /** `GET /markets` fails with HTTP 500 while set. */
  marketsDown = false;
  /** Every candle request fails with HTTP 503 while set (the REST API down). */
  candlesDown = false;
  /** Buckets with no trade: left out of the candle answers, or listed flat at the previous close. */
  quietBuckets: 'absent' | 'flat' = 'absent';
  /** Candle requests answered 429 so far. */
  rateLimited = 0;

  private readonly history = new Map<string, WireTrade[]>();
  private readonly nextId = new Map<string, bigint>();
  private readonly clients = new Set<Client>();
  private readonly restFailures: RestFailure[] = [];
  private readonly candleFailures: CandleFailure[] = [];
  private readonly patches = new Map<string, CandlePatch>();
  private readonly hanging = new Set<ServerResponse>();
  private readonly markets: MarketSpec[];
  private readonly idleMs: number;
  private wss!: WebSocketServer;
  private wsServer!: Server;
  private restServer!: Server;
  private wsPort = 0;

  private constructor(private readonly opts: StandInOptions) {
    this.markets = [...(opts.markets ?? DEFAULT_MARKETS)];
    this.idleMs = opts.idleMs ?? 30_000;
  }

  static async start(opts: StandInOptions = {}): Promise<PoloniexStandIn> {
    const s = new PoloniexStandIn(opts);
    s.restServer = createServer((req, res) => s.rest(req, res));
    await listen(s.restServer, 0);
    s.wsServer = createServer((_req, res) => res.writeHead(426).end());
    s.wss = new WebSocketServer({ server: s.wsServer, path: '/ws/public' });
    s.wss.on('connection', (ws) => s.accept(ws));
    s.wsPort = await listen(s.wsServer, 0);
    return s;
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.wsPort}/ws/public`;
  }

  get restUrl(): string {
    return `http://127.0.0.1:${(this.restServer.address() as AddressInfo).port}`;
  }

  /** Clients connected now. */
  get connected(): number {
    return this.clients.size;
  }

  /** Symbols a connected client is subscribed to. */
  subscribed(symbol: string): boolean {
    return [...this.clients].some((c) => c.symbols.has(symbol));
  }

  /** What each connected client is subscribed to now: one sorted list of symbols per connection. */
  subscriptions(): string[][] {
    return [...this.clients].map((c) => [...c.symbols].sort());
  }

  /** Every trade executed on `symbol`, oldest first. */
  trades(symbol: string): readonly WireTrade[] {
    return this.history.get(symbol) ?? [];
  }

  /**
   * Executes trades on `symbol` (ids +1 each): REST lists them from now on,
   * and connected subscribers get them in one `trades` message, unless
   * `broadcast` is false (trades nobody connected heard of).
   */
  execute(symbol: string, specs: readonly TradeSpec[], { broadcast = true } = {}): WireTrade[] {
    let id = this.nextId.get(symbol) ?? this.opts.firstId ?? 60_184_114n;
    const now = Date.now();
    const out = specs.map((s): WireTrade => {
      const createTime = s.createTime ?? now;
      return {
        symbol,
        amount: decimal.mul(s.price, s.quantity),
        quantity: s.quantity,
        takerSide: s.side ?? 'buy',
        createTime,
        price: s.price,
        id: String(id++),
        ts: Math.max(now, createTime) + 5,
      };
    });
    this.nextId.set(symbol, id);
    const list = this.history.get(symbol) ?? [];
    list.push(...out);
    this.history.set(symbol, list);
    if (broadcast) this.broadcast(symbol, out);
    return out;
  }

  /** Sends already executed trades again (a resend after a reconnect). */
  broadcast(symbol: string, trades: readonly WireTrade[]): void {
    if (trades.length === 0) return;
    const frame = JSON.stringify({ channel: 'trades', data: trades });
    for (const c of this.clients) if (c.symbols.has(symbol) && c.ws.readyState === WebSocket.OPEN) c.ws.send(frame);
  }

  /** Sends a raw text frame to every connected client. */
  sendRaw(text: string): void {
    for (const c of this.clients) if (c.ws.readyState === WebSocket.OPEN) c.ws.send(text);
  }

  /** Ends every connection: with a close frame (code 1001, going away) or by cutting the socket. */
  drop({ closeFrame }: { closeFrame: boolean }): void {
    for (const c of this.clients) {
      if (closeFrame) c.ws.close(1001, 'going away');
      else c.ws.terminate();
    }
  }

  /** Refuses connections (nothing listens on the port: ECONNREFUSED) until called with false. */
  async refuse(on: boolean): Promise<void> {
    if (on) {
      this.drop({ closeFrame: false });
      await new Promise<void>((r) => this.wsServer.close(() => r()));
    } else {
      await listen(this.wsServer, this.wsPort);
    }
  }

  /** The next REST trade requests fail, one failure each, in this order. */
  failRest(...failures: RestFailure[]): void {
    this.restFailures.push(...failures);
  }

  /** The next candle requests fail, one failure each, in this order. */
  failCandles(...failures: CandleFailure[]): void {
    this.candleFailures.push(...failures);
  }

  /** From now on, the exchange reports the candle of `symbol`, `interval`, bucket `startTime` with these fields changed. */
  alterCandle(symbol: string, interval: string, startTime: number, patch: CandlePatch): void {
    this.patches.set(`${symbol} ${interval} ${startTime}`, patch);
  }

  async close(): Promise<void> {
    for (const c of this.clients) {
      clearInterval(c.timer);
      c.ws.terminate();
    }
    for (const res of this.hanging) res.destroy();
    this.wss.close();
    this.wsServer.closeAllConnections();
    this.restServer.closeAllConnections();
    await Promise.all([
      new Promise<void>((r) => this.wsServer.close(() => r())),
      new Promise<void>((r) => this.restServer.close(() => r())),
    ]);
  }

  private accept(ws: WebSocket): void {
    this.connections++;
    const client: Client = {
      ws,
      symbols: new Set(),
      last: Date.now(),
      // Poloniex ends a session silent for 30 s "without warning": no close frame.
      timer: setInterval(() => {
        if (Date.now() - client.last > this.idleMs) ws.terminate();
      }, Math.min(1_000, Math.max(20, this.idleMs / 5))),
    };
    this.clients.add(client);
    ws.on('close', () => {
      clearInterval(client.timer);
      this.clients.delete(client);
    });
    ws.on('message', (data, isBinary) => {
      client.last = Date.now();
      const text = isBinary ? '' : data.toString();
      this.received.push({ at: client.last, text });
      this.answer(client, text);
    });
  }

  private answer(c: Client, text: string): void {
    const error = (message: string) => c.ws.send(JSON.stringify({ event: 'error', message }));
    if (text.trim().toLowerCase() === 'ping') {
      // Poloniex also takes a plain-text ping, for old clients.
      if (this.answerPings) c.ws.send('{"event":"pong"}');
      return;
    }
    let msg: { event?: unknown; channel?: unknown; symbols?: unknown };
    try {
      msg = JSON.parse(text) as typeof msg;
    } catch {
      error('Bad request (generic)');
      return;
    }
    if (msg.event === 'ping') {
      if (this.answerPings) c.ws.send('{"event":"pong"}');
      return;
    }
    if (msg.event !== 'subscribe' && msg.event !== 'unsubscribe') {
      error('Bad request (generic)');
      return;
    }
    const channels = msg.channel;
    const symbols = msg.symbols;
    if (!Array.isArray(channels) || !channels.every((x) => x === 'trades') || !Array.isArray(symbols) || symbols.length === 0) {
      error('Bad request (generic)');
      return;
    }
    const listed = new Set(this.markets.map((m) => m.symbol));
    if (!symbols.every((s) => typeof s === 'string' && listed.has(s))) {
      // Poloniex does not say which symbol it did not know.
      error('Subscription failed (generic)');
      return;
    }
    if (!this.answerSubscribes) return;
    for (const s of symbols as string[]) {
      if (msg.event === 'subscribe') c.symbols.add(s);
      else c.symbols.delete(s);
    }
    c.ws.send(JSON.stringify({ event: msg.event, channel: 'trades', symbols }));
    if (msg.event === 'subscribe' && this.resendOnSubscribe > 0) {
      for (const s of symbols as string[]) {
        const recent = this.trades(s).slice(-this.resendOnSubscribe);
        if (recent.length > 0) c.ws.send(JSON.stringify({ channel: 'trades', data: recent }));
      }
    }
  }

  private rest(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    this.restRequests.push(`${url.pathname}${url.search}`);
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'GET') return json(405, { code: 405, message: 'Method Not Allowed' });
    if (url.pathname === '/markets') {
      if (this.marketsDown) return json(500, { code: 500, message: 'System error' });
      return json(
        200,
        this.markets.map((m) => {
          const [base, quote] = m.symbol.split('_');
          return {
            symbol: m.symbol,
            baseCurrencyName: base,
            quoteCurrencyName: quote,
            displayName: `${base}/${quote}`,
            state: m.state ?? 'NORMAL',
            visibleStartTime: 1659018819512,
            tradableStartTime: 1659018819512,
            symbolTradeLimit: { symbol: m.symbol, priceScale: 2, quantityScale: 6, amountScale: 2, minQuantity: '0.000001', minAmount: '1', highestBid: '0', lowestAsk: '0' },
            crossMargin: { supportCrossMargin: true, maxLeverage: 3 },
          };
        }),
      );
    }
    const c = /^\/markets\/([^/]+)\/candles$/.exec(url.pathname);
    if (c) return this.candles(decodeURIComponent(c[1]!), url.searchParams, res, json);
    const m = /^\/markets\/([^/]+)\/trades$/.exec(url.pathname);
    if (!m) return json(404, { code: 404, message: 'Not Found' });
    const symbol = decodeURIComponent(m[1]!);
    const failure = this.restFailures.shift();
    switch (failure) {
      case 'hang':
        this.hanging.add(res);
        res.on('close', () => this.hanging.delete(res));
        return;
      case 'http-500':
        return json(500, { code: 500, message: 'System error' });
      case 'html-503':
        res.writeHead(503, { 'content-type': 'text/html' });
        res.end('<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>');
        return;
      case 'not-a-list':
        return json(200, { data: 'maintenance' });
      case undefined:
        break;
    }
    // Poloniex's error shape; the code and wording are illustrative (clients must rely on neither).
    if (!this.markets.some((x) => x.symbol === symbol)) return json(400, { code: 21707, message: 'Invalid symbol!' });
    // Default 500, at most 1000: as the exchange; newest first, no paging.
    const limit = Math.min(1000, Math.max(1, Number(url.searchParams.get('limit') ?? 500) || 500));
    const rows = this.trades(symbol)
      .slice(-limit)
      .reverse()
      .map((t) => ({ id: t.id, price: t.price, quantity: t.quantity, amount: t.amount, takerSide: t.takerSide.toUpperCase(), ts: t.ts, createTime: t.createTime }));
    return json(200, rows);
  }

  private candles(symbol: string, q: URLSearchParams, res: ServerResponse, json: (status: number, body: unknown) => void): void {
    const request = { at: Date.now(), symbol, startTime: Number(q.get('startTime') ?? 0), status: 200 };
    this.candleRequests.push(request);
    if (this.candlesDown) {
      request.status = 503;
      return json(503, { code: 503, message: 'Service Unavailable' });
    }
    const failure = this.candleFailures.shift();
    if (failure === 'http-429' || failure === 'http-429-retry-after-1' || failure === 'http-500') request.status = failure === 'http-500' ? 500 : 429;
    switch (failure) {
      case 'http-429':
      case 'http-429-retry-after-1':
        this.rateLimited++;
        res.writeHead(429, { 'content-type': 'application/json', ...(failure === 'http-429-retry-after-1' && { 'retry-after': '1' }) });
        res.end(JSON.stringify({ code: 429, message: 'Too Many Requests' }));
        return;
      case 'http-500':
        return json(500, { code: 500, message: 'System error' });
      case 'cut':
        res.socket?.destroy();
        return;
      case 'not-a-list':
        return json(200, { data: 'maintenance' });
      case undefined:
        break;
    }
    if (!this.markets.some((x) => x.symbol === symbol)) return json(400, { code: 21707, message: 'Invalid symbol!' });
    const interval = q.get('interval') ?? '';
    const ms = INTERVALS[interval];
    if (ms === undefined) return json(400, { code: 400, message: 'Invalid interval' });
    const start = Number(q.get('startTime') ?? 0);
    const end = Number(q.get('endTime') ?? Date.now());
    const limit = Math.min(500, Math.max(1, Number(q.get('limit') ?? 100) || 100));
    // Trades by bucket, in id order (the exchange's order of execution).
    const buckets = new Map<number, WireTrade[]>();
    const sorted = [...this.trades(symbol)].sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
    for (const t of sorted) {
      const b = Math.floor(t.createTime / ms) * ms;
      buckets.set(b, [...(buckets.get(b) ?? []), t]);
    }
    const rows: unknown[][] = [];
    let previousClose: string | undefined;
    const firstBucket = Math.min(...buckets.keys());
    for (let b = firstBucket; b <= end && rows.length < limit; b += ms) {
      const ts = buckets.get(b);
      if (!ts) {
        // Before `start`, only to learn the previous close.
        if (this.quietBuckets === 'flat' && previousClose !== undefined && b >= start) {
          rows.push(this.row(symbol, interval, b, ms, [previousClose, previousClose, previousClose, previousClose, '0', '0', '0', '0', 0]));
        }
        continue;
      }
      previousClose = ts.at(-1)!.price;
      if (b < start) continue;
      const prices = ts.map((t) => t.price);
      const low = prices.reduce((a, p) => decimal.min(a, p));
      const high = prices.reduce((a, p) => decimal.max(a, p));
      const buys = ts.filter((t) => t.takerSide === 'buy');
      rows.push(
        this.row(symbol, interval, b, ms, [
          low,
          high,
          ts[0]!.price,
          previousClose,
          decimal.sum(ts.map((t) => t.amount)),
          decimal.sum(ts.map((t) => t.quantity)),
          decimal.sum(buys.map((t) => t.amount)),
          decimal.sum(buys.map((t) => t.quantity)),
          ts.length,
        ]),
      );
    }
    return json(200, rows);
  }

  /** One row as Poloniex writes it, with a test's alteration applied. */
  private row(symbol: string, interval: string, start: number, ms: number, f: [string, string, string, string, string, string, string, string, number]): unknown[] {
    const p = this.patches.get(`${symbol} ${interval} ${start}`) ?? {};
    const [low, high, open, close, amount, quantity, buyAmount, buyQuantity, count] = f;
    const q = p.quantity ?? quantity;
    const a = p.amount ?? amount;
    const weighted = Number(q) > 0 ? String(Number((Number(a) / Number(q)).toPrecision(8))) : close;
    return [p.low ?? low, p.high ?? high, p.open ?? open, p.close ?? close, a, q, buyAmount, buyQuantity, p.tradeCount ?? count, start + ms - 3, weighted, interval, start, start + ms - 1];
  }
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
