/**
 * Batches validated ticks per pair and writes them with the add-ticks
 * script, which counts them in the same atomic step. While Redis is away it
 * keeps them (oldest first) and retries; past `maxBuffer` ticks it drops new
 * ones, counting and logging every drop, so memory stays bounded and no
 * loss is silent.
 *
 * A batch the script itself fails on (an error from inside Redis, not a
 * lost connection) is split in halves until the trades that fail are found:
 * those go to the dead letters, the rest are written, and nothing is
 * retried for ever. Each pair's batch is written on its own: a failing pair
 * never holds up the others.
 */
import { isScriptFault, type CounterName, type Logger, type Stats, type Tick, type TickStore } from '@candlestack/shared';
import type { DeadLetters } from './dead-letters.js';

/** A tick waiting to be written, with what the store needs to know of its arrival. */
export interface Pending {
  readonly tick: Tick;
  /** The source's clock when it was accepted (see AddOptions.clock). */
  readonly clock: number;
  /** For a replay: its position in the file. */
  readonly pos?: number;
}

export interface TickWriterOptions {
  /** Most ticks held in memory while Redis is unreachable. */
  readonly maxBuffer: number;
  /** Ticks per script call. */
  readonly batchSize: number;
  /** How long a tick may wait for its batch (ms). */
  readonly flushMs: number;
  /** Trades waiting in all that start a flush at once. */
  readonly flushAt: number;
  /** Called after a flush with the latest trade time written so far. */
  readonly onFlushed?: (maxTime: number) => Promise<void>;
}

export class TickWriter {
  private buffer = new Map<string, Pending[]>();
  private inFlight = new Map<string, readonly Pending[]>();
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
  /** For a replay: the tag of its file, so positions are stored as "<tag>:<pos>". */
  private positionTag: string | undefined;
  /** Some pair has a whole batch waiting. */
  private full = false;

  constructor(
    private readonly store: TickStore,
    private readonly stats: Stats,
    private readonly deadLetters: DeadLetters,
    private readonly log: Logger,
    private readonly opts: TickWriterOptions,
  ) {}

  /** For a replay: positions are stored with each pair's writes, tagged with the file's fingerprint. */
  setPositionTag(tag: string): void {
    this.positionTag = tag;
  }

  /** Ticks waiting to be written. */
  get buffered(): number {
    return this.size;
  }

  /** The smallest replay position not yet written (Infinity if none). */
  get lowestPending(): number {
    let min = Infinity;
    for (const list of this.inFlight.values()) if (list[0]?.pos !== undefined && list[0].pos < min) min = list[0].pos;
    for (const list of this.buffer.values()) if (list[0]?.pos !== undefined && list[0].pos < min) min = list[0].pos;
    return min;
  }

  push(entries: readonly Pending[]): void {
    for (const e of entries) {
      if (this.size >= this.opts.maxBuffer) {
        this.count('ticks_dropped_total', 1);
        const now = Date.now();
        if (now - this.lastDropLog > 5_000) {
          this.lastDropLog = now;
          this.log.error({ buffered: this.size, dropped: this.pending.ticks_dropped_total }, 'ingest buffer full (Redis away too long): dropping trades');
        }
        continue;
      }
      let list = this.buffer.get(e.tick.pair);
      if (!list) this.buffer.set(e.tick.pair, (list = []));
      list.push(e);
      this.size++;
      if (list.length >= this.opts.batchSize) this.full = true;
    }
    this.schedule();
  }

  /**
   * Resolves when the buffer is below half its bound (for finite sources).
   * Half the bound may wait: a replay over many pairs then sends each pair
   * batches of hundreds of trades, not a few (a script call has a fixed
   * cost of about 0.1 ms).
   */
  async room(): Promise<void> {
    if (this.size < this.opts.maxBuffer / 2) return;
    await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
  }

  /** Adds to a counter of the deployment's own (not tied to a write), sent with the next successful flush. */
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
    // Now when a pair has a whole batch waiting, or many trades wait in all;
    // else after flushMs, so that a quiet source's trades still go within
    // that time, and a busy one over many pairs sends batches, not trades.
    const delay = this.redisDown ? this.retryMs : this.full || this.size >= this.opts.flushAt ? 0 : this.opts.flushMs;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, delay);
  }

  private flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    this.flushing = this.doFlush().finally(() => {
      this.flushing = undefined;
      this.inFlight = new Map();
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
    this.inFlight = batch;
    this.size = 0;
    this.full = false;
    const failed = new Map<string, Pending[]>();
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
      [...batch].map(async ([pair, entries]) => {
        for (let i = 0; i < entries.length; i += this.opts.batchSize) {
          const chunk = entries.slice(i, i + this.opts.batchSize);
          try {
            await this.write(pair, chunk);
            for (const e of chunk) if (e.tick.time > flushedMax) flushedMax = e.tick.time;
          } catch (err) {
            // Keep this chunk and the rest of the pair, in order, for the retry.
            failed.set(pair, entries.slice(i));
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

  /**
   * One script call for one pair's chunk; on a script fault, halves until
   * the trades at fault are found and set aside. Throws only what retrying
   * may cure (Redis away).
   */
  private async write(pair: string, chunk: readonly Pending[]): Promise<void> {
    const last = chunk[chunk.length - 1]!;
    const position = last.pos !== undefined && this.positionTag !== undefined ? `${this.positionTag}:${last.pos}` : undefined;
    try {
      const r = await this.store.addTicks(
        pair,
        chunk.map((e) => e.tick),
        { clock: chunk[0]!.clock, ...(position !== undefined && { replayPosition: position }) },
      );
      for (const i of r.refused) {
        const e = chunk[i]!;
        // Counted by the script (ticks_out_of_window_total); the entry only records why.
        this.deadLetters.add({
          reason: `trade ${e.tick.id} of ${pair} at ${new Date(e.tick.time).toISOString()} is older than the pair's time bound (MAX_LATE behind the source's clock)`,
          sample: JSON.stringify(e.tick),
        });
      }
    } catch (err) {
      if (!isScriptFault(err)) throw err;
      if (chunk.length === 1) {
        const e = chunk[0]!;
        this.log.error({ pair, id: e.tick.id, err: (err as Error).message.slice(0, 300) }, 'a trade makes the store fail: set aside');
        this.deadLetters.add({
          reason: `storing this trade failed in Redis: ${(err as Error).message}`,
          sample: JSON.stringify(e.tick),
          // No replay position: on a resume this trade is past its pair's
          // stored position only if the crash came before the rest of its
          // batch was written; then it is set aside again (and counted
          // again). Positions of dead letters must only rise.
          counter: 'ticks_poison_total',
        });
        return;
      }
      const half = Math.ceil(chunk.length / 2);
      await this.write(pair, chunk.slice(0, half));
      await this.write(pair, chunk.slice(half));
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
  private requeue(batch: Map<string, Pending[]>): void {
    for (const [pair, entries] of batch) {
      const later = this.buffer.get(pair) ?? [];
      this.buffer.set(pair, [...entries, ...later]);
      this.size += entries.length;
      if (entries.length + later.length >= this.opts.batchSize) this.full = true;
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
