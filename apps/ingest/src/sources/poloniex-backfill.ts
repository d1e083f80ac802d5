/**
 * Filling the holes of the WebSocket stream from REST. After every
 * (re)subscription, and at start-up, each pair's latest trades are fetched
 * and the ones after the last trade this ingester had are handed over, so a
 * candle whose period spanned a drop is complete. Poloniex lists at most
 * 1,000 trades and offers no paging: when its oldest listed trade is more
 * than one id past the last one we had (ids rise by one per trade of a
 * symbol), the trades in between are lost for good; that gap is counted,
 * logged and reported, never hidden.
 */
import { Backoff, Sleeper, parseTime, toTick, type BackoffOptions, type Logger, type RawTrade, type Tick } from '@candlestack/shared';
import type { SourceSink } from '../source.js';
import { RestShapeError, parseRestTrades, tradeId } from './poloniex-messages.js';
import type { PoloniexRest } from './poloniex-rest.js';

/**
 * Where a pair's backfill starts: after trade `id`, or (when only the time
 * of the last stored trade is known) from `time`. Neither: nothing is known
 * of the pair (its first start), so there is nothing to fill; the pass only
 * learns the newest id, so the next drop can be filled.
 */
export interface Anchor {
  readonly id?: bigint;
  readonly time?: number;
}

interface Track {
  lastId?: bigint;
  lastTime?: number;
  /** The earliest anchor waiting for a pass. */
  queued?: Anchor;
  running: boolean;
  /** Ids up to here already reported as missed, so a retried pass does not count them twice. */
  reportedThrough?: bigint;
  /**
   * Where live data begins after imported history (a bucket of `periodMs`):
   * the next pass hands over every listed trade from there, and says
   * whether the list reached back that far.
   */
  boundary?: { readonly at: number; readonly periodMs: number };
}

export interface BackfillOptions {
  readonly limit: number;
  /** A boundary bucket's trades were loaded: `exact` when the exchange still listed them all (expectBoundary). */
  readonly onBoundary?: (pair: string, boundary: { readonly at: number; readonly periodMs: number }, exact: boolean, detail: string) => Promise<void>;
  readonly backoff: BackoffOptions;
  readonly concurrency: number;
  readonly random?: () => number;
}

const known = (a: Anchor) => a.id !== undefined || a.time !== undefined;

/** The anchor that covers both holes: the earlier one; one that knows something beats one that does not. */
function earlier(a: Anchor | undefined, b: Anchor): Anchor {
  if (!a || !known(a)) return b;
  if (!known(b)) return a;
  if (a.id !== undefined && b.id !== undefined) return a.id <= b.id ? a : b;
  return (a.time ?? -Infinity) <= (b.time ?? -Infinity) ? a : b;
}

export class Backfiller {
  private readonly tracks = new Map<string, Track>();
  private readonly sleeper = new Sleeper();
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  private closed = false;
  /** Passes under way, so close() can wait for them. */
  private readonly running = new Set<Promise<void>>();

  constructor(
    private readonly rest: PoloniexRest,
    private readonly sink: SourceSink,
    private readonly log: Logger,
    private readonly opts: BackfillOptions,
  ) {}

  private track(pair: string): Track {
    let t = this.tracks.get(pair);
    if (!t) this.tracks.set(pair, (t = { running: false }));
    return t;
  }

  /** What the store already holds of the pair (at start-up). */
  seed(pair: string, last: { id?: string; time?: number } | undefined): void {
    const t = this.track(pair);
    const id = tradeId(last?.id);
    if (id !== undefined && (t.lastId === undefined || id > t.lastId)) t.lastId = id;
    if (last?.time !== undefined && (t.lastTime === undefined || last.time > t.lastTime)) t.lastTime = last.time;
  }

  /** A trade handed over (from the WebSocket or REST). */
  saw(raw: RawTrade): void {
    // Only a valid trade moves the anchor: a malformed one with a wild id
    // must not make the next backfill skip real trades.
    let tick: Tick;
    try {
      tick = toTick(raw);
    } catch {
      return;
    }
    const t = this.track(tick.pair);
    const id = tradeId(tick.id);
    if (id !== undefined && (t.lastId === undefined || id > t.lastId)) t.lastId = id;
    if (t.lastTime === undefined || tick.time > t.lastTime) t.lastTime = tick.time;
  }

  /**
   * The pair's history was imported up to `at`: its next pass completes the
   * bucket there from the exchange's trades (every one at or after `at`).
   */
  expectBoundary(pair: string, at: number, periodMs: number): void {
    this.track(pair).boundary = { at, periodMs };
  }

  /** Where a backfill of the pair would start now: after the last trade we had. */
  anchor(pair: string): Anchor {
    const t = this.track(pair);
    return t.lastId !== undefined ? { id: t.lastId } : t.lastTime !== undefined ? { time: t.lastTime } : {};
  }

  /** Fill the pair from `from` on (runs in the background; passes for one pair never overlap). */
  request(pair: string, from: Anchor): void {
    if (this.closed) return;
    const t = this.track(pair);
    t.queued = earlier(t.queued, from);
    if (t.running) return;
    t.running = true;
    const p = this.loop(pair, t).finally(() => {
      t.running = false;
      this.running.delete(p);
    });
    this.running.add(p);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.sleeper.cancel();
    for (const w of this.waiting.splice(0)) w();
    await Promise.allSettled([...this.running]);
  }

  private async loop(pair: string, t: Track): Promise<void> {
    const backoff = new Backoff(this.opts.backoff, this.opts.random);
    while (t.queued && !this.closed) {
      let from = t.queued;
      t.queued = undefined;
      for (;;) {
        if (this.closed) return;
        try {
          await this.withSlot(() => this.pass(pair, t, from));
          break;
        } catch (err) {
          if (this.closed) return;
          const delay = backoff.next();
          if (err instanceof RestShapeError) this.sink.malformed(err.message, err.sample);
          this.log.warn(
            { pair, err: (err as Error).message, attempt: backoff.failures, retryInMs: delay },
            `backfill of ${pair} from REST failed; retrying in ${(delay / 1000).toFixed(1)} s`,
          );
          await this.sleeper.sleep(delay);
          // A drop meanwhile: one pass covers both holes.
          if (t.queued) {
            from = earlier(from, t.queued);
            t.queued = undefined;
          }
        }
      }
    }
  }

  private async withSlot<T>(fn: () => Promise<T>): Promise<T> {
    while (this.active >= this.opts.concurrency && !this.closed) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }

  private async pass(pair: string, t: Track, from: Anchor): Promise<void> {
    const body = await this.rest.trades(pair, this.opts.limit);
    const parsed = parseRestTrades(pair, body);
    for (const r of parsed.rejected) this.sink.malformed(r.reason, r.sample);
    const listed = parsed.trades; // oldest first
    const ids = listed.map((r) => tradeId(r.id));
    let newest: bigint | undefined;
    let oldest: bigint | undefined;
    for (const id of ids) {
      if (id === undefined) continue;
      if (newest === undefined || id > newest) newest = id;
      if (oldest === undefined || id < oldest) oldest = id;
    }

    let fresh: RawTrade[];
    const boundary = t.boundary;
    if (from.id !== undefined) {
      const after = from.id;
      fresh = listed.filter((_, i) => ids[i] === undefined || ids[i]! > after);
      if (oldest !== undefined && oldest > after + 1n) this.reportGap(pair, t, after, oldest);
    } else if (from.time !== undefined) {
      const since = from.time;
      fresh = listed.filter((r) => timeOf(r) === undefined || timeOf(r)! >= since);
      const oldestTime = listed.length > 0 ? timeOf(listed[0]!) : undefined;
      if (boundary === undefined && listed.length >= this.opts.limit && oldestTime !== undefined && oldestTime > since) {
        // Only the time of the last stored trade is known (its id has aged
        // out of Redis): there is a hole, of unknown size.
        this.sink.gap(pair, 1, `trades of ${pair} between ${new Date(since).toISOString()} and ${new Date(oldestTime).toISOString()} are no longer listed by Poloniex (count unknown; counted as 1)`);
      }
    } else {
      fresh = [];
      this.log.debug({ pair, newestId: newest?.toString() }, `${pair}: nothing stored yet; following it from now on (no history loaded)`);
    }

    let exact: boolean | undefined;
    if (boundary !== undefined) {
      // Every listed trade from the boundary on (the store counts each once).
      const chosen = new Set(fresh);
      for (const r of listed) if ((timeOf(r) ?? -Infinity) >= boundary.at) chosen.add(r);
      fresh = listed.filter((r) => chosen.has(r));
      // Complete when the list reaches before the boundary, or holds all the exchange lists.
      const oldestTime = listed.length > 0 ? timeOf(listed[0]!) : undefined;
      exact = listed.length < this.opts.limit || (oldestTime !== undefined && oldestTime < boundary.at);
    }

    if (fresh.length > 0) {
      await this.sink.trades(fresh);
      this.log.info(
        { pair, trades: fresh.length, after: from.id?.toString() ?? (from.time !== undefined ? new Date(from.time).toISOString() : undefined) },
        `backfilled ${fresh.length} trade(s) of ${pair} from REST`,
      );
    } else {
      this.log.debug({ pair, listed: listed.length }, `backfill of ${pair}: nothing missed`);
    }
    for (const r of listed) this.saw(r);
    if (boundary !== undefined && exact !== undefined) {
      const oldest = listed.length > 0 ? timeOf(listed[0]!) : undefined;
      const detail = exact
        ? `${fresh.length} trade(s) from REST complete it`
        : `Poloniex lists only its latest ${this.opts.limit} trades, the oldest at ${oldest !== undefined ? new Date(oldest).toISOString() : '?'}: the trades between the bucket's start and then are missing from it`;
      await this.opts.onBoundary?.(pair, boundary, exact, detail);
      if (t.boundary === boundary) t.boundary = undefined;
    }
  }

  private reportGap(pair: string, t: Track, after: bigint, oldest: bigint): void {
    const start = t.reportedThrough !== undefined && t.reportedThrough > after ? t.reportedThrough : after;
    const missed = oldest - 1n - start;
    if (missed <= 0n) return;
    t.reportedThrough = oldest - 1n;
    this.sink.gap(
      pair,
      Number(missed),
      `trade ids ${start + 1n} to ${oldest - 1n} of ${pair} are older than the ${this.opts.limit} trades Poloniex lists (no paging): lost`,
    );
  }
}

function timeOf(r: RawTrade): number | undefined {
  try {
    return parseTime(r.time);
  } catch {
    return undefined;
  }
}
