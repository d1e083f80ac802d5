/**
 * A pair's imported history: the exchange's own candles of one period,
 * written before the pair's first trade is stored (lua/import-history.lua,
 * docs/history.md). The source fetches them (a live exchange source only);
 * this is where they are kept, and the one place that knows the state
 * fields of an import.
 */
import type { StoredCandle } from './candle.js';
import { encodeStored } from './fold.js';
import type { Keys } from './keys.js';
import type { PeriodPlan } from './period.js';
import type { RedisClient } from './redis.js';
import { defineScripts } from './scripts.js';

/** Where a pair's history stands. */
export type HistoryState =
  /** Nothing stored of the pair, no import begun: a first start. */
  | { readonly status: 'none' }
  /** Trades of the pair are stored and it never imported: nothing to import, ever. */
  | { readonly status: 'stored' }
  /** An import under way, or interrupted: it continues from `next`. */
  | { readonly status: 'importing'; readonly start: number; readonly next: number; readonly periodMs: number }
  /**
   * Imported up to `boundary`, where live data begins; `exact` says whether
   * the boundary bucket was completed from the exchange's trades (undefined:
   * not known yet).
   */
  | { readonly status: 'imported'; readonly start: number; readonly boundary: number; readonly periodMs: number; readonly exact?: boolean };

export class HistoryRefused extends Error {
  constructor(
    readonly step: string,
    readonly state: HistoryState,
  ) {
    super(`import step "${step}" refused: the pair's history is ${state.status}`);
  }
}

/**
 * The periods whose history the imported period gives: the imported one and
 * every period rolled up from it, directly or through others (their candles
 * are rolled up from the imported ones as usual). Others start with live data.
 */
export function periodsFromHistory(plan: PeriodPlan, importedMs: number): Set<number> {
  const covered = new Set<number>();
  for (const c of plan.chain) {
    if (c.ms === importedMs || (c.sourceMs !== null && covered.has(c.sourceMs))) covered.add(c.ms);
  }
  return covered;
}

const num = (s: string | number | null | undefined): number | undefined => (s === undefined || s === null || s === '' ? undefined : Number(s));

/**
 * The history imported from the exchange (state fields hs, hm, hb, hx):
 * the exchange's own candles from `from` up to `liveFrom`, candles built
 * from trades from there on.
 */
export interface PairHistory {
  /** Start (ms) of the imported history (hs). */
  readonly from: number;
  /** Where live data begins (hb): the start of the boundary bucket of `periodMs`; undefined while importing. */
  readonly liveFrom?: number;
  /** The imported candles' period (hm), ms. */
  readonly periodMs: number;
  /**
   * The boundary bucket (hx): 'exact' when completed from the exchange's
   * REST trades, 'incomplete' when they were no longer listed, 'pending'
   * until known (the backfill has not run, or the import is under way).
   */
  readonly boundary: 'exact' | 'incomplete' | 'pending';
  /** An import began and has not completed (under way, or interrupted and to be resumed). */
  readonly importing: boolean;
}

/** The state fields parseHistory reads, in its argument order (read with others, e.g. by GET /pairs in one round trip). */
export const HISTORY_FIELDS = ['hs', 'hm', 'hb', 'hx'] as const;

/** A pair's history from its state fields (HISTORY_FIELDS); undefined for a pair that never imported. */
export function parseHistory(hs: string | null | undefined, hm: string | null | undefined, hb: string | null | undefined, hx: string | null | undefined): PairHistory | undefined {
  const from = num(hs);
  const periodMs = num(hm);
  // A period is whole seconds (periodLabel): anything else is no history this code can show.
  if (from === undefined || periodMs === undefined || periodMs <= 0 || periodMs % 1000 !== 0) return undefined;
  const liveFrom = num(hb);
  const boundary = liveFrom === undefined ? 'pending' : hx === '1' ? 'exact' : hx === '0' ? 'incomplete' : 'pending';
  return liveFrom === undefined ? { from, periodMs, boundary, importing: true } : { from, liveFrom, periodMs, boundary, importing: false };
}


function parseState(r: readonly (string | number)[]): { state: HistoryState; refused: boolean } {
  const raw = String(r[0]);
  const refused = raw.startsWith('not:');
  const status = refused ? raw.slice(4) : raw;
  const [start, next, periodMs, boundary, exact] = [num(r[1]), num(r[2]), num(r[3]), num(r[4]), r[5]];
  let state: HistoryState;
  if (status === 'imported') state = { status, start: start!, boundary: boundary!, periodMs: periodMs!, ...(exact !== '' && { exact: exact === '1' }) };
  else if (status === 'importing') state = { status, start: start!, next: next!, periodMs: periodMs! };
  else state = { status: status === 'stored' ? 'stored' : 'none' };
  return { state, refused };
}

export class HistoryStore {
  constructor(
    readonly redis: RedisClient,
    readonly keys: Keys,
    readonly plan: PeriodPlan,
    /** Told once an import is complete (the ingester asks the workers to roll the periods above up now). */
    private readonly finished?: (pair: string, periodMs: number) => Promise<void>,
  ) {
    defineScripts(redis);
  }

  private async step(pair: string, periodMs: number, step: string, ...args: (string | number)[]): Promise<HistoryState> {
    const { state, refused } = parseState(await this.redis.importHistory(this.keys.state(pair), this.keys.candles(pair, periodMs), step, ...args));
    if (refused) throw new HistoryRefused(step, state);
    return state;
  }

  /** Where the pair's history stands. */
  async state(pair: string): Promise<HistoryState> {
    const [first, hs, hp, hm, hb, hx] = await this.redis.hmget(this.keys.state(pair), 'first', 'hs', 'hp', 'hm', 'hb', 'hx');
    return parseState([hb ? 'imported' : hs ? 'importing' : first ? 'stored' : 'none', hs ?? '', hp ?? '', hm ?? '', hb ?? '', hx ?? '']).state;
  }

  /** Takes the import of `[start, now)` in `periodMs` candles on; answers the state, which is an import begun earlier (to resume) or anything else found. */
  async begin(pair: string, start: number, periodMs: number): Promise<HistoryState> {
    return this.step(pair, periodMs, 'begin', start, periodMs);
  }

  /**
   * Stores the exchange's candles of `[from, next)` (those with trades:
   * flat buckets are derived when read), replacing any of an earlier try.
   * HistoryRefused when a trade of the pair was stored meanwhile.
   */
  async write(pair: string, periodMs: number, from: number, next: number, candles: readonly StoredCandle[]): Promise<HistoryState> {
    const members: (string | number)[] = [];
    for (const c of candles) {
      if (c.trades > 0 && c.time >= from && c.time < next) members.push(c.time, encodeStored({ ...c, origin: 'exchange' }));
    }
    return this.step(pair, periodMs, 'write', from, next, ...members);
  }

  /**
   * Completes the import: live data begins at `boundary` (a bucket start of
   * the imported period). The periods built from the imported one close
   * from the history's start (their roll-ups made as usual); the imported
   * one is closed through the bucket before `boundary`; every other period
   * is closed through its last bucket before `boundary`, so it begins with
   * live data.
   */
  async finish(pair: string, periodMs: number, boundary: number): Promise<HistoryState> {
    const covered = periodsFromHistory(this.plan, periodMs);
    const marks: (string | number)[] = [];
    for (const { ms } of this.plan.chain) {
      if (ms === periodMs) marks.push(`c:${ms}`, boundary - ms);
      else if (!covered.has(ms)) marks.push(`c:${ms}`, Math.floor(boundary / ms) * ms - ms);
    }
    const state = await this.step(pair, periodMs, 'finish', boundary, ...marks);
    await this.finished?.(pair, periodMs);
    return state;
  }

  /** Gives an import up (the exchange's candles cannot be had): its candles and marks go, and the pair starts with live data alone. */
  async abandon(pair: string, periodMs: number): Promise<HistoryState> {
    return this.step(pair, periodMs, 'abandon');
  }

  /** Records whether the boundary bucket was completed from the exchange's trades. */
  async boundary(pair: string, periodMs: number, exact: boolean): Promise<HistoryState> {
    return this.step(pair, periodMs, 'boundary', exact ? 1 : 0);
  }
}
