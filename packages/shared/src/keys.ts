/**
 * Every Redis key and channel name of a deployment, in one place. Per-pair
 * keys carry the pair as a hash tag (`{BTC_USDT}`) so one pair's data lives
 * on one Redis Cluster shard and a Lua script can touch all of it.
 */
import { periodLabel } from './period.js';

export class Keys {
  constructor(readonly prefix: string) {}

  /** Stream of the pair's ticks, in arrival order (a log; candles do not re-read it). */
  ticks(pair: string): string {
    return `${this.prefix}:ticks:{${pair}}`;
  }
  /** Sorted set of the pair's trade ids scored by arrival (ms): deduplication within TICK_RETENTION. */
  ids(pair: string): string {
    return `${this.prefix}:ids:{${pair}}`;
  }
  /** Hash: first traded base bucket, last close, last trade time, closed-through per period. */
  state(pair: string): string {
    return `${this.prefix}:state:{${pair}}`;
  }
  /** Hash of the base buckets not yet closed: bucket start -> candle JSON. */
  forming(pair: string): string {
    return `${this.prefix}:forming:{${pair}}`;
  }
  /** Sorted set of closed candles (JSON) of one period, scored by bucket start. */
  candles(pair: string, periodMs: number): string {
    return `${this.prefix}:candles:{${pair}}:${periodLabel(periodMs)}`;
  }
  /** Sorted set of base buckets revised by late trades, awaiting roll-up. */
  revised(pair: string): string {
    return `${this.prefix}:revised:{${pair}}`;
  }
  /** Set of the pairs this deployment follows. */
  pairs(): string {
    return `${this.prefix}:pairs`;
  }
  /** Hash: the source's clock (kind, time, done) that tells the worker what has ended. */
  clock(): string {
    return `${this.prefix}:clock`;
  }
  /** Hash: deployment facts written at start (base period, source). */
  meta(): string {
    return `${this.prefix}:meta`;
  }
  /** Stream of malformed input set aside, with the reason. */
  deadLetter(): string {
    return `${this.prefix}:dead-letter`;
  }
  /** Pub/sub channel of candle events (closed, revised, forming). */
  events(): string {
    return `${this.prefix}:events`;
  }
  /** Hash of counters and gauges every process adds to; the API exposes them on /metrics. */
  stats(): string {
    return `${this.prefix}:stats`;
  }
  /** Hash: the source's health as the ingester last saw it (see status.ts). */
  sourceStatus(): string {
    return `${this.prefix}:source`;
  }
  /** BullMQ's prefix: its keys are `<prefix>:bull:<queue>:...`. */
  bullPrefix(): string {
    return `${this.prefix}:bull`;
  }
}

/** The one BullMQ queue: close jobs, one scheduler per period. */
export const CLOSE_QUEUE = 'close';
