/** The Poloniex source pointed at the stand-in, with timing knobs short enough for tests. */
import { PoloniexSource, type PoloniexOptions } from '../../src/sources/poloniex.js';
import type { PoloniexStandIn } from './poloniex-stand-in.js';

export const FAST = {
  pingIntervalMs: 300,
  pongTimeoutMs: 400,
  ackTimeoutMs: 1_000,
  handshakeTimeoutMs: 1_000,
  reconnect: { initialMs: 50, maxMs: 250 },
  restTimeoutMs: 500,
  restRetry: { initialMs: 50, maxMs: 250 },
  startTimeoutMs: 3_000,
} satisfies Partial<PoloniexOptions>;

export function liveSource(standIn: PoloniexStandIn, pairs: PoloniexOptions['pairs'], extra: Partial<PoloniexOptions> = {}): PoloniexSource {
  return new PoloniexSource({ wsUrl: standIn.wsUrl, restUrl: standIn.restUrl, pairs, ...FAST, ...extra });
}
