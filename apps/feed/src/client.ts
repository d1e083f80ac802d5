/**
 * The feed's connection to the API: one WebSocket with a subscription per
 * pair, and the HTTP reads around it. Each time the socket opens it
 * subscribes every pair and, once a subscription is confirmed, fetches that
 * pair's history, so no update falls between the two. When the socket drops
 * it reconnects with capped exponential backoff, forever once it has been
 * up once, and says so through `status` meanwhile.
 */
import WebSocket from 'ws';
import { Backoff, type BackoffOptions, type Candle } from '@candlestack/shared';
import { describeError, fetchCandles, fetchPairs } from './http.js';
import { serverMessageSchema, type PairsInfo, type ServerMessage } from './messages.js';
import type { ConnectionStatus } from './state.js';

export interface FeedEvents {
  status(status: ConnectionStatus): void;
  /** A connection opened: the histories that follow replace what is held. */
  session(): void;
  /** /pairs answered again (after a reconnect, or on the periodic refresh). */
  info(info: PairsInfo): void;
  history(pair: string, candles: Candle[]): void;
  candle(pair: string, candle: Candle): void;
  /** Something the server objected to, or a read that failed; the connection goes on. */
  problem(message: string): void;
}

export interface ClientOptions {
  readonly api: string;
  readonly url: string;
  /** The canonical label, as the server writes it back. */
  readonly period: string;
  /** Candles of history per pair. */
  readonly limit: number;
  readonly events: FeedEvents;
  /** Reconnect delays: the first, and the cap. */
  readonly backoff?: BackoffOptions;
  /** How often /pairs is asked again, for new pairs and the source's state. */
  readonly refreshMs?: number;
  /** The server pings every 30 s: this long without a word, the link is dead. */
  readonly silenceMs?: number;
}

/** Normal closure: the server logs nothing alarming for it. */
const NORMAL_CLOSE = 1000;
const CLOSE_WAIT_MS = 1_000;

export class FeedClient {
  private readonly pairs = new Set<string>();
  /** Pairs whose history read failed: retried on the next refresh. */
  private readonly unloaded = new Set<string>();
  private ws: WebSocket | undefined;
  /** Which connection is current: answers meant for an older one are dropped. */
  private generation = 0;
  private readonly backoff: Backoff;
  private lastError = '';
  private up = false;
  private closing: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  private silenceTimer: NodeJS.Timeout | undefined;
  private started: { resolve: () => void; reject: (err: Error) => void; deadline: number } | undefined;

  constructor(private readonly opts: ClientOptions) {
    // The random upper half of each delay keeps many feeds from returning in step.
    this.backoff = new Backoff(opts.backoff ?? { initialMs: 500, maxMs: 30_000 });
  }

  /**
   * Connects for `pairs`. Resolves once the socket is open; rejects when it
   * could not be opened within `startupMs` (the API is not there, or has no
   * /ws). After that first success every loss is retried forever.
   */
  start(pairs: readonly string[], startupMs: number): Promise<void> {
    for (const p of pairs) this.pairs.add(p);
    return new Promise((resolve, reject) => {
      this.started = { resolve, reject, deadline: Date.now() + startupMs };
      this.connect();
    });
  }

  /** Closes with a normal close frame, waiting briefly for the server's answer. Idempotent. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.stopTimers();
      clearTimeout(this.retryTimer);
      const ws = this.ws;
      if (!ws || ws.readyState === WebSocket.CLOSED) return resolve();
      const cut = setTimeout(() => {
        ws.terminate();
        resolve();
      }, CLOSE_WAIT_MS);
      ws.once('close', () => {
        clearTimeout(cut);
        resolve();
      });
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      else ws.close(NORMAL_CLOSE, 'feed closed');
    });
    return this.closing;
  }

  private connect(): void {
    const gen = ++this.generation;
    const ws = new WebSocket(this.opts.url, { handshakeTimeout: 5_000 });
    this.ws = ws;
    ws.on('open', () => this.onOpen(ws, gen));
    ws.on('message', (data) => this.onMessage(data.toString(), gen));
    ws.on('ping', () => this.heardFrom(ws));
    // Every failure also ends in 'close'; the reason is kept for the status line.
    ws.on('error', (err) => (this.lastError = describeError(err)));
    ws.on('close', (code, reason) => this.onClose(gen, code, reason.toString()));
  }

  private onOpen(ws: WebSocket, gen: number): void {
    const first = !this.up;
    this.up = true;
    this.started?.resolve();
    this.started = undefined;
    this.opts.events.status({ kind: 'live' });
    this.opts.events.session();
    this.heardFrom(ws);
    this.unloaded.clear();
    for (const pair of this.pairs) this.subscribe(ws, pair);
    // The API may have come back with other pairs or another source.
    if (!first) void this.refresh(ws, gen);
    this.refreshTimer = setInterval(() => void this.refresh(ws, gen), this.opts.refreshMs ?? 10_000);
  }

  private subscribe(ws: WebSocket, pair: string): void {
    ws.send(JSON.stringify({ op: 'subscribe', pair, period: this.opts.period }));
  }

  private onMessage(text: string, gen: number): void {
    if (gen !== this.generation || !this.ws) return;
    this.heardFrom(this.ws);
    let msg: ServerMessage;
    try {
      const parsed = serverMessageSchema.safeParse(JSON.parse(text));
      // Messages of kinds this feed does not know are for newer clients.
      if (!parsed.success) return;
      msg = parsed.data;
    } catch {
      this.opts.events.problem('the server sent something that is not JSON');
      return;
    }
    // A good message: the link works, so the next loss starts the backoff afresh.
    this.backoff.reset();
    if (msg.type === 'error') return this.opts.events.problem(msg.message);
    if (msg.type === 'unsubscribed' || msg.period !== this.opts.period || !this.pairs.has(msg.pair)) return;
    // A gap: candles changed that were not each sent (a catch-up of
    // thousands); the history is read again.
    if (msg.type === 'subscribed' || msg.type === 'gap') void this.loadHistory(msg.pair, gen);
    else this.opts.events.candle(msg.pair, msg.candle);
  }

  private async loadHistory(pair: string, gen: number): Promise<void> {
    try {
      const candles = await fetchCandles(this.opts.api, pair, this.opts.period, this.opts.limit);
      if (gen === this.generation) this.opts.events.history(pair, candles);
    } catch (err) {
      if (gen !== this.generation) return;
      this.unloaded.add(pair);
      this.opts.events.problem(`history of ${pair}: ${(err as Error).message}`);
    }
  }

  private async refresh(ws: WebSocket, gen: number): Promise<void> {
    let info: PairsInfo;
    try {
      info = await fetchPairs(this.opts.api);
    } catch (err) {
      if (gen === this.generation) this.opts.events.problem((err as Error).message);
      return;
    }
    if (gen !== this.generation || ws.readyState !== WebSocket.OPEN) return;
    this.opts.events.info(info);
    for (const { pair } of info.pairs) {
      if (this.pairs.has(pair)) continue;
      this.pairs.add(pair);
      this.subscribe(ws, pair);
    }
    for (const pair of [...this.unloaded]) {
      this.unloaded.delete(pair);
      void this.loadHistory(pair, gen);
    }
  }

  private onClose(gen: number, code: number, reason: string): void {
    if (gen !== this.generation) return;
    this.ws = undefined;
    this.stopTimers();
    if (this.closing) return;
    const why =
      this.lastError ||
      (code === 1006 ? 'connection lost' : `closed by the server (${code}${reason ? ` ${reason}` : ''})`);
    this.lastError = '';
    const delay = this.backoff.next();
    if (this.started && Date.now() + delay > this.started.deadline) {
      this.started.reject(new Error(why));
      this.started = undefined;
      return;
    }
    // Before the first success the caller is still waiting on start(): nothing to show yet.
    if (!this.started) {
      this.opts.events.status({ kind: 'reconnecting', attempt: this.backoff.failures, retryAt: Date.now() + delay, reason: why });
    }
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  private heardFrom(ws: WebSocket): void {
    clearTimeout(this.silenceTimer);
    this.silenceTimer = setTimeout(() => ws.terminate(), this.opts.silenceMs ?? 75_000);
  }

  private stopTimers(): void {
    clearInterval(this.refreshTimer);
    clearTimeout(this.silenceTimer);
  }
}
