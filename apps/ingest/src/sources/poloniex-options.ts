/**
 * The live source's settings: where Poloniex is, which pairs, and the timing
 * knobs (tests shorten them; production keeps the defaults).
 */
import type { BackoffOptions } from '@candlestack/shared';
import type { HistoryOptions } from './poloniex-history.js';
import { REST_TRADES_LIMIT } from './poloniex-rest.js';

export interface PoloniexOptions {
  readonly wsUrl: string;
  readonly restUrl: string;
  /** Pairs to follow, or every tradable symbol of `GET /markets`. */
  readonly pairs: readonly string[] | 'all';
  /** Interval between pings (ms). Poloniex drops a session silent for 30 s; default 15 s. */
  readonly pingIntervalMs?: number;
  /** A ping not answered within this (ms) means a dead connection; default 10 s. */
  readonly pongTimeoutMs?: number;
  /** Subscriptions not acknowledged within this (ms) mean a broken session; default 10 s. */
  readonly ackTimeoutMs?: number;
  /** Opening handshake limit (ms); default 10 s. */
  readonly handshakeTimeoutMs?: number;
  /** Reconnect delays; default 500 ms doubling to 30 s. */
  readonly reconnect?: BackoffOptions;
  /** Limit of every REST call (ms); default 10 s. */
  readonly restTimeoutMs?: number;
  /** REST retry delays; default 1 s doubling to 30 s. */
  readonly restRetry?: BackoffOptions;
  /** REST calls at once during a backfill of many pairs; default 4. */
  readonly restConcurrency?: number;
  /** Trades asked of `GET /markets/{symbol}/trades`; default (and Poloniex's maximum) 1000. */
  readonly backfillLimit?: number;
  /** How long start() waits for the first subscription before returning anyway (ms); default 15 s. */
  readonly startTimeoutMs?: number;
  /** Symbols per subscribe request; default 100. */
  readonly subscribeBatch?: number;
  /** HISTORY (ms): on a pair's first start, how far back to import the exchange's candles; default 0 (none). */
  readonly historyMs?: number;
  /** The import's knobs (tests shorten them): batch, pacing, settling, giving up. */
  readonly history?: Omit<HistoryOptions, 'historyMs'>;
  /** Jitter source (tests). */
  readonly random?: () => number;
}

export type PoloniexSettings = Required<Omit<PoloniexOptions, 'random' | 'history'>> & Pick<PoloniexOptions, 'random' | 'history'>;

export function withDefaults(o: PoloniexOptions): PoloniexSettings {
  return {
    ...o,
    pingIntervalMs: o.pingIntervalMs ?? 15_000,
    pongTimeoutMs: o.pongTimeoutMs ?? 10_000,
    ackTimeoutMs: o.ackTimeoutMs ?? 10_000,
    handshakeTimeoutMs: o.handshakeTimeoutMs ?? 10_000,
    reconnect: o.reconnect ?? { initialMs: 500, maxMs: 30_000 },
    restTimeoutMs: o.restTimeoutMs ?? 10_000,
    restRetry: o.restRetry ?? { initialMs: 1_000, maxMs: 30_000 },
    restConcurrency: Math.max(1, o.restConcurrency ?? 4),
    backfillLimit: Math.min(REST_TRADES_LIMIT, o.backfillLimit ?? REST_TRADES_LIMIT),
    startTimeoutMs: o.startTimeoutMs ?? 15_000,
    subscribeBatch: Math.max(1, o.subscribeBatch ?? 100),
    historyMs: Math.max(0, o.historyMs ?? 0),
  };
}
