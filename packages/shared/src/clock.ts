/**
 * Time moves with the source (docs/api.md). A live source (Poloniex, the
 * simulated market) runs on the wall clock; a replay runs on its trades'
 * times, and when it has reached the end of its file every bucket it touched
 * closes. The ingester writes its clock to Redis; the worker and the API read
 * it to know which buckets have ended.
 */
import type { PeriodPlan } from './period.js';

export type SourceKind = 'poloniex' | 'simulated' | 'replay';

export interface SourceClock {
  readonly source: SourceKind | 'unknown';
  /** For a replay: the latest trade time written so far (ms); else undefined. */
  readonly replayTime?: number;
  /** For a replay: true once the whole file has been written. */
  readonly done: boolean;
}

export const LIVE_CLOCK: SourceClock = { source: 'unknown', done: false };

export function clockFromHash(h: Record<string, string>): SourceClock {
  const source = (['poloniex', 'simulated', 'replay'] as const).find((s) => s === h.source) ?? 'unknown';
  if (source !== 'replay') return { source, done: false };
  const t = Number(h.time);
  return { source, replayTime: Number.isFinite(t) && h.time !== '' ? t : undefined, done: h.done === '1' };
}

/** The source's "now": the wall clock, or for a replay its latest trade time. */
export function sourceNow(clock: SourceClock, wallNow = Date.now()): number | undefined {
  return clock.source === 'replay' ? clock.replayTime : wallNow;
}

/**
 * For each period of the plan's chain, the start of the last bucket that may
 * close now, or undefined if none may: a bucket closes once it has ended and
 * `graceMs` has passed; a finished replay closes every bucket it touched.
 */
export function closeLimits(
  plan: PeriodPlan,
  clock: SourceClock,
  graceMs: number,
  wallNow = Date.now(),
): Map<number, number | undefined> {
  const now = sourceNow(clock, wallNow);
  const out = new Map<number, number | undefined>();
  for (const { ms } of plan.chain) {
    if (now === undefined) out.set(ms, undefined);
    else if (clock.source === 'replay' && clock.done) out.set(ms, Math.floor(now / ms) * ms);
    else out.set(ms, Math.floor((now - graceMs) / ms) * ms - ms);
  }
  return out;
}
