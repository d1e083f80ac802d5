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
 *   first, at most 1000, `takerSide` in upper case, no paging).
 *
 * Controls let a test execute trades (and choose who hears of them), drop
 * connections with or without a close frame, refuse connections, stop
 * answering pings or subscriptions, and make REST fail or hang.
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
  /** Answer `{"event":"ping"}`? */
  answerPings = true;
  /** Acknowledge subscriptions? */
  answerSubscribes = true;
  /** After each ack, resend this many of the latest trades of each symbol (as an exchange may after a reconnect). */
  resendOnSubscribe = 0;
  /** `GET /markets` fails with HTTP 500 while set. */
  marketsDown = false;

  private readonly history = new Map<string, WireTrade[]>();
  private readonly nextId = new Map<string, bigint>();
  private readonly clients = new Set<Client>();
  private readonly restFailures: RestFailure[] = [];
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
