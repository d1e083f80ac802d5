/** The WebSocket protocol of DESIGN.md: what clients send, what they get. */
import { z } from 'zod';
import type { Candle } from '@candlestack/shared';

export const clientMessage = z.object({
  op: z.enum(['subscribe', 'unsubscribe']),
  pair: z.string().max(64),
  period: z.string().max(16),
});
export type ClientMessage = z.infer<typeof clientMessage>;

export type ServerMessage =
  | { type: 'subscribed' | 'unsubscribed'; pair: string; period: string }
  | { type: 'candle'; pair: string; period: string; candle: Candle }
  /** Candles in [from, to) changed and were not each sent: read them over HTTP (DESIGN.md). */
  | { type: 'gap'; pair: string; period: string; from: number; to: number }
  | { type: 'error'; message: string };

/** Close codes (4000-4999 are the application's own). */
export const CLOSE = {
  /** The client did not read fast enough: its send buffer passed the limit. */
  slowConsumer: { code: 4008, reason: 'slow consumer: too much unread data' },
  /** The server is shutting down; reconnect later. */
  goingAway: { code: 1001, reason: 'server shutting down' },
} as const;

export interface LiveLimits {
  /** Largest client message, bytes (larger: the connection closes with 1009). */
  readonly maxMessageBytes: number;
  readonly maxSubscriptions: number;
  /** Unsent bytes a client may have before it is dropped as a slow consumer. */
  readonly maxBufferedBytes: number;
  /** Connections per client address. */
  readonly maxConnectionsPerAddress: number;
  /** Messages of one connection received but not yet answered; past it, an error. */
  readonly maxPendingMessages: number;
  /** Ping interval; a peer that has not answered the previous ping is dropped. */
  readonly pingMs: number;
  /** Least time between two forming-candle messages of one subscription. */
  readonly throttleMs: number;
  /**
   * Subscribe and unsubscribe messages per connection: a token bucket that
   * refills at `opsPerSecond` and holds at most `opsBurst`; past it, an
   * error message, and the connection stays open.
   */
  readonly opsPerSecond: number;
  readonly opsBurst: number;
}

export const DEFAULT_LIMITS: LiveLimits = {
  maxMessageBytes: 4096,
  maxSubscriptions: 100,
  maxBufferedBytes: 1 << 20,
  maxConnectionsPerAddress: 50,
  maxPendingMessages: 64,
  pingMs: 30_000,
  throttleMs: 250,
  opsPerSecond: 20,
  // As many as the subscriptions allowed: a client that (re)connects may
  // subscribe all of them at once.
  opsBurst: 100,
};

/**
 * Every `type` the server sends, at run time (docs/websocket.md documents
 * each; test/docs.test.ts checks both ways). The check below fails to
 * compile when ServerMessage gains or loses a type and this list does not.
 */
export const SERVER_MESSAGE_TYPES = ['subscribed', 'unsubscribed', 'candle', 'gap', 'error'] as const;
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const serverTypesComplete: Same<(typeof SERVER_MESSAGE_TYPES)[number], ServerMessage['type']> = true;
void serverTypesComplete;
