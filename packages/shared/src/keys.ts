/**
 * Every Redis key and channel name of a deployment, in one place, and the
 * version of their layout (stored in the deployment's meta, see meta.ts).
 *
 * Per-pair keys carry the pair as a hash tag (`{BTC_USDT}`), so one pair's
 * data lives on one Redis Cluster shard and a Lua script can touch all of
 * it. The deployment's own keys share the tag `{global}`, so one MULTI can
 * write a dead letter and its counter together on a cluster too.
 */
import { periodLabel } from './period.js';

/**
 * The key layout's version. 2: only traded candles are stored (flat ones are
 * derived when read), the base period's forming candles live with its closed
 * ones, trade ids are scored by trade time, counters live per pair. 3: the
 * stream holds one entry per batch (trades packed), integer trade ids are
 * kept as ranges.
 */
export const KEY_LAYOUT = 3;

export class Keys {
  constructor(readonly prefix: string) {}

  private global(name: string): string {
    return `${this.prefix}:{global}:${name}`;
  }

  /** Stream of the pair's ticks, in arrival order (a log; candles do not re-read it). */
  ticks(pair: string): string {
    return `${this.prefix}:ticks:{${pair}}`;
  }
  /** Sorted set of the pair's non-integer trade ids scored by trade time: dedupe for every trade still inside MAX_LATE. */
  ids(pair: string): string {
    return `${this.prefix}:ids:{${pair}}`;
  }
  /**
   * Sorted set of the ranges of integer trade ids seen, "lo:hi:tmax" scored
   * by hi: exchanges number trades densely, so this costs a few bytes per
   * gap, not per trade.
   */
  seen(pair: string): string {
    return `${this.prefix}:seen:{${pair}}`;
  }
  /**
   * Hash: `first` (first traded base bucket), `lt` (last trade time), `lo`
   * (the low time bound: older trades are refused), `c:<ms>` (start of the
   * last closed bucket per period), `bf:<ms>` (per longer period, the first
   * bucket built as trades come: earlier ones are rolled up at close),
   * `sm` (the tick stream's newest entry
   * time), `sl` (the most an entry's ID has been past its oldest trade, ms:
   * how far GET /trades looks beyond a time for late trades), `v` (the
   * data version: moved by every script write a candle read could see, so
   * the API reuses an answer exactly while it stands), `rp` (replay
   * position), and the pair's
   * counters (COUNTERS names, summed over pairs when read).
   */
  state(pair: string): string {
    return `${this.prefix}:state:{${pair}}`;
  }
  /**
   * Sorted set of one period's candles (JSON) with trades, scored by bucket
   * start, forming buckets included (a longer period's from `bf:<ms>` on;
   * before it, closed roll-ups only).
   */
  candles(pair: string, periodMs: number): string {
    return `${this.prefix}:candles:{${pair}}:${periodLabel(periodMs)}`;
  }
  /** Sorted set of closed base buckets revised by late trades, awaiting their `revised` events (and the re-roll of buckets before `bf:<ms>`). */
  revised(pair: string): string {
    return `${this.prefix}:revised:{${pair}}`;
  }
  /** Set of the pairs this deployment follows. */
  pairs(): string {
    return this.global('pairs');
  }
  /** Hash: the source's clock (kind, time, done) that tells the worker what has ended. */
  clock(): string {
    return this.global('clock');
  }
  /** Hash: deployment facts fixed at first start (layout, base period, periods, source). */
  meta(): string {
    return this.global('meta');
  }
  /** Hash: where a replay has got to in its file (see replay-checkpoint.ts in the ingester). */
  replay(): string {
    return this.global('replay');
  }
  /** Stream of input set aside, with the reason. */
  deadLetter(): string {
    return this.global('dead-letter');
  }
  /** Hash: per `<pair>:<period>`, the start of the last bucket the audit compared with the exchange's (docs/audit.md). */
  auditCursors(): string {
    return this.global('audit-cursors');
  }
  /** Stream of the closed candles that differ from the exchange's own, both side by side (capped: AUDIT_KEEP). */
  auditDifferences(): string {
    return this.global('audit');
  }
  /** Hash of the deployment's own counters and gauges (per-pair counters live in each state). */
  stats(): string {
    return this.global('stats');
  }
  /** Hash: the source's health as the ingester last saw it (see status.ts). */
  sourceStatus(): string {
    return this.global('source');
  }
  /**
   * Hash: one live ingester's own view of the source (an ingester sharing
   * the pairs by lease), with the number of pairs it holds; expires a
   * minute after its last write, so restarts leave nothing behind.
   */
  sourceStatusOf(ingester: string): string {
    return this.global(`source:${ingester}`);
  }
  /** Sorted set of the ingesters with a sourceStatusOf(), scored by their last write (ms). */
  sourceReporters(): string {
    return this.global('source-reporters');
  }
  /**
   * String: the id of the ingester that follows the pair, set with a time to
   * live (a lease, see lease.ts). In the pair's slot, beside its data.
   */
  lease(pair: string): string {
    return `${this.prefix}:lease:{${pair}}`;
  }
  /** Sorted set of the live ingesters' ids, scored by when their heartbeat lapses (Redis time, ms). */
  ingesters(): string {
    return this.global('ingesters');
  }
  /**
   * String: the id of the ingester running a source that is one process's
   * job (a replay, the simulated market), set with a time to live.
   */
  sourceLease(): string {
    return this.global('source-lease');
  }
  /** Pub/sub channel of candle events (closed, revised, gap, ticks). Not a key. */
  events(): string {
    return `${this.prefix}:events`;
  }
  /**
   * BullMQ's prefix for one queue: its keys are
   * `<prefix>:bull:{<queue>}:<queue>:...`. BullMQ's scripts touch many keys
   * of a queue at once, so on a Redis Cluster they must share a slot: the
   * queue's name is their hash tag (one queue lives on one master; queues
   * with other names spread over the others).
   */
  bullPrefix(queue: string): string {
    return `${this.prefix}:bull:{${queue}}`;
  }
  /**
   * BullMQ's prefix before queues carried a hash tag (no queue worked on a
   * Redis Cluster): a worker removes the close queue left there on one Redis.
   */
  untaggedBullPrefix(): string {
    return `${this.prefix}:bull`;
  }
  /** Keys BullMQ keeps for a queue under untaggedBullPrefix() while it holds anything: its meta, schedulers, job counter. */
  untaggedQueueKeys(queue: string): readonly string[] {
    return ['meta', 'repeat', 'id'].map((k) => `${this.untaggedBullPrefix()}:${queue}:${k}`);
  }
  /**
   * Keys of the first layout, which had no hash tags: looked for at start
   * to refuse such data (see meta.ts). One key each, never read together.
   */
  legacy(): readonly string[] {
    return [`${this.prefix}:pairs`, `${this.prefix}:clock`];
  }
}
