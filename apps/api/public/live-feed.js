// @ts-check
/**
 * The page's one WebSocket to /ws (docs/websocket.md), following one pair and
 * period at a time. It reconnects by itself, backing off exponentially up
 * to 30 s (reset once the server answers), resubscribes, and tells the page
 * it reconnected so the page can refetch what it missed while away.
 */

/** @typedef {import('./chart-data.js').Candle} Candle */
/** @typedef {'connecting' | 'live' | 'reconnecting'} FeedState */

/**
 * @typedef {object} FeedEvents
 * @property {(state: FeedState, retryInMs?: number) => void} onState
 * @property {(pair: string, period: string, candle: Candle) => void} onCandle
 * @property {(pair: string, period: string, from: number, to: number) => void} onGap candles in [from, to) changed and were not each sent: read them again
 * @property {(pair: string, period: string, again: boolean) => void} onSubscribed
 *   again: the first answer after a reconnect, so candles may have been missed
 * @property {(message: string) => void} onServerError
 */

const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 30_000;

/** The `ws` beside the page (ws: or wss: as the page is http: or https:). */
export function liveUrl(page = window.location.href) {
  const url = new URL('ws', page);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.search = '';
  return url.href;
}

export class LiveFeed {
  /** @type {WebSocket | undefined} */
  #ws;
  /** @type {{ pair: string, period: string } | undefined} */
  #want;
  #attempt = 0;
  /** Set once a connection was lost: the next `subscribed` is a resubscription. */
  #lost = false;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #retry;
  #stopped = false;

  /** @param {string} url @param {FeedEvents} events */
  constructor(url, events) {
    this.url = url;
    this.events = events;
    // Back from offline (or a sleeping laptop): try now rather than at the backoff's next turn.
    window.addEventListener('online', () => this.#reconnectNow());
  }

  start() {
    this.#connect();
  }

  /** Follows this pair and period instead of the previous one. @param {string} pair @param {string} period */
  follow(pair, period) {
    const old = this.#want;
    if (old && old.pair === pair && old.period === period) return;
    this.#want = { pair, period };
    if (this.#ws?.readyState !== WebSocket.OPEN) return; // subscribed on open
    if (old) this.#send({ op: 'unsubscribe', ...old });
    this.#send({ op: 'subscribe', pair, period });
  }

  stop() {
    this.#stopped = true;
    clearTimeout(this.#retry);
    this.#ws?.close();
  }

  #connect() {
    clearTimeout(this.#retry);
    this.#retry = undefined;
    this.events.onState(this.#lost ? 'reconnecting' : 'connecting');
    const ws = new WebSocket(this.url);
    this.#ws = ws;
    ws.addEventListener('open', () => {
      if (this.#want) this.#send({ op: 'subscribe', ...this.#want });
    });
    ws.addEventListener('message', (e) => this.#onMessage(e));
    // An error is always followed by a close; the close alone decides what next.
    ws.addEventListener('close', () => {
      if (this.#ws !== ws) return;
      this.#ws = undefined;
      this.#lost = true;
      if (!this.#stopped) this.#scheduleRetry();
    });
  }

  #scheduleRetry() {
    const base = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** this.#attempt);
    // Jitter, so a restarted API is not met by every open page at the same instant.
    const delay = Math.round(base * (0.8 + Math.random() * 0.4));
    this.#attempt++;
    this.events.onState('reconnecting', delay);
    this.#retry = setTimeout(() => this.#connect(), delay);
  }

  #reconnectNow() {
    if (this.#stopped || this.#retry === undefined) return;
    this.#attempt = 0;
    this.#connect();
  }

  /** @param {object} msg */
  #send(msg) {
    this.#ws?.send(JSON.stringify(msg));
  }

  /** @param {MessageEvent} e */
  #onMessage(e) {
    /** @type {any} */
    let msg;
    try {
      msg = JSON.parse(String(e.data));
    } catch {
      console.warn('live feed: a message that is not JSON', e.data);
      return;
    }
    // The server answers: the backoff starts over at the next loss.
    this.#attempt = 0;
    const want = this.#want;
    const current = want && msg.pair === want.pair && msg.period === want.period;
    switch (msg.type) {
      case 'subscribed':
        if (!current) return;
        this.events.onState('live');
        this.events.onSubscribed(msg.pair, msg.period, this.#lost);
        this.#lost = false;
        return;
      case 'candle':
        // Candles of the previous subscription can still be on their way after an unsubscribe.
        if (current && msg.candle) this.events.onCandle(msg.pair, msg.period, msg.candle);
        return;
      case 'gap':
        if (current && Number.isFinite(msg.from) && Number.isFinite(msg.to)) this.events.onGap(msg.pair, msg.period, msg.from, msg.to);
        return;
      case 'error':
        this.events.onServerError(String(msg.message));
        return;
      default:
        // Newer servers may send more kinds of message; not an error.
        return;
    }
  }
}
