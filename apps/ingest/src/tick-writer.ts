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
 *
 * A trade is folded and packed into its pair's open batch as it is pushed
 * (fold.ts TradeBatch): what waits is bytes and one partial candle per
 * bucket, not an object per trade. That changes nothing of what a crash
 * can do: until its batch's script call has returned, a trade is only in
 * this process's memory, as before, and a batch is written whole or not at
 * all; a replay stores with each write the position of the batch's last
 * trade, and resumes from the oldest position not yet written.
 */
import { TradeBatch, isScriptFault, type CounterName, type Logger, type Stats, type Tick, type TickStore } from '@candlestack/shared';
import type { DeadLetters } from './dead-letters.js';

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

/** Up to batchSize trades of one pair waiting for one script call. */
interface Waiting {
  readonly batch: TradeBatch;
  /** The source's clock when its first trade was accepted (see AddOptions.clock). */
  readonly clock: number;
  /** For a replay: each trade's position in the file, in push order. */
  readonly positions: number[] | undefined;
}

export class TickWriter {
  private buffer = new Map<string, Waiting[]>();
  private inFlight = new Map<string, readonly Waiting[]>();
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
    for (const list of [...this.inFlight.values(), ...this.buffer.values()]) {
      const p = list[0]?.positions?.[0];
      if (p !== undefined && p < min) min = p;
    }
    return min;
  }

  /** Takes one trade, accepted at the source's `clock` (see AddOptions.clock); schedule() sends it. */
  add(tick: Tick, clock: number, pos?: number): void {
    if (this.size >= this.opts.maxBuffer) {
      this.count('ticks_dropped_total', 1);
      const now = Date.now();
      if (now - this.lastDropLog > 5_000) {
        this.lastDropLog = now;
        this.log.error({ buffered: this.size, dropped: this.pending.ticks_dropped_total }, 'ingest buffer full (Redis away too long): dropping trades');
      }
      return;
    }
    let list = this.buffer.get(tick.pair);
    if (!list) this.buffer.set(tick.pair, (list = []));
    // Not list[-1] for a new list: an index out of range is a property lookup by name, which made this load megamorphic.
    let w = list.length > 0 ? list[list.length - 1]! : undefined;
    if (w === undefined || w.batch.count >= this.opts.batchSize) {
      w = { batch: new TradeBatch(this.store.plan.baseMs), clock, positions: pos === undefined ? undefined : [] };
      list.push(w);
    }
    w.batch.push(tick);
    if (pos !== undefined && w.positions !== undefined) w.positions.push(pos);
    this.size++;
    if (w.batch.count >= this.opts.batchSize) this.full = true;
  }

  /** Sends what add() took: now if a batch is full or much waits, else within flushMs. */
  schedule(): void {
    if (this.flushing || this.closed) return;
    // Now when a pair has a whole batch waiting, or many trades wait in all;
    // else after flushMs, so that a quiet source's trades still go within
    // that time, and a busy one over many pairs sends batches, not trades.
    const delay = this.redisDown ? this.retryMs : this.full || this.size >= this.opts.flushAt ? 0 : this.opts.flushMs;
    if (this.timer) {
      // A flushMs wait set when little was waiting ends as soon as enough
      // is: a replay read 250,000 trades in well under its second's wait,
      // then stood still until it ended.
      if (delay > 0) return;
      clearTimeout(this.timer);
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, delay);
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

  private flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    this.flushing = this.doFlush().finally(() => {
      this.flushing = undefined;
      this.inFlight = new Map();
      if (this.size > 0) this.schedule();
      this.makeRoom();
    });
    return this.flushing;
  }

  /** Lets a waiting finite source read on, once the buffer is below half its bound. */
  private makeRoom(): void {
    if (this.size >= this.opts.maxBuffer / 2 || this.roomWaiters.length === 0) return;
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    for (const w of waiters) w();
  }

  private async doFlush(): Promise<void> {
    if (this.size === 0) return;
    const batch = this.buffer;
    this.buffer = new Map();
    this.inFlight = batch;
    this.size = 0;
    this.full = false;
    // The source reads on while this batch is written: reading and folding
    // the next trades overlaps Redis running these scripts (a replay had
    // waited for each flush to end). What is held stays bounded: at most
    // half the bound waiting, and the batch in flight (itself at most what
    // was waiting). A crash loses nothing more: a trade is written only by
    // its batch's script call, and a replay resumes from the oldest
    // position not yet written (lowestPending counts both).
    this.makeRoom();
    const failed = new Map<string, Waiting[]>();
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
      [...batch].map(async ([pair, list]) => {
        for (let i = 0; i < list.length; i++) {
          const w = list[i]!;
          try {
            await this.write(pair, w);
            if (w.batch.maxTime > flushedMax) flushedMax = w.batch.maxTime;
          } catch (err) {
            // Keep this batch and the rest of the pair, in order, for the retry.
            failed.set(pair, list.slice(i));
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
   * One script call for one pair's batch; on a script fault, halves until
   * the trades at fault are found and set aside. Throws only what retrying
   * may cure (Redis away).
   */
  private async write(pair: string, w: Waiting): Promise<void> {
    const last = w.positions?.[w.positions.length - 1];
    const position = last !== undefined && this.positionTag !== undefined ? `${this.positionTag}:${last}` : undefined;
    try {
      const r = await this.store.addBatch(pair, w.batch, { clock: w.clock, ...(position !== undefined && { replayPosition: position }) });
      if (r.refused.length > 0) {
        const ticks = w.batch.ticks(pair);
        for (const i of r.refused) {
          const t = ticks[i]!;
          // Counted by the script (ticks_out_of_window_total); the entry only records why.
          this.deadLetters.add({
            reason: `trade ${t.id} of ${pair} at ${new Date(t.time).toISOString()} is older than the pair's time bound (MAX_LATE behind the source's clock, or where live data begins after the exchange's imported history)`,
            sample: JSON.stringify(t),
          });
        }
      }
    } catch (err) {
      if (!isScriptFault(err)) throw err;
      const ticks = w.batch.ticks(pair);
      if (ticks.length === 1) {
        const t = ticks[0]!;
        this.log.error({ pair, id: t.id, err: (err as Error).message.slice(0, 300) }, 'a trade makes the store fail: set aside');
        this.deadLetters.add({
          reason: `storing this trade failed in Redis: ${(err as Error).message}`,
          sample: JSON.stringify(t),
          // No replay position: on a resume this trade is past its pair's
          // stored position only if the crash came before the rest of its
          // batch was written; then it is set aside again (and counted
          // again). Positions of dead letters must only rise.
          counter: 'ticks_poison_total',
        });
        return;
      }
      // Each half stores the position of its own last trade: a crash
      // between the halves must not mark the second as written.
      const half = Math.ceil(ticks.length / 2);
      const part = (from: number, to: number): Waiting => ({
        batch: TradeBatch.of(ticks.slice(from, to), w.batch.baseMs),
        clock: w.clock,
        positions: w.positions?.slice(from, to),
      });
      await this.write(pair, part(0, half));
      await this.write(pair, part(half, ticks.length));
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

  /** Puts unwritten batches back in front of anything that arrived meanwhile. */
  private requeue(batch: Map<string, readonly Waiting[]>): void {
    for (const [pair, list] of batch) {
      const later = this.buffer.get(pair) ?? [];
      this.buffer.set(pair, [...list, ...later]);
      for (const w of list) {
        this.size += w.batch.count;
        if (w.batch.count >= this.opts.batchSize) this.full = true;
      }
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
