/**
 * Batches validated ticks per pair and writes them with the add-ticks script.
 * While Redis is away it keeps them (oldest first) and retries; past
 * `maxBuffer` ticks it drops new ones, counting and logging every drop, so
 * memory stays bounded and no loss is silent.
 */
import type { CandleStore, CounterName, Logger, Stats, Tick } from '@candlestack/shared';

export interface TickWriterOptions {
  /** Most ticks held in memory while Redis is unreachable. */
  readonly maxBuffer: number;
  /** Ticks per script call. */
  readonly batchSize: number;
  /** How long a tick may wait for its batch (ms). */
  readonly flushMs: number;
  /** Called after a flush with the latest trade time written so far. */
  readonly onFlushed?: (maxTime: number) => Promise<void>;
}

export class TickWriter {
  private buffer = new Map<string, Tick[]>();
  private size = 0;
  private flushing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private retryMs = 0;
  private readonly registered = new Set<string>();
  private readonly pending: Partial<Record<CounterName, number>> = {};
  private maxTime = -Infinity;
  private redisDown = false;
  private lastDropLog = 0;
  private closed = false;
  private roomWaiters: (() => void)[] = [];

  constructor(
    private readonly store: CandleStore,
    private readonly stats: Stats,
    private readonly log: Logger,
    private readonly opts: TickWriterOptions,
  ) {}

  /** Ticks waiting to be written. */
  get buffered(): number {
    return this.size;
  }

  push(ticks: readonly Tick[]): void {
    for (const t of ticks) {
      if (this.size >= this.opts.maxBuffer) {
        this.count('ticks_dropped_total', 1);
        const now = Date.now();
        if (now - this.lastDropLog > 5_000) {
          this.lastDropLog = now;
          this.log.error({ buffered: this.size, dropped: this.pending.ticks_dropped_total }, 'ingest buffer full (Redis away too long): dropping trades');
        }
        continue;
      }
      let list = this.buffer.get(t.pair);
      if (!list) this.buffer.set(t.pair, (list = []));
      list.push(t);
      this.size++;
    }
    this.schedule();
  }

  /** Resolves when the buffer is below half its bound (for finite sources). */
  async room(): Promise<void> {
    if (this.size < this.opts.maxBuffer / 2 && this.size < this.opts.batchSize * 50) return;
    await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
  }

  /** Adds to a counter sent to Redis with the next successful flush. */
  count(name: CounterName, n: number): void {
    this.pending[name] = (this.pending[name] ?? 0) + n;
  }

  /** Writes everything buffered; resolves once it is in Redis (retrying while it is away). */
  async drain(): Promise<void> {
    while (this.size > 0 || this.flushing) {
      if (this.closed && this.redisDown) return;
      await (this.flushing ?? this.flush());
      if (this.size > 0 && this.redisDown) await sleep(this.retryMs);
    }
    await this.flushCounters();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.flushing;
  }

  private schedule(): void {
    if (this.timer || this.flushing || this.closed) return;
    const delay = this.redisDown ? this.retryMs : this.size >= this.opts.batchSize ? 0 : this.opts.flushMs;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, delay);
  }

  private flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    this.flushing = this.doFlush().finally(() => {
      this.flushing = undefined;
      if (this.size > 0) this.schedule();
      if (this.size < this.opts.maxBuffer / 2) {
        const waiters = this.roomWaiters;
        this.roomWaiters = [];
        for (const w of waiters) w();
      }
    });
    return this.flushing;
  }

  private async doFlush(): Promise<void> {
    if (this.size === 0) return;
    const batch = this.buffer;
    this.buffer = new Map();
    this.size = 0;
    const failed = new Map<string, Tick[]>();
    const newPairs = [...batch.keys()].filter((p) => !this.registered.has(p));
    try {
      if (newPairs.length > 0) {
        await this.store.registerPairs(newPairs);
        for (const p of newPairs) this.registered.add(p);
      }
    } catch (err) {
      this.failed(err);
      this.requeue(batch);
      return;
    }
    let flushedMax = -Infinity;
    await Promise.all(
      [...batch].map(async ([pair, ticks]) => {
        for (let i = 0; i < ticks.length; i += this.opts.batchSize) {
          const chunk = ticks.slice(i, i + this.opts.batchSize);
          try {
            const r = await this.store.addTicks(pair, chunk);
            this.count('ticks_ingested_total', r.added);
            this.count('ticks_duplicate_total', r.duplicates);
            this.count('ticks_late_total', r.late);
            for (const t of chunk) if (t.time > flushedMax) flushedMax = t.time;
          } catch (err) {
            // Keep this chunk and the rest of the pair, in order, for the retry.
            failed.set(pair, ticks.slice(i));
            this.failed(err);
            return;
          }
        }
      }),
    );
    if (failed.size > 0) {
      this.requeue(failed);
      return;
    }
    if (this.redisDown) this.log.info({ buffered: this.size }, 'writing trades again');
    this.redisDown = false;
    this.retryMs = 0;
    if (flushedMax > this.maxTime) this.maxTime = flushedMax;
    try {
      await this.store.announceTicks([...batch.keys()]);
      await this.flushCounters();
      if (this.opts.onFlushed && Number.isFinite(this.maxTime)) await this.opts.onFlushed(this.maxTime);
    } catch (err) {
      this.failed(err);
    }
  }

  private async flushCounters(): Promise<void> {
    const counts = { ...this.pending };
    for (const k of Object.keys(this.pending)) delete this.pending[k as CounterName];
    try {
      await this.stats.incr(counts);
    } catch (err) {
      for (const [k, n] of Object.entries(counts)) this.count(k as CounterName, n);
      throw err;
    }
  }

  /** Puts unwritten ticks back in front of anything that arrived meanwhile. */
  private requeue(batch: Map<string, Tick[]>): void {
    for (const [pair, ticks] of batch) {
      const later = this.buffer.get(pair) ?? [];
      this.buffer.set(pair, [...ticks, ...later]);
      this.size += ticks.length;
    }
  }

  private failed(err: unknown): void {
    if (!this.redisDown) {
      this.log.warn({ err: (err as Error).message, buffered: this.size }, 'cannot write trades to Redis: keeping them and retrying');
    }
    this.redisDown = true;
    this.retryMs = Math.min(Math.max(this.retryMs * 2, 100), 2_000);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
