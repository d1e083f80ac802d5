/**
 * What every source implements: a new exchange or file format is a new file
 * in sources/, not a branch spread over the ingester.
 */
import type { HistoryStore, Logger, RawTrade, SourceKind, SourceState } from '@candlestack/shared';

/** Where a live exchange source keeps a pair's imported history (history.ts in shared): the store's own steps, and the periods built. */
export type HistorySink = Pick<HistoryStore, 'plan' | 'state' | 'begin' | 'write' | 'finish' | 'abandon' | 'boundary'>;

/** Where a replay stands in its file (see replay.ts). */
export interface ReplayMark {
  /** Position of the first item handed over from this line on (line * 65536 + index in the line). */
  readonly pos: number;
  /** The line's number (from 1) and its start (bytes into the file, after gunzip). */
  readonly line: number;
  readonly offset: number;
}

/** What the ingester stored of an earlier run of the same file. */
export interface ReplayResume {
  readonly line: number;
  readonly offset: number;
  readonly done: boolean;
}

export interface SourceSink {
  /**
   * Trades as read; the ingester validates each and sets bad ones aside.
   * Resolves when there is room for more: a finite source (a replay) awaits
   * it, so reading never outruns Redis; a live source need not. A replay
   * gives each trade's position in its file, and where the batch starts.
   */
  trades(trades: readonly RawTrade[], replay?: { readonly positions: readonly number[]; readonly mark: ReplayMark }): Promise<void>;
  /**
   * A message that could not be understood: counted, logged once per kind,
   * set aside. A replay gives its position, and awaits the promise so that
   * reading never outruns the dead letters' writes; a live source need not.
   */
  malformed(reason: string, sample: string, pos?: number): Promise<void>;
  /**
   * For a replay, before it reads: its file's fingerprint. Resolves with
   * where an earlier run of the same file got to, or undefined to start at
   * the beginning.
   */
  resume?(fingerprint: string, file: string): Promise<ReplayResume | undefined>;
  /** Connection state changes; shown by /readyz and the dashboard. */
  status(state: SourceState, detail: string): void;
  /** Trades known to be missed: a gap the exchange could not fill. Counted, logged, never hidden. */
  gap(pair: string, missed: number, detail: string): void;
  /**
   * The newest trade the store already holds for the pair (its id, and the
   * time of the pair's latest trade), so a live source that restarts can
   * backfill from there. Undefined when the store has nothing of the pair.
   */
  lastTrade?(pair: string): Promise<{ readonly id?: string; readonly time?: number } | undefined>;
  /**
   * For a source that follows pairs by lease (one that has `follow`): once it
   * knows the pairs it could follow, before it subscribes. Resolves with the
   * ones this ingester holds (its share; none when the others hold them all).
   */
  claim?(pairs: readonly string[]): Promise<readonly string[]>;
  /** For a live exchange source: where it imports a pair's history before following it (docs/history.md). */
  readonly history?: HistorySink;
  /** For a replay: every trade up to `time` has been handed over (the replay's clock). */
  clock?(time: number): void;
  readonly log: Logger;
}

export interface Source {
  readonly kind: SourceKind;
  /**
   * Starts delivering; resolves with the pairs it follows once it knows them
   * (PAIRS=all asks the exchange, a replay reads its file). Rejects with a
   * clear message when it cannot start (an unknown pair, a missing file).
   */
  start(sink: SourceSink): Promise<string[]>;
  /**
   * A source whose pairs several ingesters share, each pair followed by the
   * one holding its lease (see pair-leases.ts): follows exactly these pairs
   * from now on, subscribing the new ones (with a backfill from the last
   * trade stored) and unsubscribing the others; resolves once the exchange
   * has answered (or the connection is gone). A source without it is one
   * process's job (see source-lease.ts).
   */
  follow?(pairs: readonly string[]): Promise<void>;
  /** For a finite source: resolves once everything has been handed over. */
  readonly finished?: Promise<void>;
  /** Stops; idempotent. */
  close(): Promise<void>;
}
