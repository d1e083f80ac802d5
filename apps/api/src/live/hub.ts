/**
 * The live feed of one API process. It listens to the deployment's pub/sub
 * channel (so any number of API processes each serve their own clients):
 * closed and revised candles are forwarded at once; "ticks" events mark the
 * pair's subscriptions dirty, and every `throttleMs` each dirty subscription
 * recomputes its forming candle from Redis and sends it if it changed. A
 * burst of trades costs one read per subscription per interval, and the
 * latest state is always the one delivered.
 *
 * A message to the subscribers of one (pair, period) is serialized once,
 * to UTF-8 bytes, and the same bytes go to every client (`sendEncoded`):
 * with 1,000 subscribers a close costs one JSON.stringify, not 1,000, and
 * no per-socket string encoding.
 */
import {
  parseLiveEvent,
  periodLabel,
  toCandle,
  type Candle,
  type CandleStore,
  type LiveEvent,
  type Logger,
  type RedisClient,
} from '@candlestack/shared';
import type { ServerMessage } from './protocol.js';

const PAIR_FIELD = '"pair":"';

/** A connected client, as the hub sees it. */
export interface LiveClient {
  /** One message for this client alone. */
  send(msg: ServerMessage): void;
  /** A message already serialized (JSON, UTF-8): the same bytes go to every subscriber. */
  sendEncoded(data: Buffer): void;
}

interface Subscription {
  readonly pair: string;
  readonly periodMs: number;
  readonly label: string;
  /** `{"type":"candle","pair":...,"period":...,"candle":` : a candle message is this, the candle's JSON, `}`. */
  readonly head: string;
  readonly clients: Set<LiveClient>;
  /** Last JSON sent per candle time, to send only changes. */
  readonly sent: Map<number, string>;
  /** Newest closed candle seen: a forming read that raced its close is not sent. */
  closedTime: number;
  dirty: boolean;
}

const key = (pair: string, periodMs: number) => `${pair}|${periodMs}`;

export class LiveHub {
  private readonly subs = new Map<string, Subscription>();
  private readonly byPair = new Map<string, Set<Subscription>>();
  /** Each client's subscriptions, so a disconnect costs its own, not every one. */
  private readonly byClient = new Map<LiveClient, Set<Subscription>>();
  private timer: NodeJS.Timeout | undefined;
  private flushing = false;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly store: CandleStore,
    private readonly subscriber: RedisClient,
    private readonly channel: string,
    private readonly throttleMs: number,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    this.subscriber.on('message', (channel: string, text: string) => {
      if (channel !== this.channel || !this.wanted(text)) return;
      const event = parseLiveEvent(text);
      if (event) this.onEvent(event);
    });
    // ioredis resubscribes by itself after a reconnect. Start does not wait
    // long for Redis: the API must answer /healthz even while it is away.
    const subscribed = this.subscriber.subscribe(this.channel).catch((err: Error) => {
      this.log.warn({ err: err.message }, 'cannot subscribe to live events yet; ioredis will retry');
    });
    await Promise.race([subscribed, new Promise((r) => setTimeout(r, 1_000).unref())]);
    this.timer = setInterval(() => void this.flush(), this.throttleMs);
  }

  /** Adds a client to (pair, period) and sends it the current forming candle at once. */
  async subscribe(client: LiveClient, pair: string, periodMs: number): Promise<void> {
    const k = key(pair, periodMs);
    let sub = this.subs.get(k);
    if (!sub) {
      const label = periodLabel(periodMs);
      const head = `{"type":"candle","pair":${JSON.stringify(pair)},"period":${JSON.stringify(label)},"candle":`;
      sub = { pair, periodMs, label, head, clients: new Set(), sent: new Map(), closedTime: -Infinity, dirty: false };
      this.subs.set(k, sub);
      let set = this.byPair.get(pair);
      if (!set) this.byPair.set(pair, (set = new Set()));
      set.add(sub);
    }
    sub.clients.add(client);
    let mine = this.byClient.get(client);
    if (!mine) this.byClient.set(client, (mine = new Set()));
    mine.add(sub);
    client.send({ type: 'subscribed', pair, period: sub.label });
    for (const candle of await this.forming(sub)) client.send({ type: 'candle', pair, period: sub.label, candle });
  }

  unsubscribe(client: LiveClient, pair: string, periodMs: number): boolean {
    const sub = this.subs.get(key(pair, periodMs));
    if (!sub || !sub.clients.delete(client)) return false;
    const mine = this.byClient.get(client);
    mine?.delete(sub);
    if (mine?.size === 0) this.byClient.delete(client);
    if (sub.clients.size === 0) {
      this.subs.delete(key(pair, periodMs));
      const set = this.byPair.get(pair);
      set?.delete(sub);
      if (set?.size === 0) this.byPair.delete(pair);
    }
    return true;
  }

  /** Drops every subscription of a client (it disconnected). */
  removeClient(client: LiveClient): void {
    for (const sub of [...(this.byClient.get(client) ?? [])]) this.unsubscribe(client, sub.pair, sub.periodMs);
  }

  get subscriptionCount(): number {
    return this.subs.size;
  }

  /**
   * Whether an event may concern a subscription, judged before it is
   * parsed: a close run at a minute's end publishes an event per pair and
   * period (8,000 at 1,000 pairs), and parsing each took the API's CPU
   * just when readers ask for the candles that closed. An event names its
   * pair first after its type (JSON.stringify of LiveEvent); anything else
   * is parsed.
   */
  private wanted(text: string): boolean {
    if (this.subs.size === 0) return false;
    const at = text.indexOf(PAIR_FIELD);
    if (at < 0 || at > 40) return true;
    const end = text.indexOf('"', at + PAIR_FIELD.length);
    return end < 0 || this.byPair.has(text.slice(at + PAIR_FIELD.length, end));
  }

  private onEvent(event: LiveEvent): void {
    if (event.type === 'ticks') {
      for (const pair of event.pairs) for (const sub of this.byPair.get(pair) ?? []) sub.dirty = true;
      return;
    }
    for (const sub of this.byPair.get(event.pair) ?? []) {
      if (sub.label !== event.period) continue;
      if (event.type === 'gap') {
        const msg: ServerMessage = { type: 'gap', pair: sub.pair, period: sub.label, from: event.from, to: event.to };
        this.broadcast(sub, JSON.stringify(msg));
        sub.dirty = true;
        continue;
      }
      this.broadcast(sub, `${sub.head}${JSON.stringify(event.candle)}}`);
      sub.sent.delete(event.candle.time);
      if (event.type === 'closed') sub.closedTime = Math.max(sub.closedTime, event.candle.time);
      // A bucket closed: the next one is forming now, even with no trade yet.
      sub.dirty = true;
    }
  }

  /** One message to every subscriber of `sub`, serialized once. */
  private broadcast(sub: Subscription, json: string): void {
    const data = Buffer.from(json);
    for (const c of sub.clients) c.sendEncoded(data);
  }

  private async forming(sub: Subscription): Promise<Candle[]> {
    const stored = await this.store.formingCandles(sub.pair, sub.periodMs);
    return stored.map((c) => toCandle(c, false));
  }

  /** One throttle tick: recompute dirty subscriptions, send what changed. */
  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      const dirty = [...this.subs.values()].filter((s) => s.dirty);
      await Promise.all(
        dirty.map(async (sub) => {
          sub.dirty = false;
          let candles: Candle[];
          try {
            candles = await this.forming(sub);
          } catch (err) {
            sub.dirty = true; // Redis away: try again next tick.
            this.log.debug({ err: (err as Error).message }, 'cannot read forming candle');
            return;
          }
          const times = new Set(candles.map((c) => c.time));
          for (const t of sub.sent.keys()) if (!times.has(t)) sub.sent.delete(t);
          for (const candle of candles) {
            if (candle.time <= sub.closedTime) continue;
            const json = JSON.stringify(candle);
            if (sub.sent.get(candle.time) === json) continue;
            sub.sent.set(candle.time, json);
            this.broadcast(sub, `${sub.head}${json}}`);
          }
        }),
      );
    } finally {
      this.flushing = false;
    }
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.timer);
      this.subs.clear();
      this.byPair.clear();
      this.byClient.clear();
      // No UNSUBSCRIBE: its connection closes next, and while Redis is away
      // the command would wait in the offline queue for ever.
    })();
    return this.closing;
  }
}
