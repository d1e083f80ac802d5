/**
 * The audit (docs/audit.md): every closed candle of a period Poloniex also
 * serves is compared with the exchange's own candle for that bucket, soon
 * after it closes. Per pair and period a cursor (the last bucket audited)
 * says where the next batch starts; one REST call fetches the exchange's
 * candles of a whole batch. Requests are paced, and a 429 is waited out
 * (Retry-After, else a growing backoff) and asked again; any other failure
 * (the exchange away, a timeout, an answer we cannot read) counts the
 * batch's candles as unavailable and moves on. It runs in its own BullMQ
 * queue, never in a close job: the exchange's REST API being down never
 * holds up closing.
 */
import {
  AUDIT_KEEP,
  CandleShapeError,
  CandleStore,
  HistoryStore,
  Pacer,
  POLONIEX_CANDLES_LIMIT,
  POLONIEX_INTERVALS,
  RestError,
  Sleeper,
  compareCandles,
  defineScripts,
  pacedRequest,
  periodLabel,
  toCandle,
  type BackoffOptions,
  type ExchangeCandle,
  type Keys,
  type Logger,
  type PeriodPlan,
  type PoloniexCandles,
  type RedisClient,
  type StoredCandle,
} from '@candlestack/shared';

export interface AuditOptions {
  /** Buckets per request (default 100, at most Poloniex's 500). */
  readonly batch?: number;
  /** Requests per second at most (default 5). */
  readonly ratePerSecond?: number;
  /** Times a request answered 429 is asked again before its batch counts as unavailable (default 5). */
  readonly retries?: number;
  /** Waits after a 429 that gives no Retry-After (default 1 s doubling to 30 s). */
  readonly backoff?: BackoffOptions;
  /** Only buckets that ended at least this long ago (ms, default 5 s): the exchange's candle has settled. */
  readonly settleMs?: number;
  /** Where the audit waits (tests watch it); default a cancellable timer. */
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
}

export interface AuditRun {
  /** Why nothing was compared (not a live exchange), if so. */
  readonly skipped?: string;
  readonly requests: number;
  readonly rateLimited: number;
  readonly equal: number;
  readonly differs: number;
  readonly unavailable: number;
}

/** One entry of the differences stream, as GET /admin/audit shows it. */
export interface AuditDifference {
  readonly pair: string;
  readonly period: string;
  /** The bucket's start (ms). */
  readonly time: number;
  /** When the audit found it (ms). */
  readonly at: number;
  /** Our field names that differ. */
  readonly fields: readonly string[];
  readonly ours: ReturnType<typeof toCandle>;
  /** null: the exchange lists no candle for the bucket. */
  readonly exchange: ExchangeCandle | null;
}

/** The periods of the plan that Poloniex serves candles for. */
export function auditablePeriods(plan: PeriodPlan): number[] {
  return plan.periods.map((p) => p.ms).filter((ms) => POLONIEX_INTERVALS.has(ms));
}

type Tally = { -readonly [K in Exclude<keyof AuditRun, 'skipped'>]: AuditRun[K] };

export class Auditor {
  private readonly store: CandleStore;
  private readonly periods: number[];
  private readonly batch: number;
  private readonly history: HistoryStore;
  private readonly pacer: Pacer;
  private readonly sleeper = new Sleeper();
  private readonly now: () => number;
  private closed = false;
  /** Candles counted unavailable since the exchange last answered (one warning per outage, not per request). */
  private unavailableRun: number | undefined;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    plan: PeriodPlan,
    private readonly exchange: PoloniexCandles,
    private readonly log: Logger,
    private readonly opts: AuditOptions = {},
  ) {
    defineScripts(redis);
    this.store = new CandleStore(redis, keys, plan);
    this.history = new HistoryStore(redis, keys, plan);
    this.periods = auditablePeriods(plan);
    this.batch = Math.max(1, Math.min(POLONIEX_CANDLES_LIMIT, opts.batch ?? 100));
    this.now = opts.now ?? Date.now;
    this.pacer = new Pacer(opts.ratePerSecond ?? 5, { now: () => this.now(), sleep: opts.sleep ?? ((ms) => this.sleeper.sleep(ms)) });
  }

  /** One pass: for every pair and audited period, the next batch of closed candles not audited yet. */
  async run(): Promise<AuditRun> {
    const tally: Tally = { requests: 0, rateLimited: 0, equal: 0, differs: 0, unavailable: 0 };
    const clock = await this.store.readClock();
    if (clock.source !== 'poloniex') return { skipped: `the source is ${clock.source}, not a live exchange`, ...tally };
    const cursors = await this.redis.hgetall(this.keys.auditCursors());
    for (const pair of await this.store.pairs()) {
      const state = await this.store.state(pair);
      // Candles imported from the exchange are the exchange's: the audit starts where live data begins.
      const history = await this.history.state(pair);
      const liveFrom = history.status === 'imported' ? history.boundary : -Infinity;
      for (const ms of this.periods) {
        if (this.closed) return tally;
        const closedThrough = state.closedThrough.get(ms);
        if (closedThrough === undefined) continue;
        const field = `${pair}:${periodLabel(ms)}`;
        const last = Math.min(closedThrough, Math.floor((this.now() - (this.opts.settleMs ?? 5_000)) / ms) * ms - ms);
        const cursor = cursors[field];
        // First sight of this pair and period: the last batch's worth of closed buckets.
        const from = Math.max(
          cursor !== undefined ? Number(cursor) + ms : Math.max(last - (this.batch - 1) * ms, state.first === undefined ? last : Math.floor(state.first / ms) * ms),
          Math.floor(liveFrom / ms) * ms,
        );
        if (!(from <= last)) continue;
        const to = Math.min(last, from + (this.batch - 1) * ms);
        await this.audit(pair, ms, field, cursor ?? '', from, to, tally);
      }
    }
    return tally;
  }

  /** Stops waiting (shutdown); a run under way ends after its current batch. */
  close(): void {
    this.closed = true;
    this.sleeper.cancel();
  }

  private async audit(pair: string, ms: number, field: string, cursor: string, from: number, to: number, tally: Tally): Promise<void> {
    const ours = await this.store.closedCandles(pair, ms, { from, to: to + ms, limit: this.batch });
    let counts = { equal: 0, differs: 0, unavailable: 0 };
    const differences: string[] = [];
    if (ours.length > 0) {
      const theirs = await this.fetch(pair, ms, from, to, tally);
      if (theirs === undefined) {
        counts.unavailable = ours.length;
        this.unavailableRun = (this.unavailableRun ?? 0) + ours.length;
      } else {
        if (this.unavailableRun !== undefined) {
          this.log.info({ unavailable: this.unavailableRun }, `the exchange's candles answer again; ${this.unavailableRun} candle(s) were counted unavailable meanwhile`);
          this.unavailableRun = undefined;
        }
        const byTime = new Map(theirs.map((c) => [c.time, c]));
        for (const c of ours) {
          const ex = byTime.get(c.time);
          const cmp = compareCandles(c, ex);
          if (cmp.result === 'equal') counts.equal++;
          else {
            counts.differs++;
            differences.push(JSON.stringify(this.difference(pair, ms, c, ex, cmp.fields)));
          }
        }
      }
    }
    const recorded = await this.redis.auditRecord(
      this.keys.auditCursors(),
      this.keys.stats(),
      this.keys.auditDifferences(),
      field,
      cursor,
      to,
      counts.equal,
      counts.differs,
      counts.unavailable,
      AUDIT_KEEP,
      ...differences,
    );
    // Another worker's run recorded this batch first: it counts there.
    if (recorded !== 1) counts = { equal: 0, differs: 0, unavailable: 0 };
    tally.equal += counts.equal;
    tally.differs += counts.differs;
    tally.unavailable += counts.unavailable;
    if (counts.differs > 0) {
      this.log.warn({ pair, period: periodLabel(ms), differs: counts.differs, from, to }, `${counts.differs} closed ${periodLabel(ms)} candle(s) of ${pair} differ from the exchange's own (GET /admin/audit)`);
    }
  }

  private difference(pair: string, ms: number, ours: StoredCandle, ex: ExchangeCandle | undefined, fields: readonly string[]): AuditDifference {
    return { pair, period: periodLabel(ms), time: ours.time, at: this.now(), fields, ours: toCandle(ours, true), exchange: ex ?? null };
  }

  /** The exchange's candles of the batch, or undefined when they cannot be had (counted unavailable). */
  private async fetch(pair: string, ms: number, from: number, to: number, tally: Tally): Promise<ExchangeCandle[] | undefined> {
    try {
      return await pacedRequest(
        this.pacer,
        () => {
          tally.requests++;
          return this.exchange.candles(pair, ms, from, to);
        },
        {
          retries: this.opts.retries ?? 5,
          backoff: this.opts.backoff ?? { initialMs: 1_000, maxMs: 30_000 },
          closed: () => this.closed,
          onRateLimited: (wait) => {
            tally.rateLimited++;
            this.log.warn({ pair, period: periodLabel(ms), waitMs: wait }, `the exchange rate-limits the audit (429); waiting ${(wait / 1000).toFixed(1)} s`);
          },
        },
      );
    } catch (err) {
      if (!(err instanceof RestError || err instanceof CandleShapeError)) throw err;
      if (this.unavailableRun === undefined) {
        this.log.warn(
          { pair, period: periodLabel(ms), from, to, err: err.message },
          `cannot audit ${pair} ${periodLabel(ms)}: the exchange's candles are unavailable (counted as such until it answers again)`,
        );
      }
      return undefined;
    }
  }
}
