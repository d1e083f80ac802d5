/**
 * The real ingester (and, when asked, the real worker) in-process against the
 * test Redis, under a prefix of its own, with a logger that keeps every line
 * so tests can assert on what was logged.
 */
import { prng } from '../../src/sources/simulated.js';
import { sleep, waitFor as waitUntil } from '../../../../test/support/wait.js';
import { Redis } from 'ioredis';
import {
  CandleStore,
  Keys,
  Stats,
  canonical,
  parseConfig,
  planPeriods,
  type Logger,
  type StoredCandle,
  type Tick,
} from '@candlestack/shared';
import { workerEnv } from '../../../worker/src/env.js';
import { startWorker, type RunningWorker, type WorkerOptions } from '../../../worker/src/worker.js';
import { TEST_REDIS_URL, deletePrefix, testPrefix } from '../../../../test/support/redis.js';
import { ingestEnv, type IngestConfig } from '../../src/env.js';
import { Ingester } from '../../src/ingester.js';
import type { LeaseTiming } from '../../src/pair-leases.js';
import type { Source } from '../../src/source.js';
import type { WireTrade } from './poloniex-stand-in.js';

export interface LogEntry {
  readonly level: string;
  readonly msg: string;
  readonly [field: string]: unknown;
}

export interface CapturedLog {
  readonly logger: Logger;
  readonly entries: LogEntry[];
  /** Entries whose message (or, with `field`, that field) matches. */
  find(pattern: RegExp, field?: string): LogEntry[];
}

/** A pino-shaped logger that records every line (TEST_LOG=1 also prints them). */
export function captureLog(): CapturedLog {
  const entries: LogEntry[] = [];
  const make = (bindings: Record<string, unknown>): Logger => {
    const write =
      (level: string) =>
      (objOrMsg?: unknown, msg?: string): void => {
        const obj = typeof objOrMsg === 'object' && objOrMsg !== null ? (objOrMsg as Record<string, unknown>) : {};
        const text = typeof objOrMsg === 'string' ? objOrMsg : (msg ?? '');
        const e: LogEntry = { ...bindings, ...obj, level, msg: text };
        entries.push(e);
        if (process.env.TEST_LOG) process.stderr.write(`${JSON.stringify(e)}\n`);
      };
    return {
      level: 'trace',
      trace: write('trace'),
      debug: write('debug'),
      info: write('info'),
      warn: write('warn'),
      error: write('error'),
      fatal: write('fatal'),
      child: (b: Record<string, unknown>) => make({ ...bindings, ...b }),
    } as unknown as Logger;
  };
  return {
    logger: make({}),
    entries,
    find: (pattern, field = 'msg') => entries.filter((e) => pattern.test(String(e[field] ?? ''))),
  };
}

export interface Pipeline {
  readonly prefix: string;
  readonly config: IngestConfig;
  readonly ingester: Ingester;
  readonly worker: RunningWorker | undefined;
  readonly redis: Redis;
  readonly keys: Keys;
  readonly store: CandleStore;
  readonly stats: Stats;
  readonly log: CapturedLog;
  /** Stops the ingester (and worker) and deletes the prefix's keys. Idempotent. */
  close(): Promise<void>;
}

export interface PipelineOptions {
  /** Environment on top of the test defaults (PERIODS=1s,5s, GRACE_MS=200). */
  readonly env?: Record<string, string>;
  /** Start the worker too (default true). */
  readonly worker?: boolean;
  /** Call ingester.start() (default true); false lets a test expect it to fail. */
  readonly start?: boolean;
  /** Reuse a prefix (a restart); it is then not deleted by close(). */
  readonly prefix?: string;
  readonly log?: CapturedLog;
  /** The ingester's wall clock (default Date.now). */
  readonly wallClock?: () => number;
  /** Most pairs the ingester takes (default MAX_PAIRS). */
  readonly maxPairs?: number;
  /** Lease time to live and renewal interval (default LEASE_TIMING: 10 s, 2 s). */
  readonly leaseTiming?: LeaseTiming;
  /** The worker's knobs (the audit's schedule and pacing). */
  readonly workerOptions?: WorkerOptions;
}

export async function startPipeline(source: Source, opts: PipelineOptions = {}): Promise<Pipeline> {
  const prefix = opts.prefix ?? testPrefix('ingest');
  const env = {
    REDIS_URL: TEST_REDIS_URL,
    REDIS_PREFIX: prefix,
    PERIODS: '1s,5s',
    GRACE_MS: '200',
    ...opts.env,
  };
  const config = parseConfig(ingestEnv, env);
  const log = opts.log ?? captureLog();
  const redis = new Redis(TEST_REDIS_URL);
  const keys = new Keys(prefix);
  const store = new CandleStore(redis, keys, planPeriods(config.PERIODS));
  const worker = opts.worker === false ? undefined : await startWorker(parseConfig(workerEnv, env), log.logger.child({ app: 'worker' }), opts.workerOptions);
  const ingester = new Ingester(config, source, log.logger.child({ app: 'ingest' }), { wallClock: opts.wallClock, maxPairs: opts.maxPairs, leaseTiming: opts.leaseTiming });
  let closing: Promise<void> | undefined;
  const p: Pipeline = {
    prefix,
    config,
    ingester,
    worker,
    redis,
    keys,
    store,
    stats: new Stats(redis, keys),
    log,
    close() {
      closing ??= (async () => {
        await ingester.close();
        await worker?.close();
        if (!opts.prefix) await deletePrefix(prefix);
        redis.disconnect();
      })();
      return closing;
    },
  };
  if (opts.start !== false) {
    try {
      await ingester.start();
    } catch (err) {
      await p.close();
      throw err;
    }
  }
  return p;
}

export { sleep };

/** Polls `check` until it returns something truthy; throws after `timeoutMs` saying what it waited for. */
export function waitFor<T>(what: string, check: () => Promise<T | undefined | false | null> | T | undefined | false | null, timeoutMs = 15_000): Promise<T> {
  return waitUntil(async () => (await check()) ?? undefined, what, timeoutMs);
}

/** The ticks a test expects from trades it had the stand-in execute (worked out here, not by the ingester). */
export function ticksOf(trades: readonly WireTrade[]): Tick[] {
  return trades.map((t) => ({
    pair: t.symbol,
    time: t.createTime,
    price: canonical(t.price),
    quantity: canonical(t.quantity),
    amount: canonical(t.amount),
    side: t.takerSide,
    id: t.id,
  }));
}

/** A candle without the store's bookkeeping (first and last trade of the bucket). */
export function view(c: StoredCandle): Omit<StoredCandle, 'ot' | 'oi' | 'ct' | 'ci'> {
  return { time: c.time, open: c.open, high: c.high, low: c.low, close: c.close, volume: c.volume, quoteVolume: c.quoteVolume, trades: c.trades };
}

/** Waits until the worker has closed `pair`'s `periodMs` candles through bucket `through`, then returns them from `from`. */
export async function closedCandles(p: Pipeline, pair: string, periodMs: number, from: number, through: number, timeoutMs = 15_000): Promise<StoredCandle[]> {
  await waitFor(
    `${pair} ${periodMs} ms candles closed through ${new Date(through).toISOString()}`,
    async () => ((await p.store.state(pair)).closedThrough.get(periodMs) ?? -Infinity) >= through,
    timeoutMs,
  );
  return p.store.closedCandles(pair, periodMs, { from, to: through + periodMs, limit: 100_000 });
}

/** A counter from the stats hash (0 when never counted). */
export async function counter(p: Pipeline, name: string): Promise<number> {
  return (await p.stats.read())[name] ?? 0;
}

/** mulberry32 (the simulated market's), for trades that are random-looking but the same on every run. */
export { prng };

/** Trades for the stand-in: `count` of them, times spread evenly over [from, to], prices a seeded random walk. */
export function tradeSpecs(
  rand: () => number,
  count: number,
  from: number,
  to: number,
  market: { price: number; priceDecimals: number; qtyDecimals: number },
): { price: string; quantity: string; side: 'buy' | 'sell'; createTime: number }[] {
  let ticks = Math.round(market.price * 10 ** market.priceDecimals);
  return Array.from({ length: count }, (_, i) => {
    ticks = Math.max(1, ticks + Math.round((rand() - 0.5) * 20));
    const lots = 1 + Math.floor(rand() * 10 ** market.qtyDecimals);
    return {
      price: (ticks / 10 ** market.priceDecimals).toFixed(market.priceDecimals),
      quantity: (lots / 10 ** market.qtyDecimals).toFixed(market.qtyDecimals),
      side: rand() < 0.5 ? 'buy' : 'sell',
      createTime: Math.round(from + ((to - from) * i) / Math.max(1, count - 1)),
    };
  });
}
