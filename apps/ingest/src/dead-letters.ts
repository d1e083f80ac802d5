/**
 * The dead-letter stream: input set aside, with why. Each entry is written
 * in one MULTI with the counter that counts it (and, for a replay, the file
 * position it came from), so through a crash an entry and its count are
 * both there or both absent. Writes are batched (one MULTI per few ms);
 * while Redis is away entries wait, up to a bound, then are dropped and
 * counted (dead_letters_failed_total). Every field is cut to a bounded
 * length: a megabyte pair costs no more than a short one.
 */
import { FIELD_LIMITS, cut, type CounterName, type Keys, type Logger, type RedisClient } from '@candlestack/shared';

export interface DeadLetter {
  readonly reason: string;
  readonly sample: string;
  /** The counter this entry adds one to; absent when it was counted already (by a script, with the data). */
  readonly counter?: CounterName;
  /** For a replay: "<file>:<pos>", stored as the dead letters' position. */
  readonly position?: string;
  /** For a replay: the numeric position (for the resume low-water mark). */
  readonly pos?: number;
}

/** The dead-letter stream keeps about this many entries. */
export const DEAD_LETTER_MAXLEN = 10_000;
/** Entries waiting for Redis at most; past it they are dropped and counted. */
const MAX_PENDING = 10_000;
const FLUSH_MS = 20;
/** Entries per MULTI. */
const BATCH = 500;
/** Past this many waiting, a finite source waits (see room()). */
const ROOM = 2_000;

export class DeadLetters {
  private pending: (DeadLetter & { readonly at: number })[] = [];
  private inFlight: readonly (DeadLetter & { readonly at: number })[] = [];
  private failedCount = 0;
  /** Counts of entries dropped (over the bound): the input is still counted in its own counter. */
  private droppedCounts = new Map<CounterName, number>();
  private roomWaiters: (() => void)[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private retryMs = 0;
  private down = false;
  private lastDropLog = 0;
  private closed = false;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly source: string,
    private readonly log: Logger,
  ) {}

  add(entry: DeadLetter): void {
    if (this.pending.length >= MAX_PENDING) {
      this.failedCount++;
      if (entry.counter) this.droppedCounts.set(entry.counter, (this.droppedCounts.get(entry.counter) ?? 0) + 1);
      const now = Date.now();
      if (now - this.lastDropLog > 10_000) {
        this.lastDropLog = now;
        this.log.error({ waiting: this.pending.length }, 'dead letters cannot be written (Redis away): dropping them, counted in dead_letters_failed_total');
      }
      return;
    }
    this.pending.push({
      ...entry,
      reason: cut(entry.reason, FIELD_LIMITS.reason),
      sample: cut(entry.sample, FIELD_LIMITS.sample),
      at: Date.now(),
    });
    this.schedule();
  }

  /** Resolves when few entries wait (for finite sources: reading never outruns the writes). */
  async room(): Promise<void> {
    if (this.pending.length < ROOM) return;
    this.schedule();
    await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
  }

  /** The smallest replay position not yet written (Infinity if none). */
  get lowestPending(): number {
    let min = Infinity;
    for (const e of this.inFlight) if (e.pos !== undefined && e.pos < min) min = e.pos;
    for (const e of this.pending) if (e.pos !== undefined && e.pos < min) min = e.pos;
    return min;
  }

  get waiting(): number {
    return this.pending.length + this.inFlight.length;
  }

  /** Writes what waits; resolves once written, or at once if Redis is away and we are closing. */
  async drain(): Promise<void> {
    while ((this.pending.length > 0 || this.flushing) && !(this.closed && this.down)) {
      await (this.flushing ?? this.flush());
      if (this.pending.length > 0 && this.down) await new Promise((r) => setTimeout(r, this.retryMs));
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.flushing;
  }

  private schedule(): void {
    if (this.timer || this.flushing || this.closed) return;
    const delay = this.down ? this.retryMs : this.pending.length >= BATCH ? 0 : FLUSH_MS;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, delay);
  }

  private flush(): Promise<void> {
    this.flushing ??= this.write().finally(() => {
      this.flushing = undefined;
      if (this.pending.length > 0) this.schedule();
      if (this.pending.length < ROOM) {
        const waiters = this.roomWaiters;
        this.roomWaiters = [];
        for (const w of waiters) w();
      }
    });
    return this.flushing;
  }

  private async write(): Promise<void> {
    if (this.pending.length === 0 && this.failedCount === 0) return;
    const batch = this.pending.splice(0, BATCH);
    this.inFlight = batch;
    const failed = this.failedCount;
    const dropped = this.droppedCounts;
    this.droppedCounts = new Map();
    const counts = new Map(dropped);
    const multi = this.redis.multi();
    let position: string | undefined;
    for (const e of batch) {
      multi.xadd(this.keys.deadLetter(), 'MAXLEN', '~', DEAD_LETTER_MAXLEN, '*', 'source', this.source, 'reason', e.reason, 'sample', e.sample, 'at', e.at);
      if (e.counter) counts.set(e.counter, (counts.get(e.counter) ?? 0) + 1);
      if (e.position !== undefined) position = e.position;
    }
    if (failed > 0) counts.set('dead_letters_failed_total', (counts.get('dead_letters_failed_total') ?? 0) + failed);
    for (const [name, n] of counts) multi.hincrby(this.keys.stats(), name, n);
    if (position !== undefined) multi.hset(this.keys.replay(), 'dl', position);
    try {
      const res = await multi.exec();
      const err = res?.find(([e]) => e)?.[0];
      if (!res || err) throw err ?? new Error('MULTI aborted');
      this.failedCount -= failed;
      if (this.down) this.log.info('writing dead letters again');
      this.down = false;
      this.retryMs = 0;
    } catch (err) {
      this.pending.unshift(...batch);
      for (const [name, n] of dropped) this.droppedCounts.set(name, (this.droppedCounts.get(name) ?? 0) + n);
      if (!this.down) this.log.warn({ err: (err as Error).message, waiting: this.pending.length }, 'cannot write dead letters: keeping them and retrying');
      this.down = true;
      this.retryMs = Math.min(Math.max(this.retryMs * 2, 100), 2_000);
    } finally {
      this.inFlight = [];
    }
  }
}
