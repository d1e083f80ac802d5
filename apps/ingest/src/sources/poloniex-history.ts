/**
 * History on a pair's first start (docs/history.md): before the Poloniex
 * source follows a pair that has nothing stored, it imports the exchange's
 * own candles for HISTORY, so a chart has its past from the first minute.
 *
 * - One period is imported: the shortest of PERIODS that Poloniex serves
 *   (MINUTE_1 for `1m`); the periods rolled up from it get their history as
 *   roll-ups of it, as usual. The start is HISTORY ago, taken back to the
 *   start of the longest such period's bucket, so every imported bucket of
 *   every period is whole.
 * - Up to the last bucket that ended at least `settleMs` ago (the exchange
 *   has settled its candle): the next bucket, the boundary, is where live
 *   data begins. It is built from trades: the backfill that follows the
 *   subscription hands over the exchange's REST trades from the boundary's
 *   start, and says whether they reached back that far (exact) or not.
 * - Paced (POLONIEX_HISTORY_RATE requests a second at most, under the 6 a
 *   second Poloniex asks of public clients), a 429 waited out, other
 *   failures retried with a growing backoff; after `giveUpMs` of failures
 *   the import is given up and the pair starts with live data alone.
 * - Each request's candles are stored with the import's progress, in one
 *   script: an import interrupted (a crash, a lost lease) continues where
 *   it got to, by whichever ingester follows the pair next. Once a trade of
 *   the pair is stored, nothing is imported for it again.
 */
import {
  Backoff,
  CandleShapeError,
  HistoryRefused,
  Pacer,
  POLONIEX_CANDLES_LIMIT,
  POLONIEX_INTERVALS,
  RestError,
  Sleeper,
  pacedRequest,
  periodLabel,
  periodsFromHistory,
  type ExchangeCandle,
  type Logger,
  type PeriodPlan,
  type PoloniexCandles,
} from '@candlestack/shared';
import type { HistorySink } from '../source.js';

export interface HistoryOptions {
  /** HISTORY: how far back to import (ms); 0: never. */
  readonly historyMs: number;
  /** Buckets per request (default and Poloniex's most: 500). */
  readonly batch?: number;
  /** Requests a second at most (default 3). */
  readonly ratePerSecond?: number;
  /** Import only buckets that ended at least this long ago (default 5 s). */
  readonly settleMs?: number;
  /** Failures (other than 429s waited out) for this long give the import of a pair up (default 2 min). */
  readonly giveUpMs?: number;
  /** Retry delays after a failure (default 1 s doubling to 30 s). */
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
  /** How often progress is logged while importing (default 10 s). */
  readonly progressMs?: number;
  readonly now?: () => number;
  readonly random?: () => number;
}

/** What came of a pair's import. */
export type ImportOutcome =
  /** History is stored up to `boundary`; live data begins there (`exact` known once the boundary's trades were loaded). */
  | { readonly kind: 'imported'; readonly boundary: number; readonly periodMs: number; readonly exact?: boolean }
  /** Nothing to import (trades stored, HISTORY=0, no period Poloniex serves) or given up: live data alone. */
  | { readonly kind: 'live' }
  /** Stopped half way (closing, or the pair is no longer this ingester's): the next to follow it resumes. */
  | { readonly kind: 'stopped' };

class GiveUp extends Error {}

/** The period to import for this plan: the shortest built that Poloniex serves (undefined: none). */
export function importPeriod(plan: PeriodPlan): number | undefined {
  return plan.chain.map((c) => c.ms).find((ms) => POLONIEX_INTERVALS.has(ms));
}

export class HistoryImporter {
  private readonly pacer: Pacer;
  private readonly sleeper = new Sleeper();
  private readonly now: () => number;
  private readonly batch: number;
  private closed = false;
  private noPeriodSaid = false;
  /** Progress of the imports under way, for the log. */
  private readonly progress = { pairs: 0, done: 0, requests: 0, since: 0, lastLog: 0 };

  constructor(
    private readonly exchange: PoloniexCandles,
    private readonly sink: HistorySink,
    private readonly log: Logger,
    private readonly opts: HistoryOptions,
    /** An answer that is not the candle list: counted and set aside like any malformed message. */
    private readonly malformed: (reason: string, sample: string) => void = () => undefined,
  ) {
    this.now = opts.now ?? Date.now;
    this.batch = Math.max(1, Math.min(POLONIEX_CANDLES_LIMIT, opts.batch ?? POLONIEX_CANDLES_LIMIT));
    this.pacer = new Pacer(opts.ratePerSecond ?? 3, { now: () => this.now(), sleep: (ms) => this.sleeper.sleep(ms) });
  }

  /** Counts pairs about to be imported, for the progress lines. */
  queued(n: number): void {
    if (this.progress.pairs === this.progress.done) Object.assign(this.progress, { pairs: 0, done: 0, requests: 0, since: this.now(), lastLog: this.now() });
    this.progress.pairs += n;
  }

  /**
   * Imports the pair's history if it has none and nothing stored (or
   * resumes an import begun earlier). `wanted` is asked between requests:
   * false stops the import where it got to.
   */
  async run(pair: string, wanted: () => boolean): Promise<ImportOutcome> {
    try {
      return await this.runPair(pair, wanted);
    } finally {
      this.progress.done++;
      if (this.progress.done === this.progress.pairs && this.progress.pairs > 1) {
        this.log.info(
          { pairs: this.progress.pairs, requests: this.progress.requests, seconds: Math.round((this.now() - this.progress.since) / 1000) },
          `history import finished for ${this.progress.pairs} pair(s): ${this.progress.requests} request(s) in ${Math.round((this.now() - this.progress.since) / 1000)} s`,
        );
      }
    }
  }

  private async runPair(pair: string, wanted: () => boolean): Promise<ImportOutcome> {
    let state = await this.sink.state(pair);
    if (state.status === 'stored') return { kind: 'live' };
    if (state.status === 'imported') return { kind: 'imported', boundary: state.boundary, periodMs: state.periodMs, ...(state.exact !== undefined && { exact: state.exact }) };
    if (state.status === 'none') {
      if (this.opts.historyMs <= 0) return { kind: 'live' };
      const ms = importPeriod(this.sink.plan);
      if (ms === undefined) {
        if (!this.noPeriodSaid) {
          this.noPeriodSaid = true;
          this.log.warn({ periods: this.sink.plan.periods.map((p) => p.label) }, 'no period of PERIODS is one Poloniex serves candles for (1m, 5m, 10m, 15m, 30m, 1h, 2h, 4h, 6h, 12h, 1d): no history is imported');
        }
        return { kind: 'live' };
      }
      const longest = Math.max(...periodsFromHistory(this.sink.plan, ms));
      const start = Math.floor((this.now() - this.opts.historyMs) / longest) * longest;
      state = await this.sink.begin(pair, start, ms);
      if (state.status === 'importing' && state.next === start) {
        this.log.info(
          { pair, from: new Date(start).toISOString(), period: periodLabel(ms) },
          `importing ${pair}'s history from Poloniex: ${periodLabel(ms)} candles since ${new Date(start).toISOString()}`,
        );
      }
    } else {
      this.log.info(
        { pair, from: new Date(state.start).toISOString(), at: new Date(state.next).toISOString(), period: periodLabel(state.periodMs) },
        `resuming the history import of ${pair} at ${new Date(state.next).toISOString()} (begun earlier, interrupted)`,
      );
    }
    if (state.status !== 'importing') return this.runPair(pair, wanted);
    return this.importFrom(pair, state.periodMs, state.next, wanted);
  }

  private async importFrom(pair: string, ms: number, from: number, wanted: () => boolean): Promise<ImportOutcome> {
    let next = from;
    try {
      for (;;) {
        if (this.closed || !wanted()) return { kind: 'stopped' };
        // The first bucket the exchange may not have settled yet: the boundary.
        const end = Math.floor((this.now() - (this.opts.settleMs ?? 5_000)) / ms) * ms;
        if (next >= end) break;
        const to = Math.min(end - ms, next + (this.batch - 1) * ms);
        const candles = await this.fetch(pair, ms, next, to);
        if (this.closed || !wanted()) return { kind: 'stopped' };
        await this.sink.write(pair, ms, next, to + ms, candles);
        next = to + ms;
        this.logProgress(pair, ms, next, end);
      }
      await this.sink.finish(pair, ms, next);
    } catch (err) {
      if (err instanceof HistoryRefused) {
        // Trades of the pair were stored meanwhile (another ingester followed it): its history is what it is.
        this.log.warn({ pair, state: err.state.status }, `history import of ${pair} stopped: ${err.message}`);
        return err.state.status === 'imported' ? { kind: 'imported', boundary: err.state.boundary, periodMs: err.state.periodMs } : { kind: 'live' };
      }
      if (err instanceof GiveUp) {
        await this.sink.abandon(pair, ms).catch(() => undefined);
        this.log.error(
          { pair, err: err.message },
          `history of ${pair} not imported: ${err.message}. It starts with live data alone`,
        );
        return { kind: 'live' };
      }
      throw err;
    }
    this.log.info(
      { pair, liveFrom: new Date(next).toISOString(), period: periodLabel(ms) },
      `history of ${pair} imported; live data begins with the ${periodLabel(ms)} bucket of ${new Date(next).toISOString()}`,
    );
    return { kind: 'imported', boundary: next, periodMs: ms };
  }

  private logProgress(pair: string, ms: number, next: number, end: number): void {
    const p = this.progress;
    const t = this.now();
    if (t - p.lastLog < (this.opts.progressMs ?? 10_000)) return;
    p.lastLog = t;
    const left = Math.ceil((end - next) / ms / this.batch);
    this.log.info(
      { pairs: p.pairs, done: p.done, requests: p.requests, pair, at: new Date(next).toISOString() },
      `importing history: ${p.done} of ${p.pairs} pair(s) done, ${p.requests} request(s) so far; ${pair} is at ${new Date(next).toISOString()} (about ${left} request(s) to go for it)`,
    );
  }

  /** The exchange's candles of `[from, to]`, paced; failures retried until `giveUpMs` of them (GiveUp). */
  private async fetch(pair: string, ms: number, from: number, to: number): Promise<ExchangeCandle[]> {
    const backoff = new Backoff(this.opts.backoff ?? { initialMs: 1_000, maxMs: 30_000 }, this.opts.random);
    let failingSince: number | undefined;
    for (;;) {
      try {
        return await pacedRequest(
          this.pacer,
          () => {
            this.progress.requests++;
            return this.exchange.candles(pair, ms, from, to);
          },
          {
            closed: () => this.closed,
            onRateLimited: (wait) =>
              this.log.warn({ pair, waitMs: wait }, `the exchange rate-limits the history import (429); waiting ${(wait / 1000).toFixed(1)} s`),
          },
        );
      } catch (err) {
        if (!(err instanceof RestError || err instanceof CandleShapeError) || this.closed) throw err;
        if (err instanceof CandleShapeError) this.malformed(`Poloniex candles of ${pair}: ${err.message}`, err.message);
        failingSince ??= this.now();
        const giveUp = this.opts.giveUpMs ?? 120_000;
        if (this.now() - failingSince >= giveUp) throw new GiveUp(`the exchange's candles could not be had for ${Math.round(giveUp / 1000)} s (${err.message})`);
        const delay = backoff.next();
        this.log.warn(
          { pair, err: err.message, attempt: backoff.failures, retryInMs: delay },
          `history import of ${pair}: the exchange's candles failed; retrying in ${(delay / 1000).toFixed(1)} s`,
        );
        await this.sleeper.sleep(delay);
      }
    }
  }

  close(): void {
    this.closed = true;
    this.sleeper.cancel();
  }
}
