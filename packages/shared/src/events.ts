/**
 * Messages on the deployment's pub/sub channel (`Keys.events()`), which feed
 * the live WebSocket of every API process: the ingester says which pairs got
 * trades (so forming candles are recomputed, throttled, by the API), the
 * worker sends each closed or revised candle.
 */
import type { Candle } from './candle.js';

export type LiveEvent =
  /** Pairs that got new trades in one write of the ingester. */
  | { readonly type: 'ticks'; readonly pairs: readonly string[] }
  /** A candle just closed, or a closed one was revised by a late trade. */
  | { readonly type: 'closed' | 'revised'; readonly pair: string; readonly period: string; readonly candle: Candle }
  /** Candles in [from, to) changed and were not each sent (a catch-up of thousands): read them over HTTP. */
  | { readonly type: 'gap'; readonly pair: string; readonly period: string; readonly from: number; readonly to: number };

export function parseLiveEvent(text: string): LiveEvent | undefined {
  try {
    const e = JSON.parse(text) as LiveEvent;
    if (e.type === 'ticks' && Array.isArray(e.pairs)) return e;
    if ((e.type === 'closed' || e.type === 'revised') && typeof e.pair === 'string' && typeof e.period === 'string' && e.candle) return e;
    if (e.type === 'gap' && typeof e.pair === 'string' && typeof e.period === 'string' && Number.isFinite(e.from) && Number.isFinite(e.to)) return e;
  } catch {
    // Not ours: ignore.
  }
  return undefined;
}
