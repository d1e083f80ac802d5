/**
 * The live source: Poloniex's public WebSocket API v3, `trades` channel.
 *
 * One connection at a time. Each connection subscribes to the pairs this
 * ingester holds the lease of (all of them when it runs alone), subscribes
 * and unsubscribes on the same connection as leases are taken and given up
 * (see pair-leases.ts), checks the acks, keeps itself alive with
 * `{"event":"ping"}` (the exchange ends a session that sends nothing for
 * 30 s) and counts a missing pong as a dead connection. Any drop (close frame or none, refused, DNS failure, no pong,
 * no ack) is announced downstream and followed by a reconnect with capped
 * exponential backoff and jitter, reset by the first good message. After
 * every subscription, and so at start-up too, the REST backfill (see
 * poloniex-backfill.ts) fills what the stream missed. A pair with nothing
 * stored is first given its history (poloniex-history.ts): it is subscribed
 * once the exchange's candles are imported, and its first backfill completes
 * the bucket where they end from the exchange's trades.
 */
import { WebSocket, type RawData } from 'ws';
import { Backoff, PoloniexCandles, Sleeper, isPair, normalizePair, periodLabel, type Logger, type RawTrade } from '@candlestack/shared';
import type { Source, SourceSink } from '../source.js';
import { Backfiller, type Anchor } from './poloniex-backfill.js';
import { PING, parseWsMessage, subscribeRequest, tradeId, unsubscribeRequest } from './poloniex-messages.js';
import { OFFLINE_HINT, resolvePairs } from './poloniex-pairs.js';
import { withDefaults, type PoloniexOptions, type PoloniexSettings } from './poloniex-options.js';
import { PoloniexRest } from './poloniex-rest.js';
import { HistoryImporter, type ImportOutcome } from './poloniex-history.js';

interface Pending {
  readonly kind: 'subscribe' | 'unsubscribe' | 'ping';
  /** The request as sent, for the log when the exchange answers with an error. */
  readonly request: string;
  readonly symbols: readonly string[];
}

/** One WebSocket connection and what it is waiting for. */
interface Session {
  readonly ws: WebSocket;
  readonly opened: { at?: number };
  /** Requests sent and not yet answered, oldest first: Poloniex answers in order. */
  readonly pending: Pending[];
  /** Where each pair's backfill starts after this connection's subscription. */
  readonly anchors: Map<string, Anchor>;
  /** Pairs asked for on this connection and not unsubscribed since. */
  readonly subscribed: Set<string>;
  /** Pairs being unsubscribed: their trades in flight until the ack are still handed over (writes are idempotent). */
  readonly leaving: Set<string>;
  /** Called once no subscribe or unsubscribe is pending, or the connection is gone. */
  readonly settled: (() => void)[];
  good: boolean;
  error?: Error;
  /** Why we ended it ourselves (no pong, no ack...). */
  reason?: string;
  pingTimer?: NodeJS.Timeout;
  pongTimer?: NodeJS.Timeout;
  ackTimer?: NodeJS.Timeout;
}

export type { PoloniexOptions };

export class PoloniexSource implements Source {
  readonly kind = 'poloniex' as const;
  private sink: SourceSink | undefined;
  private log: Logger | undefined;
  private rest: PoloniexRest;
  private backfiller: Backfiller | undefined;
  /** Every pair this source may follow (PAIRS, checked against the exchange). */
  private pairs: string[] = [];
  /** The pairs to follow now: the ones this ingester holds the lease of. */
  private following = new Set<string>();
  /** follow() calls, one after the other. */
  private changes: Promise<void> = Promise.resolve();
  private session: Session | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private readonly backoff: Backoff;
  private readonly sleeper = new Sleeper();
  private closed = false;
  private closing: Promise<void> | undefined;
  private subscribedOnce = false;
  private importer: HistoryImporter | undefined;
  /** Followed pairs whose history is being imported: subscribed once it is. */
  private readonly importing = new Set<string>();
  private readonly importQueue: string[] = [];
  private importRun: Promise<void> | undefined;
  private startWaiter: { resolve: () => void; reject: (err: Error) => void } | undefined;

  private readonly opts: PoloniexSettings;

  constructor(options: PoloniexOptions) {
    const opts = (this.opts = withDefaults(options));
    this.backoff = new Backoff(opts.reconnect, opts.random);
    this.rest = new PoloniexRest(opts.restUrl, opts.restTimeoutMs);
  }

  async start(sink: SourceSink): Promise<string[]> {
    this.sink = sink;
    const log = (this.log = sink.log.child({ component: 'poloniex' }));
    sink.status('connecting', `connecting to Poloniex at ${this.opts.wsUrl}`);
    try {
      this.pairs = await resolvePairs(this.opts.pairs, {
        rest: this.rest,
        restUrl: this.opts.restUrl,
        retry: this.opts.restRetry,
        random: this.opts.random,
        log,
        sleep: (ms) => this.sleeper.sleep(ms),
        closed: () => this.closed,
        unreachable: (detail) => sink.status('disconnected', detail),
      });
    } catch (err) {
      await this.close();
      throw err;
    }
    this.backfiller = new Backfiller(this.rest, sink, log, {
      limit: this.opts.backfillLimit,
      backoff: this.opts.restRetry,
      concurrency: this.opts.restConcurrency,
      random: this.opts.random,
      onBoundary: (pair, b, exact, detail) => this.onBoundary(pair, b, exact, detail),
    });
    if (sink.history) {
      this.importer = new HistoryImporter(new PoloniexCandles(this.opts.restUrl, this.opts.restTimeoutMs), sink.history, log, {
        historyMs: this.opts.historyMs,
        ...this.opts.history,
        ...(this.opts.random && { random: this.opts.random }),
      }, (reason, sample) => void sink.malformed(reason, sample));
    }
    const held = sink.claim ? await sink.claim(this.pairs) : this.pairs;
    this.following = new Set(held.filter((p) => this.pairs.includes(p)));
    await this.prepare([...this.following]);

    const first = new Promise<void>((resolve, reject) => (this.startWaiter = { resolve, reject }));
    const timer = setTimeout(() => this.settleStart(), this.opts.startTimeoutMs);
    this.connect();
    try {
      await first;
    } catch (err) {
      await this.close();
      throw err;
    } finally {
      clearTimeout(timer);
    }
    return [...this.pairs];
  }

  /** What the store already has: a restart, or a pair taken over from another ingester, backfills from there. */
  private async seed(pairs: readonly string[]): Promise<void> {
    for (const pair of pairs) {
      try {
        this.backfiller!.seed(pair, await this.sink!.lastTrade?.(pair));
      } catch (err) {
        this.log?.warn({ pair, err: (err as Error).message }, `cannot read the last stored trade of ${pair} (Redis away?): its backfill loads nothing older than now`);
      }
    }
  }

  /**
   * Pairs about to be followed: what the store holds of each (a restart
   * backfills from there), and, for one with nothing stored, its history
   * to import first (it is subscribed once that is done).
   */
  private async prepare(pairs: readonly string[]): Promise<void> {
    await this.seed(pairs);
    if (!this.importer) return;
    const queued: string[] = [];
    for (const pair of pairs) {
      let state;
      try {
        state = await this.sink!.history!.state(pair);
      } catch (err) {
        this.log?.warn({ pair, err: (err as Error).message }, `cannot read the history state of ${pair} (Redis away?): following it without importing history`);
        continue;
      }
      if (state.status === 'imported') this.afterHistory(pair, { kind: 'imported', boundary: state.boundary, periodMs: state.periodMs, ...(state.exact !== undefined && { exact: state.exact }) });
      else if (state.status === 'importing' || (state.status === 'none' && this.opts.historyMs > 0)) queued.push(pair);
    }
    if (queued.length === 0) return;
    for (const p of queued) {
      this.importing.add(p);
      this.importQueue.push(p);
    }
    this.importer.queued(queued.length);
    this.importRun ??= this.runImports().finally(() => (this.importRun = undefined));
  }

  /** Imports the queued pairs' history one pair after the other (the requests are paced anyway), subscribing each when done. */
  private async runImports(): Promise<void> {
    for (let pair = this.importQueue.shift(); pair !== undefined && !this.closed; pair = this.importQueue.shift()) {
      const p = pair;
      let outcome: ImportOutcome;
      try {
        outcome = await this.importer!.run(p, () => !this.closed && this.following.has(p));
      } catch (err) {
        if (this.closed) return;
        // Redis away: that pair again later, the others meanwhile.
        this.log?.warn({ pair: p, err: (err as Error).message }, `history import of ${p} failed (${(err as Error).message}); trying it again in 5 s`);
        this.importQueue.push(p);
        await this.sleeper.sleep(5_000);
        continue;
      }
      if (outcome.kind === 'stopped') {
        this.importing.delete(p);
        continue;
      }
      this.afterHistory(p, outcome);
      this.importing.delete(p);
      // Subscribe it now (follow() skips pairs still importing).
      if (this.following.has(p) && !this.closed) await this.follow([...this.following]);
    }
  }

  /** History is imported up to `boundary`: the backfill starts there, and the first one completes that bucket. */
  private afterHistory(pair: string, outcome: ImportOutcome): void {
    if (outcome.kind !== 'imported') return;
    this.backfiller!.seed(pair, { time: outcome.boundary });
    if (outcome.exact === undefined) this.backfiller!.expectBoundary(pair, outcome.boundary, outcome.periodMs);
  }

  private async onBoundary(pair: string, b: { readonly at: number; readonly periodMs: number }, exact: boolean, detail: string): Promise<void> {
    const bucket = `the ${periodLabel(b.periodMs)} bucket of ${new Date(b.at).toISOString()}`;
    try {
      await this.sink!.history?.boundary(pair, b.periodMs, exact);
    } catch (err) {
      this.log?.warn({ pair, err: (err as Error).message }, `cannot record whether ${pair}'s boundary bucket is exact`);
    }
    if (exact) this.log?.info({ pair, boundary: new Date(b.at).toISOString() }, `${pair}: ${bucket}, where imported history meets live trades, is exact: ${detail}`);
    else
      this.log?.warn(
        { pair, boundary: new Date(b.at).toISOString() },
        `${pair}: ${bucket}, where imported history meets live trades, is incomplete (marked so in /pairs): ${detail}`,
      );
  }

  follow(pairs: readonly string[]): Promise<void> {
    const next = this.changes.then(() => this.changeTo(pairs));
    this.changes = next.catch((err: Error) => this.log?.error({ err: err.message }, 'cannot change the pairs followed'));
    return this.changes;
  }

  private async changeTo(pairs: readonly string[]): Promise<void> {
    if (this.closed || !this.backfiller) return;
    const next = new Set(pairs.filter((p) => this.pairs.includes(p)));
    const fresh = [...next].filter((p) => !this.following.has(p));
    this.following = next;
    await this.prepare(fresh);
    const s = this.session;
    // Not connected: the next connection subscribes to what is followed then.
    if (!s || s.ws.readyState !== WebSocket.OPEN || s.reason) return;
    const added = [...next].filter((p) => !s.subscribed.has(p) && !this.importing.has(p));
    const removed = [...s.subscribed].filter((p) => !next.has(p));
    if (removed.length > 0) {
      for (const p of removed) {
        s.subscribed.delete(p);
        s.leaving.add(p);
      }
      this.request(s, 'unsubscribe', removed);
      this.log?.info({ pairs: removed }, `unsubscribing from ${removed.join(', ')}`);
    }
    if (added.length > 0) {
      this.subscribe(s, added);
      this.log?.info({ pairs: added }, `subscribing to ${added.join(', ')}`);
    }
    if (s.pending.some((p) => p.kind !== 'ping')) await new Promise<void>((r) => s.settled.push(r));
  }

  /** Subscribes in batches; each pair's backfill starts after the last trade had before this request. */
  private subscribe(s: Session, pairs: readonly string[]): void {
    // Taken before the first trade of this subscription can move them.
    for (const p of pairs) {
      s.anchors.set(p, this.backfiller!.anchor(p));
      s.subscribed.add(p);
      s.leaving.delete(p);
    }
    const size = this.opts.subscribeBatch;
    for (let i = 0; i < pairs.length; i += size) this.request(s, 'subscribe', pairs.slice(i, i + size));
  }

  private request(s: Session, kind: 'subscribe' | 'unsubscribe', symbols: readonly string[]): void {
    const request = kind === 'subscribe' ? subscribeRequest(symbols) : unsubscribeRequest(symbols);
    s.pending.push({ kind, request, symbols });
    s.ws.send(request);
    s.ackTimer ??= setTimeout(() => this.end(s, `no subscription ack within ${this.opts.ackTimeoutMs} ms`), this.opts.ackTimeoutMs);
  }

  /** No subscribe or unsubscribe pending: the session is settled. */
  private checkSettled(s: Session): void {
    if (s.pending.some((p) => p.kind !== 'ping')) return;
    clearTimeout(s.ackTimer);
    s.ackTimer = undefined;
    this.subscribedOnce = true;
    const n = s.subscribed.size;
    const importing = this.importing.size > 0 ? `; importing the history of ${this.importing.size} more first` : '';
    const detail =
      n + this.importing.size === this.pairs.length
        ? `subscribed to trades of ${n} pair(s) at ${this.opts.wsUrl}${importing}`
        : `subscribed to trades of ${n} of ${this.pairs.length} pair(s) at ${this.opts.wsUrl}${importing} (other ingesters hold the others' leases)`;
    this.sink!.status('connected', detail);
    this.settleStart();
    for (const r of s.settled.splice(0)) r();
  }

  private settleStart(err?: Error): void {
    const w = this.startWaiter;
    this.startWaiter = undefined;
    if (w && err) w.reject(err);
    else w?.resolve();
  }

  private connect(): void {
    if (this.closed) return;
    const ws = new WebSocket(this.opts.wsUrl, { handshakeTimeout: this.opts.handshakeTimeoutMs });
    const s: Session = { ws, opened: {}, pending: [], anchors: new Map(), subscribed: new Set(), leaving: new Set(), settled: [], good: false };
    this.session = s;
    ws.on('open', () => this.onOpen(s));
    ws.on('message', (data, isBinary) => this.onMessage(s, data, isBinary));
    ws.on('error', (err) => {
      s.error = err;
    });
    ws.on('close', (code, reason) => this.onClose(s, code, reason.toString()));
  }

  private onOpen(s: Session): void {
    if (s !== this.session) return;
    s.opened.at = Date.now();
    this.log?.info({ url: this.opts.wsUrl }, 'connected to Poloniex; subscribing');
    // The backfill of each pair must start after the last trade of the previous connection.
    this.subscribe(s, this.pairs.filter((p) => this.following.has(p) && !this.importing.has(p)));
    s.pingTimer = setInterval(() => this.ping(s), this.opts.pingIntervalMs);
    // Nothing to subscribe to (other ingesters hold every lease): connected all the same.
    this.checkSettled(s);
  }

  private ping(s: Session): void {
    if (s.ws.readyState !== WebSocket.OPEN) return;
    s.pending.push({ kind: 'ping', request: PING, symbols: [] });
    s.ws.send(PING);
    s.pongTimer ??= setTimeout(() => this.end(s, `no pong within ${this.opts.pongTimeoutMs} ms`), this.opts.pongTimeoutMs);
  }

  /** Ends a connection we judge dead; its close event reconnects. */
  private end(s: Session, reason: string): void {
    if (s.reason) return;
    s.reason = reason;
    this.log?.warn({ reason }, `${reason}: the connection is dead; reconnecting`);
    s.ws.terminate();
  }

  private onMessage(s: Session, data: RawData, isBinary: boolean): void {
    if (s !== this.session || !this.sink) return;
    const text = Buffer.isBuffer(data) ? data.toString('utf8') : Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data).toString('utf8');
    if (isBinary) {
      this.sink.malformed('Poloniex frame: binary, not text', text);
      return;
    }
    const m = parseWsMessage(text);
    switch (m.kind) {
      case 'unexpected':
        this.sink.malformed(`Poloniex frame: ${m.reason}`, text);
        return;
      case 'pong': {
        this.answered(s, 'ping');
        clearTimeout(s.pongTimer);
        s.pongTimer = undefined;
        this.good(s);
        return;
      }
      case 'error':
        this.onError(s, m.message);
        return;
      case 'subscribed':
        this.onAck(s, m.channel, m.symbols, text);
        return;
      case 'unsubscribed':
        this.onUnsubscribed(s, m.channel, text);
        return;
      case 'trades':
        this.good(s);
        for (const r of m.rejected) this.sink.malformed(`Poloniex trade: ${r.reason}`, r.sample);
        this.deliver(m.trades);
        return;
    }
  }

  private deliver(raw: readonly RawTrade[]): void {
    const ours: RawTrade[] = [];
    // Oldest first, so a message listing trades newest first is no "hole".
    const byId = (t: RawTrade) => tradeId(typeof t.id === 'string' ? t.id : undefined) ?? -1n;
    for (const t of [...raw].sort((a, b) => (byId(a) < byId(b) ? -1 : byId(a) > byId(b) ? 1 : 0))) {
      // A symbol we did not subscribe to would register a pair nobody asked for.
      if (typeof t.pair === 'string' && isPair(t.pair) && !this.following.has(normalizePair(t.pair)) && !this.session?.leaving.has(normalizePair(t.pair))) {
        this.sink!.malformed(`Poloniex trade of ${t.pair}, a pair not subscribed`, JSON.stringify(t));
        continue;
      }
      this.watchForHole(t);
      this.backfiller!.saw(t);
      ours.push(t);
    }
    if (ours.length === 0) return;
    this.sink!.trades(ours).catch((err: Error) => this.log?.error({ err: err.message }, 'cannot hand trades to the writer'));
  }

  /**
   * Ids rise by one per trade of a symbol: a live trade more than one past
   * the last one we had means the stream skipped some while connected (no
   * drop to announce it). Fill the hole from REST at once rather than never.
   */
  private watchForHole(t: RawTrade): void {
    if (typeof t.pair !== 'string' || !isPair(t.pair)) return;
    const pair = normalizePair(t.pair);
    const id = tradeId(typeof t.id === 'string' ? t.id : undefined);
    const anchor = this.backfiller!.anchor(pair);
    if (id === undefined || anchor.id === undefined || id <= anchor.id + 1n) return;
    this.log?.warn({ pair, after: String(anchor.id), got: String(id) }, `trade ids of ${pair} jumped from ${anchor.id} to ${id}: backfilling the hole from REST`);
    this.backfiller!.request(pair, anchor);
  }

  /** The first good message of a connection resets the reconnect backoff. */
  private good(s: Session): void {
    if (s.good) return;
    s.good = true;
    this.backoff.reset();
  }

  private answered(s: Session, kind: Pending['kind']): Pending | undefined {
    const i = s.pending.findIndex((p) => p.kind === kind);
    return i < 0 ? undefined : s.pending.splice(i, 1)[0];
  }

  private onAck(s: Session, channel: string, symbols: readonly string[], text: string): void {
    if (channel !== 'trades') {
      this.sink!.malformed(`Poloniex frame: ack of channel "${channel}", never asked for`, text);
      return;
    }
    const req = this.answered(s, 'subscribe');
    if (!req) {
      this.sink!.malformed('Poloniex frame: subscribe ack with no request pending', text);
      return;
    }
    this.good(s);
    const acked = new Set(symbols.map((x) => (isPair(x) ? normalizePair(x) : x)));
    // An ack without a symbol list is taken as covering the request.
    const missing = symbols.length === 0 ? [] : req.symbols.filter((x) => !acked.has(x));
    if (missing.length > 0) {
      this.log?.warn({ request: req.request, ack: text, missing }, `Poloniex acknowledged the subscription without ${missing.join(', ')}`);
    }
    // A pair given up while its subscription was on its way needs no backfill.
    for (const p of req.symbols) if (!missing.includes(p) && s.subscribed.has(p)) this.backfiller!.request(p, s.anchors.get(p) ?? {});
    this.checkSettled(s);
  }

  private onUnsubscribed(s: Session, channel: string, text: string): void {
    const req = channel === 'trades' ? this.answered(s, 'unsubscribe') : undefined;
    if (!req) {
      this.sink!.malformed(`Poloniex frame: unsubscribe ack ${channel === 'trades' ? 'with no request pending' : `of channel "${channel}", never asked for`}`, text);
      return;
    }
    this.good(s);
    for (const p of req.symbols) if (!s.subscribed.has(p)) s.leaving.delete(p);
    this.checkSettled(s);
  }

  private onError(s: Session, message: string): void {
    // Poloniex's errors do not say which request they answer; it answers in order.
    const req = s.pending.shift();
    this.log?.error(
      { request: req?.request ?? null, error: message },
      `Poloniex answered ${req ? `the request ${req.request}` : 'with no request pending'} with an error: ${message}`,
    );
    if (req?.kind === 'unsubscribe') {
      // The next connection subscribes to the pairs followed, and only those.
      this.end(s, `Poloniex refused to unsubscribe from trades of ${req.symbols.join(', ')}: "${message}"`);
      return;
    }
    if (req?.kind !== 'subscribe') return;
    const refused = `Poloniex refused to subscribe to trades of ${req.symbols.join(', ')}: "${message}"`;
    if (!this.subscribedOnce && this.startWaiter) {
      this.settleStart(new Error(`${refused}. Is every pair in PAIRS listed on Poloniex? (GET ${this.opts.restUrl.replace(/\/+$/, '')}/markets lists them)`));
      return;
    }
    // It accepted these before: take it as a hiccup of this session.
    this.end(s, refused);
  }

  private onClose(s: Session, code: number, reason: string): void {
    clearInterval(s.pingTimer);
    clearTimeout(s.pongTimer);
    clearTimeout(s.ackTimer);
    for (const r of s.settled.splice(0)) r();
    if (s !== this.session) return;
    this.session = undefined;
    if (this.closed) return;
    const delay = this.backoff.next();
    const wait = delay < 1_000 ? `${delay} ms` : `${(delay / 1000).toFixed(1)} s`;
    let detail: string;
    if (s.opened.at === undefined) {
      const why = s.reason ?? s.error?.message ?? `closed with code ${code}`;
      detail = `cannot reach Poloniex at ${this.opts.wsUrl} (${why}); retrying in ${wait}. ${OFFLINE_HINT}`;
    } else {
      const why = s.reason ?? `code ${code}${reason ? ` "${reason}"` : ''}${code === 1006 ? ', no close frame' : ''}`;
      detail = `connection to Poloniex lost (${why}) after ${((Date.now() - s.opened.at) / 1000).toFixed(1)} s; reconnecting in ${wait}`;
    }
    // The ingester logs the status line (warn); this one adds the numbers.
    this.log?.debug({ code, attempt: this.backoff.failures, retryInMs: delay }, detail);
    this.sink?.status('disconnected', detail);
    // Unreachable at start is not a start-up error: the ingester runs and says so.
    this.settleStart();
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connect();
    }, delay);
  }

  /** Stops: closes the connection, stops retrying and backfilling. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      clearTimeout(this.reconnectTimer);
      this.sleeper.cancel();
      this.importer?.close();
      this.settleStart();
      const s = this.session;
      this.session = undefined;
      if (s) {
        clearInterval(s.pingTimer);
        clearTimeout(s.pongTimer);
        clearTimeout(s.ackTimer);
        for (const r of s.settled.splice(0)) r();
        await closeSocket(s.ws);
      }
      await this.importRun?.catch(() => undefined);
      await this.backfiller?.close();
    })();
    return this.closing;
  }
}

/** A close frame when the socket is open (waiting at most 1 s for the answer), else cut. */
async function closeSocket(ws: WebSocket): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return;
  const closed = new Promise<void>((r) => ws.once('close', () => r()));
  if (ws.readyState === WebSocket.OPEN) {
    ws.close(1000, 'ingester stopping');
    const t = setTimeout(() => ws.terminate(), 1_000);
    await closed;
    clearTimeout(t);
  } else {
    ws.terminate();
    await closed;
  }
}
