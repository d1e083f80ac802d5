/**
 * What the feed knows: per pair, the newest `count` candles, merged from
 * history (HTTP) and pushes (WebSocket). No I/O, so the merge rules are
 * tested on their own.
 *
 * History and pushes race: a push can arrive before the history fetched
 * after it, or describe an older state of the same candle. A candle only
 * ever gains trades, and a closed one never reopens, so the version with
 * fewer trades, or a forming one where a closed one is known, is stale
 * whatever the order of arrival.
 */
import type { Candle } from '@candlestack/shared';
import type { SourceInfo } from './messages.js';

export type ConnectionStatus =
  | { readonly kind: 'connecting' }
  | { readonly kind: 'live' }
  | {
      readonly kind: 'reconnecting';
      /** Failed attempts since the connection was lost. */
      readonly attempt: number;
      /** Wall time of the next attempt. */
      readonly retryAt: number;
      readonly reason: string;
    };

interface PairCandles {
  /** What is shown, by bucket start. */
  shown: Map<number, Candle>;
  /**
   * From a connection's opening until its history of the pair is in: what
   * had been reported before, and the pushes since (replayed over that
   * history, then reported with it in time order).
   */
  session: { readonly reported: Map<number, Candle>; readonly pushes: Map<number, Candle> } | undefined;
}

export interface PairView {
  readonly pair: string;
  /** Oldest first, at most `count`; undefined while the history is loading. */
  readonly candles: readonly Candle[] | undefined;
}

/** True when `next` is a newer (or the same) state of the candle `prev`. */
export function supersedes(prev: Candle, next: Candle): boolean {
  if (next.trades < prev.trades) return false;
  return !(prev.closed && !next.closed);
}

const same = (a: Candle, b: Candle) =>
  a.open === b.open &&
  a.high === b.high &&
  a.low === b.low &&
  a.close === b.close &&
  a.volume === b.volume &&
  a.quoteVolume === b.quoteVolume &&
  a.trades === b.trades &&
  a.closed === b.closed;

export class FeedState {
  status: ConnectionStatus = { kind: 'connecting' };
  source: SourceInfo | null = null;
  /** The last thing the server objected to, shown until the next (re)connect. */
  problem: string | undefined;
  private readonly pairs = new Map<string, PairCandles>();

  constructor(readonly count: number) {}

  setStatus(status: ConnectionStatus): void {
    this.status = status;
    if (status.kind === 'live') this.problem = undefined;
  }

  setSource(source: SourceInfo | null): void {
    this.source = source;
  }

  setProblem(problem: string): void {
    this.problem = problem;
  }

  /** Adds pairs not seen before (pairs are never dropped: a quiet pair stays on screen). */
  addPairs(pairs: readonly string[]): void {
    for (const pair of pairs) {
      if (!this.pairs.has(pair)) this.pairs.set(pair, { shown: new Map(), session: { reported: new Map(), pushes: new Map() } });
    }
  }

  /** A new connection: each pair's next history replaces what is held (the API may have restarted on other data). */
  beginSession(): void {
    for (const p of this.pairs.values()) p.session = { reported: new Map(p.shown), pushes: new Map() };
  }

  /** The history fetched for `pair`; returns what changed since last reported, oldest first. */
  history(pair: string, candles: readonly Candle[]): Candle[] {
    const p = this.pairs.get(pair);
    if (!p) return [];
    const reported = p.session?.reported ?? p.shown;
    const next = new Map<number, Candle>();
    for (const c of candles) this.merge(next, c);
    for (const c of p.session?.pushes.values() ?? []) this.merge(next, c);
    p.shown = next;
    p.session = undefined;
    return sorted(next).filter((c) => {
      const old = reported.get(c.time);
      return !old || !same(old, c);
    });
  }

  /**
   * A pushed candle, shown at once; returned when it is a change to report,
   * which waits while the pair's history is loading (so reports stay in time order).
   */
  candle(pair: string, candle: Candle): Candle[] {
    const p = this.pairs.get(pair);
    if (!p) return [];
    const changed = this.merge(p.shown, candle);
    if (p.session) {
      this.merge(p.session.pushes, candle);
      return [];
    }
    return changed ? [candle] : [];
  }

  view(): PairView[] {
    return [...this.pairs].map(([pair, p]) => ({
      pair,
      candles: p.session && p.shown.size === 0 ? undefined : sorted(p.shown),
    }));
  }

  /** Keeps the newer state of each candle, and only the newest `count` candles. */
  private merge(candles: Map<number, Candle>, c: Candle): boolean {
    const old = candles.get(c.time);
    if (old && (!supersedes(old, c) || same(old, c))) return false;
    if (!old && candles.size >= this.count && c.time < Math.min(...candles.keys())) return false;
    candles.set(c.time, c);
    // A new bucket pushes the oldest off the table.
    while (candles.size > this.count) candles.delete(Math.min(...candles.keys()));
    return true;
  }
}

const sorted = (m: Map<number, Candle>) => [...m.values()].sort((a, b) => a.time - b.time);
