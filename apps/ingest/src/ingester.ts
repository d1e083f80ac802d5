/**
 * The ingester: a source's trades, validated, deduplicated and folded into
 * Redis by the tick writer. Bad input is counted, logged once per reason and
 * set aside in the dead-letter stream; the source's health is reported to
 * Redis for /readyz; a replay's clock is published so the worker closes its
 * buckets by the replay's time, not the wall clock.
 */
import { Queue } from 'bullmq';
import {
  CLOSE_QUEUE,
  CandleStore,
  Keys,
  Stats,
  TickError,
  createRedis,
  closeRedis,
  onLibraryError,
  planPeriods,
  toTick,
  type Logger,
  type RawTrade,
  type RedisClient,
  type SourceState,
  type Tick,
} from '@candlestack/shared';
import type { IngestConfig } from './env.js';
import type { Source, SourceSink } from './source.js';
import { TickWriter } from './tick-writer.js';

const HEARTBEAT_MS = 5_000;
const REDIS_READY_WAIT_MS = 10_000;
const DEAD_LETTER_MAXLEN = 10_000;

export class Ingester {
  readonly redis: RedisClient;
  readonly store: CandleStore;
  readonly writer: TickWriter;
  private readonly keys: Keys;
  private readonly stats: Stats;
  private state: SourceState = 'connecting';
  private detail = 'starting';
  private gaps = 0;
  private heartbeat: NodeJS.Timeout | undefined;
  private readonly malformedSeen = new Set<string>();
  private closing: Promise<void> | undefined;
  private queue: { queue: Queue; conn: RedisClient } | undefined;
  pairs: string[] = [];

  constructor(
    private readonly config: IngestConfig,
    private readonly source: Source,
    private readonly log: Logger,
  ) {
    this.keys = new Keys(config.REDIS_PREFIX);
    this.redis = createRedis(config, 'command', log.child({ component: 'redis' }));
    this.store = new CandleStore(this.redis, this.keys, planPeriods(config.PERIODS), config.TICK_RETENTION);
    this.stats = new Stats(this.redis, this.keys);
    this.writer = new TickWriter(this.store, this.stats, log.child({ component: 'writer' }), {
      maxBuffer: config.INGEST_BUFFER,
      batchSize: 1000,
      flushMs: 20,
      // The source rides along so the worker reads a replay clock even if
      // the first write at start-up found Redis away.
      onFlushed: source.kind === 'replay' ? (t) => this.writeClock({ source: 'replay', time: t }) : undefined,
    });
  }

  async start(): Promise<void> {
    // The command client fails commands at once while it connects (no
    // offline queue): give it a moment, or the clock below and a live
    // source's look at what the store holds would fail on every start.
    await this.redisReady(REDIS_READY_WAIT_MS);
    await this.writeClock({ source: this.source.kind, time: '', done: '0' }).catch((err: Error) =>
      this.log.warn({ err: err.message }, 'cannot write the source clock yet (Redis away?)'),
    );
    this.heartbeat = setInterval(() => void this.reportStatus(), HEARTBEAT_MS);
    this.pairs = await this.source.start(this.sink());
    this.log.info({ source: this.source.kind, pairs: this.pairs }, `following ${this.pairs.length} pair(s)`);
    await this.store.registerPairs(this.pairs).catch(() => undefined);
    void this.reportStatus();
    if (this.source.finished) {
      void this.source.finished.then(() => this.replayDone()).catch((err: Error) => {
        this.log.error({ err: err.message }, 'replay failed');
        this.setStatus('failed', err.message);
      });
    }
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
      trades: (raw) => this.accept(raw),
      lastTrade: (pair) => this.store.latestTrade(pair),
      malformed: (reason, sample) => this.malformed(reason, sample),
      status: (state, detail) => this.setStatus(state, detail),
      gap: (pair, missed, detail) => {
        this.gaps += missed;
        this.writer.count('trades_missed_total', missed);
        this.log.error({ pair, missed, detail }, `${missed} trade(s) of ${pair} missed: the exchange no longer lists them`);
        void this.reportStatus();
      },
    };
  }

  private async accept(raw: readonly RawTrade[]): Promise<void> {
    const ticks: Tick[] = [];
    for (const r of raw) {
      try {
        ticks.push(toTick(r));
      } catch (err) {
        if (!(err instanceof TickError)) throw err;
        this.malformed(err.message, JSON.stringify(r));
      }
    }
    this.writer.push(ticks);
    await this.writer.room();
  }

  private malformed(reason: string, sample: string): void {
    this.writer.count('ticks_malformed_total', 1);
    // Group reasons by their wording without the values, so each kind of
    // problem is logged once with one sample.
    const kind = reason.replace(/"[^"]*"|\d+/g, '…');
    if (!this.malformedSeen.has(kind)) {
      this.malformedSeen.add(kind);
      this.log.warn({ reason, sample: sample.slice(0, 500) }, 'malformed input set aside (logged once per kind; counted in ticks_malformed_total)');
    }
    void this.redis
      .xadd(this.keys.deadLetter(), 'MAXLEN', '~', DEAD_LETTER_MAXLEN, '*', 'source', this.source.kind, 'reason', reason, 'sample', sample.slice(0, 2000), 'at', Date.now())
      .catch(() => undefined);
  }

  private setStatus(state: SourceState, detail: string): void {
    if (state !== this.state || detail !== this.detail) {
      const level = state === 'disconnected' || state === 'failed' ? 'warn' : 'info';
      this.log[level]({ state, detail }, `source ${state}: ${detail}`);
    }
    this.state = state;
    this.detail = detail;
    void this.reportStatus();
  }

  private async reportStatus(): Promise<void> {
    try {
      await this.stats.writeSourceStatus({ source: this.source.kind, state: this.state, detail: this.detail, gaps: this.gaps });
    } catch {
      // Redis away: the writer logs that; /readyz will see a stale heartbeat.
    }
  }

  private async writeClock(fields: Record<string, string | number>): Promise<void> {
    await this.redis.hset(this.keys.clock(), fields);
  }

  /** A replay has handed over its whole file: write it all, then close every bucket it touched. */
  private async replayDone(): Promise<void> {
    await this.writer.drain();
    await this.writeClock({ done: '1' });
    this.setStatus('done', 'replay finished: every bucket it touched is closed');
    // Close now rather than at the next scheduled run (up to a period away).
    if (!this.queue) {
      const conn = createRedis(this.config, 'bullmq');
      this.queue = { conn, queue: new Queue(CLOSE_QUEUE, { connection: conn, prefix: this.keys.bullPrefix() }) };
      onLibraryError(this.queue.queue, this.log, 'close queue');
    }
    await this.queue.queue.add('close after replay', { all: true }, { removeOnComplete: 100, removeOnFail: 500 });
  }

  /** Stops the source, writes what is buffered (while Redis answers), stops. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.heartbeat);
      await this.source.close();
      await Promise.race([this.writer.drain(), new Promise((r) => setTimeout(r, 5_000))]);
      await this.writer.close();
      if (this.state !== 'done') {
        this.state = 'disconnected';
        this.detail = 'ingester stopped';
        await this.reportStatus();
      }
      if (this.queue) {
        await this.queue.queue.close();
        await closeRedis(this.queue.conn);
      }
      await closeRedis(this.redis);
    })();
    return this.closing;
  }
}
