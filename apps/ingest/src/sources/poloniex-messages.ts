/**
 * Poloniex's public API v3, as data: what its WebSocket frames and REST
 * bodies mean, with no I/O. Field meanings (checked against recorded sessions):
 * `quantity` is the base volume and `amount` the quote volume (two
 * well-known client libraries swap them), `createTime` is the trade time
 * (`ts` is only when the message was pushed), `id` rises by one per trade of
 * a symbol. The REST API writes `takerSide` in upper case; toTick lowers it.
 */
import type { RawTrade } from '@candlestack/shared';

/** Something that could not be used, with a sample for the log and the dead-letter stream. */
export interface Rejected {
  readonly reason: string;
  readonly sample: string;
}

export type WsMessage =
  | { readonly kind: 'trades'; readonly trades: readonly RawTrade[]; readonly rejected: readonly Rejected[] }
  /** The ack of a subscribe request: the channel as a string, the symbols repeated. */
  | { readonly kind: 'subscribed'; readonly channel: string; readonly symbols: readonly string[] }
  /** The ack of an unsubscribe request, in the same shape. */
  | { readonly kind: 'unsubscribed'; readonly channel: string; readonly symbols: readonly string[] }
  | { readonly kind: 'pong' }
  | { readonly kind: 'error'; readonly message: string }
  /** Valid JSON or not, nothing this client asked for. */
  | { readonly kind: 'unexpected'; readonly reason: string };

export const PING = '{"event":"ping"}';

/** The subscribe request this client sends, key order as Poloniex documents it. */
export function subscribeRequest(symbols: readonly string[]): string {
  return JSON.stringify({ event: 'subscribe', channel: ['trades'], symbols });
}

/** Its counterpart, when another ingester is to follow the pairs. */
export function unsubscribeRequest(symbols: readonly string[]): string {
  return JSON.stringify({ event: 'unsubscribe', channel: ['trades'], symbols });
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export const sample = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v) ?? String(v)).slice(0, 2000);

export function parseWsMessage(text: string): WsMessage {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    return { kind: 'unexpected', reason: 'frame is not JSON' };
  }
  if (!isObject(msg)) return { kind: 'unexpected', reason: 'frame is not a JSON object' };
  if (typeof msg.event === 'string') {
    switch (msg.event) {
      case 'pong':
        return { kind: 'pong' };
      case 'error':
        return { kind: 'error', message: typeof msg.message === 'string' ? msg.message : sample(msg) };
      case 'subscribe':
      case 'unsubscribe': {
        const channel = Array.isArray(msg.channel) ? msg.channel[0] : msg.channel;
        const symbols = Array.isArray(msg.symbols) ? msg.symbols.filter((s): s is string => typeof s === 'string') : [];
        if (typeof channel !== 'string') return { kind: 'unexpected', reason: `${msg.event} ack without a channel` };
        return { kind: msg.event === 'subscribe' ? 'subscribed' : 'unsubscribed', channel, symbols };
      }
      default:
        return { kind: 'unexpected', reason: `event "${msg.event}" not expected` };
    }
  }
  if (msg.channel === 'trades') {
    if (!Array.isArray(msg.data)) return { kind: 'unexpected', reason: 'trades message without a data list' };
    const trades: RawTrade[] = [];
    const rejected: Rejected[] = [];
    for (const el of msg.data) {
      if (isObject(el)) trades.push(wsTrade(el));
      else rejected.push({ reason: 'trade is not a JSON object', sample: sample(el) });
    }
    return { kind: 'trades', trades, rejected };
  }
  if (typeof msg.channel === 'string') return { kind: 'unexpected', reason: `channel "${msg.channel}" not subscribed` };
  return { kind: 'unexpected', reason: 'frame has neither an event nor a channel' };
}

/** One element of a `trades` message's `data`. Values are checked later, by toTick. */
export function wsTrade(el: Record<string, unknown>): RawTrade {
  return {
    pair: el.symbol,
    time: el.createTime,
    price: el.price,
    quantity: el.quantity,
    amount: el.amount,
    side: el.takerSide,
    id: el.id,
  };
}

export class RestShapeError extends Error {
  constructor(
    message: string,
    readonly sample: string,
  ) {
    super(message);
  }
}

/** The body of `GET /markets/{symbol}/trades` (newest first), oldest first. */
export function parseRestTrades(pair: string, body: unknown): { trades: RawTrade[]; rejected: Rejected[] } {
  if (!Array.isArray(body)) throw new RestShapeError(`REST trades of ${pair}: the body is not a list`, sample(body));
  const trades: RawTrade[] = [];
  const rejected: Rejected[] = [];
  for (const el of body) {
    if (!isObject(el)) {
      rejected.push({ reason: 'REST trade is not a JSON object', sample: sample(el) });
      continue;
    }
    // Same fields as the WebSocket's, but REST rows carry no symbol.
    trades.push({ ...wsTrade(el), pair });
  }
  return { trades: trades.reverse(), rejected };
}

export interface Market {
  readonly symbol: string;
  /** False when the response gives a state other than NORMAL (paused, post-only, delisted...). */
  readonly tradable: boolean;
  readonly state?: string;
}

/** The body of `GET /markets`. */
export function parseMarkets(body: unknown): Market[] {
  if (!Array.isArray(body)) throw new RestShapeError('REST markets: the body is not a list', sample(body));
  const out: Market[] = [];
  for (const el of body) {
    if (!isObject(el) || typeof el.symbol !== 'string') continue;
    const state = typeof el.state === 'string' ? el.state : undefined;
    out.push(state === undefined ? { symbol: el.symbol, tradable: true } : { symbol: el.symbol, tradable: state === 'NORMAL', state });
  }
  return out;
}

/** A trade id as a number to compare, when it is one (Poloniex's are, +1 per trade). */
export function tradeId(id: unknown): bigint | undefined {
  if (typeof id === 'string' && /^\d{1,40}$/.test(id)) return BigInt(id);
  if (typeof id === 'number' && Number.isSafeInteger(id) && id >= 0) return BigInt(id);
  return undefined;
}
