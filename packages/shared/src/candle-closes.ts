/**
 * Closing candles: lua/close-pair.lua, called until a pair is caught up, in
 * calls of a bounded budget so a long catch-up never blocks Redis for long.
 */
import type { StoredCandle } from './candle.js';
import type { Keys } from './keys.js';
import type { PeriodPlan } from './period.js';
import type { RedisClient } from './redis.js';
import { defineScripts } from './scripts.js';

export type CandleEvent =
  | {
      readonly pair: string;
      readonly periodMs: number;
      readonly kind: 'closed' | 'revised';
      readonly candle: StoredCandle;
    }
  | {
      /** Candles in [from, to) changed and were not each sent (docs/websocket.md, `gap`). */
      readonly pair: string;
      readonly periodMs: number;
      readonly kind: 'gap';
      readonly from: number;
      readonly to: number;
    };

export interface CloseResult {
  /** Buckets closed, flat ones included, over every period of the chain. */
  readonly closed: number;
  /** Closed candles of periods above the base re-rolled after late trades. */
  readonly revised: number;
  /** What changed, for the live feed: at most `eventsPerPeriod` candles per period, the rest as one gap each. */
  readonly events: CandleEvent[];
}

export interface CloseOptions {
  /** Most candles read or written per script call (default 500: a few ms of Redis each). */
  readonly budget?: number;
  /** Periods whose events are wanted (default: none). */
  readonly served?: ReadonlySet<number>;
  /** Most candle events per period for this whole close (default 200). */
  readonly eventsPerPeriod?: number;
  /** CANDLE_RETENTION: period ms -> ms kept. */
  readonly retention?: ReadonlyMap<number, number>;
  /**
   * Only these periods (and those they are rolled up from): a live tick's
   * close passes the periods whose limit moved. Default: every period. A
   * pair with revisions pending is then closed with every period.
   */
  readonly periods?: ReadonlySet<number>;
}

export class CloseStore {
  constructor(
    readonly redis: RedisClient,
    readonly keys: Keys,
    readonly plan: PeriodPlan,
  ) {
    defineScripts(redis);
  }

  /**
   * Closes every bucket of the pair that may close under `limits` (see
   * clock.ts) and re-rolls revised ones.
   */
  async closePair(pair: string, limits: ReadonlyMap<number, number | undefined>, opts: CloseOptions = {}): Promise<CloseResult> {
    const k = this.keys;
    let chain = this.chainFor(opts.periods);
    let keys = [k.state(pair), k.revised(pair), ...chain.map((c) => k.candles(pair, c.ms))];
    const room = new Map(chain.map((c) => [c.ms, opts.served?.has(c.ms) ? (opts.eventsPerPeriod ?? 200) : undefined]));
    const gaps = new Map<number, { from: number; to: number }>();
    let closed = 0;
    let revised = 0;
    const events: CandleEvent[] = [];
    for (;;) {
      const args: (string | number)[] = [chain.length, opts.budget ?? 500, chain.length === this.plan.chain.length ? 1 : 0];
      for (const c of chain) {
        const src = c.sourceMs === null ? 0 : chain.findIndex((x) => x.ms === c.sourceMs) + 1;
        args.push(c.ms, src, limits.get(c.ms) ?? '', room.get(c.ms) ?? '', opts.retention?.get(c.ms) ?? '');
      }
      const r = await this.redis.closePair(keys.length, ...keys, ...args);
      if (Number(r[0]) === -1) {
        // Revisions pending: again, with every period.
        chain = this.plan.chain;
        keys = [k.state(pair), k.revised(pair), ...chain.map((c) => k.candles(pair, c.ms))];
        continue;
      }
      closed += Number(r[0]);
      revised += Number(r[1]);
      for (let i = 3; i + 2 < r.length; i += 3) {
        const periodMs = Number(r[i]);
        const kind = String(r[i + 1]);
        if (kind === 'gap') {
          const [from, to] = String(r[i + 2]).split(',').map(Number) as [number, number];
          const g = gaps.get(periodMs);
          gaps.set(periodMs, g ? { from: Math.min(g.from, from), to: Math.max(g.to, to) } : { from, to });
        } else {
          const left = room.get(periodMs);
          if (left !== undefined) room.set(periodMs, Math.max(0, left - 1));
          events.push({ pair, periodMs, kind: kind === 'revised' ? 'revised' : 'closed', candle: JSON.parse(String(r[i + 2])) as StoredCandle });
        }
      }
      if (Number(r[2]) !== 1) break;
    }
    for (const [periodMs, g] of gaps) events.push({ pair, periodMs, kind: 'gap', from: g.from, to: g.to });
    return { closed, revised, events };
  }

  /** The chain's periods among `periods` and those they are rolled up from (all when undefined), base first. */
  private chainFor(periods: ReadonlySet<number> | undefined): PeriodPlan['chain'] {
    if (periods === undefined) return this.plan.chain;
    const need = new Set<number>();
    for (const ms of periods) {
      for (let at: number | null = ms; at !== null && !need.has(at); ) {
        need.add(at);
        at = this.plan.chain.find((c) => c.ms === at)?.sourceMs ?? null;
      }
    }
    need.add(this.plan.baseMs);
    return this.plan.chain.filter((c) => need.has(c.ms));
  }
}
