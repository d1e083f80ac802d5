/**
 * The ingester: a source's trades, validated, held to the time bounds,
 * deduplicated and folded into Redis by the tick writer. Bad input is
 * counted and set aside in the dead-letter stream, each kind logged once
 * (a bounded number of kinds and lines); the source's health is reported to
 * Redis for /readyz; a replay's clock is published so the worker closes its
 * buckets by the replay's time, not the wall clock, and its position in its
 * file is stored so a restart continues where it stopped. Several ingesters
 * share the work by lease: a live source's pairs are spread over them (see
 * pair-leases.ts), a replay or the simulated market runs in one of them
 * while the others stand by (see source-lease.ts).
 */
import type { Queue } from 'bullmq';
import {
  CandleStore,
  Keys,
  Leases,
  LogLimiter,
  CLOSE_SHARDS,
  HistoryStore,
  Stats,
  TickError,
  checkMetaWhenReady,
  createRedis,
  closeRedis,
  cut,
  closeShardOf,
  enqueueClose,
  periodsFromHistory,
  onLibraryError,
  openCloseQueue,
  planPeriods,
  processId,
  reasonKind,
  toTick,
  type CloseJobData,
  type Logger,
  type RawTrade,
  type RedisClient,
  type SourceState,
} from '@candlestack/shared';
import { DeadLetters } from './dead-letters.js';
import type { IngestConfig } from './env.js';
import { LEASE_TIMING, PairLeases, type LeaseTiming } from './pair-leases.js';
import { SourceLease } from './source-lease.js';
import type { ReplayMark, ReplayResume, Source, SourceSink } from './source.js';
import { TickWriter } from './tick-writer.js';

const HEARTBEAT_MS = 5_000;
const REDIS_READY_WAIT_MS = 10_000;
/** How far ahead of the wall clock a trade may be (README, "Time bounds"). */
export const MAX_AHEAD_MS = 60_000;
/** How often a replay stores its position. */
const CHECKPOINT_MS = 1_000;
/**
 * Most pairs one deployment follows. Each pair is keys in Redis, and a
 * replay's pairs come from its file: the number must not be the file's to
 * choose. Binance lists about 2,000 spot pairs.
 */
export const MAX_PAIRS = 10_000;

const iso = (t: number) => (Number.isFinite(t) && Math.abs(t) < 8.64e15 ? new Date(t).toISOString() : String(t));

export class Ingester {
  readonly redis: RedisClient;
  readonly store: CandleStore;
  readonly writer: TickWriter;
  readonly deadLetters: DeadLetters;
  private readonly keys: Keys;
  private readonly stats: Stats;
  private state: SourceState = 'connecting';
  private detail = 'starting';
  private gaps = 0;
  private heartbeat: NodeJS.Timeout | undefined;
  private readonly logLimit = new LogLimiter();
  /**
   * Pairs taken so far (at most MAX_PAIRS), each with, for a replay, the
   * position its last write of this file stored (NaN until read): one
   * lookup per trade for both.
   */
  private readonly known = new Map<string, { written: number }>();
  private closing: Promise<void> | undefined;
  private queue: { queue: Queue<CloseJobData>; conn: RedisClient } | undefined;
  /** For a replay: the base bucket the last close run was asked for, and the asking in flight (closeAsReplayed). */
  private readonly replayCloses: { asked: number; run?: Promise<void> } = { asked: -Infinity };
  /** A replay's clock: the newest trade time accepted so far (ms). */
  private replayClock = -Infinity;
  private replay:
    | {
        readonly fingerprint: string;
        readonly file: string;
        /** Where batches started, oldest first, with the clock before each (for the checkpoint). */
        readonly marks: (ReplayMark & { readonly clock: number })[];
        /** Dead letters of this file are written up to this position. */
        deadLettered: number;
        /** Position of the next item the source will hand over. */
        next: number;
        saved?: string;
        timer?: NodeJS.Timeout;
      }
    | undefined;
  pairs: string[] = [];
  /** This process among the deployment's ingesters (the value of the leases it holds). */
  readonly id = processId();
  private readonly leases: Leases;
  /** A live source's pairs, shared among the ingesters. */
  private readonly pairLeases: PairLeases | undefined;
  /** A source that is one process's job. */
  private readonly sourceLease: SourceLease | undefined;
  /** Waiting for the source lease: this process reads nothing and reports no status. */
  private standby = false;
  /** Another ingester runs the source now: the status is its to report. */
  private steppedDown = false;

  constructor(
    private readonly config: IngestConfig,
    private readonly source: Source,
    private readonly log: Logger,
    private readonly opts: {
      /** The wall clock (tests fix it to check the time bounds to the millisecond). */
      readonly wallClock?: () => number;
      /** Most pairs followed (default MAX_PAIRS; tests make it small). */
      readonly maxPairs?: number;
      /** The source lease was found held by another ingester: the source is stopped, and the process should exit. */
      readonly onSourceLeaseLost?: (why: string) => void;
      readonly leaseTiming?: LeaseTiming;
    } = {},
  ) {
    this.keys = new Keys(config.REDIS_PREFIX);
    this.redis = createRedis(config, 'command', log.child({ component: 'redis' }));
    const timing = opts.leaseTiming ?? LEASE_TIMING;
    this.leases = new Leases(this.redis, this.id, timing.leaseMs);
    const leaseLog = log.child({ component: 'leases', id: this.id });
    if (source.follow) {
      const follow = source.follow.bind(source);
      this.pairLeases = new PairLeases(this.leases, this.keys, leaseLog, (pairs) => follow(pairs), timing);
    } else {
      this.sourceLease = new SourceLease(this.leases, this.keys, leaseLog, (why) => this.sourceLeaseLost(why), timing);
    }
    this.store = new CandleStore(this.redis, this.keys, planPeriods(config.PERIODS), {
      tickRetentionMs: config.TICK_RETENTION,
      maxLateMs: config.MAX_LATE,
    });
    this.stats = new Stats(this.redis, this.keys);
    const flatOut = source.kind === 'replay' && config.REPLAY_SPEED === 0;
    this.deadLetters = new DeadLetters(this.redis, this.keys, source.kind, log.child({ component: 'dead-letters' }));
    this.writer = new TickWriter(this.store.writes, this.stats, this.deadLetters, log.child({ component: 'writer' }), {
      maxBuffer: config.INGEST_BUFFER,
      // A script call of 500 trades takes well under a millisecond of Redis
      // (the ingester folds them; the script checks and merges): short
      // enough that no other client waits long, long enough that the call's
      // own cost is small.
      batchSize: 500,
      // A live source's trades (and a replay's at a real speed) go within
      // 20 ms. A replay as fast as it can (REPLAY_SPEED=0) reads faster than
      // any store writes: its trades may wait up to a second and pile up, so
      // that over many pairs each pair's batch holds hundreds of trades, not
      // a few, and a script call's fixed cost (~0.1 ms) is spread thin. It
      // goes as soon as half the bound waits: where the source waits for room
      // (TickWriter.room), which the flush gives back at once, so the next
      // trades are read while these are written.
      flushMs: flatOut ? 1_000 : 20,
      flushAt: flatOut ? Math.floor(config.INGEST_BUFFER / 2) : 50_000,
      // The source rides along so the worker reads a replay clock even if
      // the first write at start-up found Redis away.
      onFlushed:
        source.kind === 'replay'
          ? async (t) => {
              await this.writeClock({ source: 'replay', time: t });
              this.closeAsReplayed(t);
            }
          : undefined,
    });
  }

  async start(): Promise<void> {
    // The command client fails commands at once while it connects (no
    // offline queue): give it a moment, or the meta check below would fail
    // on every start.
    await this.redisReady(REDIS_READY_WAIT_MS);
    await this.checkMeta();
    this.log.info({ id: this.id }, `ingester ${this.id}`);
    if (this.sourceLease) {
      this.standby = true;
      const held = await this.sourceLease.acquire((holder) =>
        this.log.info(
          { holder, source: this.source.kind },
          `standing by: ingester ${holder} runs the ${this.source.kind} source under REDIS_PREFIX=${this.keys.prefix}; this one takes over when it stops`,
        ),
      );
      if (!held || this.closing) return;
      this.standby = false;
    }
    if (this.source.kind !== 'replay') {
      await this.writeClock({ source: this.source.kind, time: '', done: '0' }).catch((err: Error) =>
        this.log.warn({ err: err.message }, 'cannot write the source clock yet (Redis away?)'),
      );
    }
    this.heartbeat = setInterval(() => void this.reportStatus(), HEARTBEAT_MS);
    this.pairs = await this.source.start(this.sink());
    const held = this.pairLeases?.pairs();
    this.log.info(
      { source: this.source.kind, pairs: this.pairs, ...(held && { held }) },
      `following ${this.pairs.length} pair(s)${held ? `, ${held.length} of them by this ingester (by lease; the others' share is theirs)` : ''}`,
    );
    await this.store.registerPairs(this.pairs).catch(() => undefined);
    void this.reportStatus();
    if (this.source.finished) {
      void this.source.finished.then(() => this.replayDone()).catch((err: Error) => {
        this.log.error({ err: err.message }, 'replay failed');
        this.setStatus('failed', err.message);
      });
    }
  }

  private async checkMeta(): Promise<void> {
    const report = await checkMetaWhenReady(this.redis, this.keys, this.store.plan, { source: this.source.kind }, this.log);
    if (report.created) this.log.info({ prefix: this.keys.prefix }, `new deployment under REDIS_PREFIX=${this.keys.prefix}`);
  }

  /** Resolves once Redis answers, or after `ms` (the writer buffers and retries meanwhile). */
  private async redisReady(ms: number): Promise<void> {
    if (this.redis.status === 'ready') return;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.redis.off('ready', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.redis.once('ready', done);
    });
  }

  private sink(): SourceSink {
    return {
      log: this.log,
      trades: (raw, replay) => this.accept(raw, replay),
      lastTrade: (pair) => this.store.latestTrade(pair),
      ...(this.source.kind === 'poloniex' && { history: new HistoryStore(this.redis, this.keys, this.store.plan, (pair, ms) => this.closeImported(pair, ms)) }),
      ...(this.pairLeases && { claim: (pairs: readonly string[]) => this.pairLeases!.start(pairs) }),
      malformed: (reason, sample, pos) => {
        this.malformed(reason, sample, pos);
        return this.deadLetters.room();
      },
      status: (state, detail) => this.setStatus(state, detail),
      resume: (fingerprint, file) => this.resume(fingerprint, file),
      gap: (pair, missed, detail) => {
        this.gaps += missed;
        this.writer.count('trades_missed_total', missed);
        this.log.error({ pair, missed, detail: cut(detail, 300) }, `${missed} trade(s) of ${pair} missed: the exchange no longer lists them`);
        void this.reportStatus();
      },
    };
  }

  /** The source's clock: the wall clock, or for a replay the newest trade time accepted. */
  private clockNow(wall: number): number {
    return this.source.kind === 'replay' ? this.replayClock : wall;
  }

  private async accept(raw: readonly RawTrade[], replay?: { readonly positions: readonly number[]; readonly mark: ReplayMark }): Promise<void> {
    const r = this.replay;
    if (r && replay) {
      r.marks.push({ ...replay.mark, clock: this.replayClock });
      const last = replay.positions[replay.positions.length - 1];
      r.next = Math.max(r.next, replay.mark.pos, last === undefined ? -1 : last + 1);
    }
    const wall = (this.opts.wallClock ?? Date.now)();
    for (let i = 0; i < raw.length; i++) {
      const pos = replay?.positions[i];
      let tick;
      try {
        tick = toTick(raw[i]!);
      } catch (err) {
        if (!(err instanceof TickError)) throw err;
        this.malformed(err.message, safeJson(raw[i]), pos);
        continue;
      }
      let known = this.known.get(tick.pair);
      if (known === undefined) {
        const max = this.opts.maxPairs ?? MAX_PAIRS;
        if (this.known.size >= max) {
          this.setAside(`pair ${tick.pair} would be one more than the ${max} pairs a deployment follows`, safeJson(raw[i]), pos, 'ticks_malformed_total');
          continue;
        }
        known = { written: NaN };
        this.known.set(tick.pair, known);
      }
      // Time bounds (README): one bad timestamp costs no more than one good trade.
      if (tick.time > wall + MAX_AHEAD_MS) {
        this.setAside(`trade ${tick.id} of ${tick.pair} at ${iso(tick.time)} is more than ${MAX_AHEAD_MS / 1000} s ahead of the wall clock`, safeJson(raw[i]), pos);
        continue;
      }
      const clock = this.source.kind === 'replay' ? Math.max(this.replayClock, tick.time) : wall;
      if (tick.time < clock - this.config.MAX_LATE) {
        this.setAside(
          `trade ${tick.id} of ${tick.pair} at ${iso(tick.time)} is older than the source's clock (${iso(clock)}) minus MAX_LATE`,
          safeJson(raw[i]),
          pos,
        );
        continue;
      }
      if (this.source.kind === 'replay') this.replayClock = clock;
      if (r && pos !== undefined) {
        // Resumed: what an earlier run wrote is not written again (the
        // pair's position skipped by, read once per pair).
        if (known.written !== known.written) known.written = await this.writtenPosition(tick.pair);
        if (pos <= known.written) continue;
      }
      this.writer.add(tick, this.clockNow(wall), pos);
    }
    this.writer.schedule();
    await Promise.all([this.writer.room(), this.deadLetters.room()]);
  }

  private malformed(reason: string, sample: string, pos?: number): void {
    this.setAside(reason, sample, pos, 'ticks_malformed_total');
  }

  /** Sets input aside: a dead letter, counted with it; each kind of reason logged once. */
  private setAside(reason: string, sample: string, pos: number | undefined, counter: 'ticks_malformed_total' | 'ticks_out_of_window_total' = 'ticks_out_of_window_total'): void {
    const r = this.replay;
    if (r && pos !== undefined && pos <= r.deadLettered) return; // set aside by an earlier run of this file
    if (this.logLimit.allow(reasonKind(reason))) {
      const more = this.logLimit.suppressed();
      this.log.warn(
        { reason: cut(reason, 300), sample: cut(sample, 500), ...(more > 0 && { notLogged: more }) },
        `input set aside (each kind logged once; counted in ${counter})`,
      );
    }
    this.deadLetters.add({
      reason,
      sample,
      counter,
      ...(r && pos !== undefined && { position: `${r.fingerprint}:${pos}`, pos }),
    });
  }

  /** The replay position stored with the pair's last write of this file, or -1. */
  private async writtenPosition(pair: string): Promise<number> {
    const r = this.replay!;
    const tagged = await this.redis.hget(this.keys.state(pair), 'rp');
    return positionOf(tagged, r.fingerprint);
  }

  /** For a replay: where an earlier run of this file got to (see SourceSink.resume). */
  private async resume(fingerprint: string, file: string): Promise<ReplayResume | undefined> {
    const h = await this.redis.hgetall(this.keys.replay());
    this.replay = { fingerprint, file, marks: [], deadLettered: positionOf(h.dl, fingerprint), next: 0 };
    this.writer.setPositionTag(fingerprint);
    this.replay.timer = setInterval(() => void this.checkpoint(), CHECKPOINT_MS);
    if (h.fp !== fingerprint) {
      if (h.fp) this.log.info({ file, stored: h.file }, 'a different file than the last replay: reading it from the start');
      await this.redis.hset(this.keys.replay(), { fp: fingerprint, file, line: 1, offset: 0, clock: '', done: '0' });
      await this.writeClock({ source: 'replay', time: '', done: '0' });
      return undefined;
    }
    const clock = Number(h.clock);
    if (h.clock && Number.isFinite(clock)) this.replayClock = clock;
    const line = Number(h.line);
    const offset = Number(h.offset);
    const done = h.done === '1';
    await this.writeClock({ source: 'replay', done: '0' });
    if (!(line > 1) || !Number.isFinite(offset)) return undefined;
    this.log.info({ file, line, offset, clock: h.clock ? iso(clock) : undefined, done }, `resuming the replay of ${file} at line ${line}`);
    return { line, offset, done };
  }

  /**
   * Stores where a restart may resume: the start of the batch holding the
   * oldest item not yet written (a trade or a dead letter). Items after it
   * that were written are skipped on resume by the pair's stored position.
   */
  private async checkpoint(done = false): Promise<void> {
    const r = this.replay;
    if (!r) return;
    const low = Math.min(this.writer.lowestPending, this.deadLetters.lowestPending, r.next);
    let at: (ReplayMark & { clock: number }) | undefined;
    let i = 0;
    while (i < r.marks.length && r.marks[i]!.pos <= low) at = r.marks[i++];
    if (i > 1) r.marks.splice(0, i - 1);
    if (!at) return;
    // At the end every item is written: the clock is the replay's last.
    const clock = done ? this.replayClock : at.clock;
    const fields = { line: at.line, offset: at.offset, clock: Number.isFinite(clock) ? clock : '', done: done ? '1' : '0' };
    const text = JSON.stringify(fields);
    if (text === r.saved) return;
    try {
      await this.redis.hset(this.keys.replay(), fields);
      r.saved = text;
    } catch {
      // Redis away: the next checkpoint will do.
    }
  }

  private setStatus(state: SourceState, detail: string): void {
    if (state !== this.state || detail !== this.detail) {
      const level = state === 'disconnected' || state === 'failed' ? 'warn' : 'info';
      this.log[level]({ state, detail: cut(detail, 300) }, `source ${state}: ${cut(detail, 300)}`);
    }
    this.state = state;
    this.detail = cut(detail, 300);
    void this.reportStatus();
  }

  private async reportStatus(): Promise<void> {
    // A standby's status is not the source's: the holder reports it.
    if (this.standby || this.steppedDown) return;
    try {
      // Sharing the pairs by lease: this ingester's own status, with the
      // pairs it holds (readSourceStatus judges the ingesters together).
      const own = this.pairLeases ? { id: this.id, holds: this.pairLeases.pairs().length } : undefined;
      await this.stats.writeSourceStatus({ source: this.source.kind, state: this.state, detail: this.detail, gaps: this.gaps }, own);
    } catch {
      // Redis away: the writer logs that; /readyz will see a stale heartbeat.
    }
  }

  private async writeClock(fields: Record<string, string | number>): Promise<void> {
    await this.redis.hset(this.keys.clock(), fields);
  }

  /**
   * For a replay: asks the workers for a close run when its clock enters a
   * new base bucket, so that closing goes on beside the reading instead of
   * all after it (the worker's schedules follow the wall clock, a minute
   * apart, while a replay crosses hours of buckets in seconds). One run at
   * a time: a new one only once the last has left the queue, so runs never
   * pile up faster than the workers go. What a run closes is what the
   * worker finds due by the replay clock, as for any scheduled run; a trade
   * written later into a closed bucket revises it (the late-trade path).
   */
  private closeAsReplayed(time: number): void {
    const bucket = Math.floor(time / this.store.plan.baseMs);
    if (bucket <= this.replayCloses.asked || this.replayCloses.run || this.closing) return;
    this.replayCloses.run = (async () => {
      const queue = this.closeQueue();
      if ((await queue.getJobCountByTypes('waiting', 'prioritized', 'active')) > 0) return;
      await enqueueClose(queue, 'close while replaying');
      this.replayCloses.asked = bucket;
    })()
      .catch((err: Error) => this.log.warn({ err: err.message }, 'cannot queue a close run during the replay (Redis away?): the workers close at their next run'))
      .finally(() => (this.replayCloses.run = undefined));
  }

  /**
   * A pair's history is imported: the periods rolled up from it close now,
   * not at the workers' next run over every period (up to a minute away).
   * One job per period at the top of a chain (its chain is the period and
   * its sources), for the pair's shard only.
   */
  private async closeImported(pair: string, periodMs: number): Promise<void> {
    const covered = periodsFromHistory(this.store.plan, periodMs);
    const sources = new Set(this.store.plan.chain.map((c) => c.sourceMs));
    const shard = { index: closeShardOf(pair, CLOSE_SHARDS), of: CLOSE_SHARDS };
    try {
      for (const ms of covered) if (!sources.has(ms)) await enqueueClose(this.closeQueue(), 'close after history import', { periodMs: ms, shard });
    } catch (err) {
      this.log.warn({ pair, err: (err as Error).message }, `cannot queue the close of ${pair}'s imported history (Redis away?): the workers roll it up at their next run over every period`);
    }
  }

  private closeQueue(): Queue<CloseJobData> {
    if (!this.queue) {
      const conn = createRedis(this.config, 'bullmq');
      this.queue = { conn, queue: openCloseQueue(conn, this.keys) };
      onLibraryError(this.queue.queue, this.log, 'close queue');
    }
    return this.queue.queue;
  }

  /** A replay has handed over its whole file: write it all, then close every bucket it touched. */
  private async replayDone(): Promise<void> {
    await this.writer.drain();
    await this.deadLetters.drain();
    clearInterval(this.replay?.timer);
    await this.checkpoint(true);
    await this.writeClock({ done: '1' });
    this.setStatus('done', 'replay finished: every bucket it touched is closed');
    // Close now rather than at the next scheduled run (up to a period away).
    await this.replayCloses.run;
    await enqueueClose(this.closeQueue(), 'close after replay');
  }

  private sourceLeaseLost(why: string): void {
    this.steppedDown = true;
    this.setStatus('failed', why);
    void this.source.close();
    this.opts.onSourceLeaseLost?.(why);
  }

  /** Waiting for the source lease another ingester holds (healthy: it is doing its job). */
  get standingBy(): boolean {
    return this.standby && !this.closing;
  }

  /** The source's state as last reported (connecting, connected, ..., done). */
  get sourceState(): SourceState {
    return this.state;
  }

  /** Stops the source, writes what is buffered (while Redis answers), stops. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.heartbeat);
      this.pairLeases?.stop();
      if (this.standby) await this.sourceLease?.release();
      await this.source.close();
      // Unsubscribed: the others may take the pairs at once (they backfill from what is stored).
      await this.pairLeases?.releaseAll().catch((err: Error) => this.log.warn({ err: err.message }, 'cannot give up the pair leases: they lapse by themselves'));
      await Promise.race([Promise.all([this.writer.drain(), this.deadLetters.drain()]), new Promise((r) => setTimeout(r, 5_000))]);
      clearInterval(this.replay?.timer);
      if (this.replay && this.state !== 'done') await this.checkpoint();
      await this.writer.close();
      await this.deadLetters.close();
      // Other live ingesters follow the pairs on: the status is theirs to report.
      if (this.state !== 'done' && !(this.pairLeases && this.pairLeases.live > 1)) {
        this.state = 'disconnected';
        this.detail = 'ingester stopped';
        await this.reportStatus();
      }
      await this.replayCloses.run;
      if (this.queue) {
        await this.queue.queue.close();
        await closeRedis(this.queue.conn);
      }
      // Last, once everything is written and the replay's position stored: a standby resumes from there.
      await this.sourceLease?.release().catch((err: Error) => this.log.warn({ err: err.message }, 'cannot give up the source lease: it lapses by itself'));
      await closeRedis(this.redis);
    })();
    return this.closing;
  }
}

/** "<tag>:<pos>" -> pos when the tag is ours, else -1. */
function positionOf(tagged: string | null | undefined, tag: string): number {
  if (!tagged || !tagged.startsWith(`${tag}:`)) return -1;
  const n = Number(tagged.slice(tag.length + 1));
  return Number.isFinite(n) ? n : -1;
}

/** JSON of raw input for a dead letter; never throws (BigInt, cycles). */
function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
