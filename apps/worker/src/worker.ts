/**
 * The worker: BullMQ job schedulers, one per shard of the pairs, fire at
 * each base period's end plus GRACE_MS; each job closes what has ended for
 * its shard's pairs (see closer.ts), so several workers share the work. At
 * start it also queues one catch-up run, so a worker that was down closes
 * the missed buckets at once rather than at the next scheduled end (a day
 * away for 1d).
 */
import { UnrecoverableError, Worker, type Job, type Queue } from 'bullmq';
import {
  AUDIT_JOB_OPTIONS,
  AUDIT_QUEUE,
  AUDIT_SCHEDULER,
  CLOSE_JOB_OPTIONS,
  POLONIEX_INTERVALS,
  PoloniexCandles,
  auditQueueOptions,
  openAuditQueue,
  CLOSE_QUEUE,
  CloseJobError,
  Keys,
  checkMetaWhenReady,
  closeQueueOptions,
  closeShards,
  closeRedis,
  createRedis,
  enqueueClose,
  openCloseQueue,
  parseCloseJob,
  onLibraryError,
  periodLabel,
  planPeriods,
  redactText,
  removeUntaggedCloseQueue,
  type CloseJobData,
  type CloseShard,
  type Logger,
  type PeriodPlan,
  type RedisClient,
} from '@candlestack/shared';
import { Auditor, auditablePeriods, type AuditOptions } from './audit.js';
import { Closer } from './closer.js';
import type { WorkerConfig } from './env.js';

export interface RunningWorker {
  readonly queue: Queue<CloseJobData>;
  /** The audit's queue, when AUDIT is on and a period is one the exchange serves. */
  readonly auditQueue: Queue | undefined;
  /** Redis answers and the close worker runs (what HEALTH_FILE reports). */
  healthy(): Promise<boolean>;
  close(): Promise<void>;
}

const schedulerId = (baseMs: number, shard: CloseShard) => `close-every-${periodLabel(baseMs)}-shard-${shard.index}-of-${shard.of}`;

/**
 * The stored deployment meta against PERIODS (see shared meta.ts): stops on
 * another base period; a new period is taken, and the log says what its
 * candles will be built from.
 */
async function checkStoredMeta(redis: RedisClient, keys: Keys, plan: PeriodPlan, config: WorkerConfig, log: Logger): Promise<void> {
  const report = await checkMetaWhenReady(redis, keys, plan, { recordPeriods: true }, log);
  const base = periodLabel(plan.baseMs);
  for (const ms of report.added) {
    const keep = config.CANDLE_RETENTION.get(plan.baseMs);
    const from = keep
      ? `the ${base} candles still kept (CANDLE_RETENTION ${base}: the last ${periodLabel(keep)}); older buckets stay empty`
      : `every stored ${base} candle, from each pair's first trade`;
    log.info({ period: periodLabel(ms) }, `period ${periodLabel(ms)} is new to this deployment: its candles are built from ${from}`);
  }
  for (const ms of report.dropped) {
    log.info({ period: periodLabel(ms) }, `period ${periodLabel(ms)} is no longer built: its candles stay, but no new one closes`);
  }
}

/**
 * BullMQ aligns `every` schedules to multiples of `every`, shifted by
 * `offset`: firing at each bucket's end plus the grace time. An offset of 0
 * would mean "no alignment", hence a full period instead.
 */
export const scheduleOffset = (periodMs: number, graceMs: number) => graceMs % periodMs || periodMs;

/** Knobs tests shorten; production keeps the defaults. */
export interface WorkerOptions {
  /** How often the audit runs (ms, default 10 s): a closed candle is compared within about this long. */
  readonly auditEveryMs?: number;
  readonly audit?: AuditOptions;
}

export async function startWorker(config: WorkerConfig, log: Logger, opts: WorkerOptions = {}): Promise<RunningWorker> {
  const keys = new Keys(config.REDIS_PREFIX);
  const plan = planPeriods(config.PERIODS);
  const redis: RedisClient = createRedis(config, 'command', log.child({ component: 'redis' }));
  try {
    await checkStoredMeta(redis, keys, plan, config, log);
  } catch (err) {
    await closeRedis(redis);
    throw err;
  }
  const bull = createRedis(config, 'bullmq');
  const closer = new Closer(redis, keys, plan, config.GRACE_MS, log, config.CANDLE_RETENTION);
  const queue = openCloseQueue(bull, keys);
  // Before any call: without it BullMQ prints connection errors with console.error, the AUTH password included.
  onLibraryError(queue, log, 'close queue');

  if (await removeUntaggedCloseQueue(bull, keys)) log.info('removed the close queue of an older Candlestack (its keys had no hash tag)');

  // One scheduler per shard of the pairs, at each base bucket's end plus
  // the grace time: its job closes every period due then for its pairs (one
  // script call per pair closes them all), so buckets of several periods
  // ending at once cost one pass over the pairs, not one per period. The
  // shards' jobs go to whichever workers are free: several workers share
  // the work.
  const shards = closeShards();
  const ids = new Set(shards.map((shard) => schedulerId(plan.baseMs, shard)));
  for (const s of await queue.getJobSchedulers()) {
    if (s.key && !ids.has(s.key)) {
      await queue.removeJobScheduler(s.key);
      log.info({ scheduler: s.key }, 'removed a scheduler of an earlier configuration');
    }
  }
  for (const shard of shards) {
    await queue.upsertJobScheduler(
      schedulerId(plan.baseMs, shard),
      { every: plan.baseMs, offset: scheduleOffset(plan.baseMs, config.GRACE_MS) },
      { name: `close every ${periodLabel(plan.baseMs)}`, data: parseCloseJob({ shard }), opts: CLOSE_JOB_OPTIONS },
    );
  }
  await enqueueClose(queue, 'catch up');

  // BullMQ never closes a connection it was given: closed below.
  const workerConn = createRedis(config, 'bullmq');
  const worker = new Worker<CloseJobData>(
    CLOSE_QUEUE,
    async (job: Job<CloseJobData>) => {
      const started = Date.now();
      let data: CloseJobData;
      try {
        data = parseCloseJob(job.data);
      } catch (err) {
        // A job the contract refuses (not ours, another version's) will never pass: not retried.
        if (err instanceof CloseJobError) throw new UnrecoverableError(err.message);
        throw err;
      }
      const r = await closer.run(data.periodMs, (done, total) => job.updateProgress(Math.round((done / total) * 100)), data.shard);
      const level = r.closed > plan.chain.length * Math.max(r.pairs, 1) * 2 || r.revised > 0 ? 'info' : 'debug';
      const shard = data.shard ? ` (shard ${data.shard.index + 1} of ${data.shard.of})` : '';
      log[level]({ job: job.name, shard: data.shard?.index, ...r, ms: Date.now() - started }, `${job.name}${shard}: ${r.closed} candle(s) closed, ${r.revised} revised, ${r.pairs} pair(s)`);
      return r;
    },
    { ...closeQueueOptions(workerConn, keys), concurrency: 1 },
  );
  worker.on('failed', (job, err) =>
    err instanceof UnrecoverableError
      ? log.error({ job: job?.name, err: err.message }, 'close job refused')
      : log.error({ job: job?.name, err: redactText(err.message) }, 'close job failed (will retry)'),
  );
  onLibraryError(worker, log, 'close worker');
  log.info({ periods: plan.periods.map((p) => p.label), baseMs: plan.baseMs, graceMs: config.GRACE_MS }, 'close schedulers in place');

  const audit = await startAudit(config, keys, plan, redis, bull, log.child({ component: 'audit' }), opts);

  let closing: Promise<void> | undefined;
  return {
    queue,
    auditQueue: audit?.queue,
    async healthy() {
      return closing === undefined && worker.isRunning() && (await redis.ping()) === 'PONG';
    },
    close() {
      closing ??= (async () => {
        // Together: each BullMQ worker may wait out its blocking fetch
        // (up to 5 s) before it closes, and a stop must fit in seconds.
        await Promise.all([audit?.close(), worker.close()]);
        await closeRedis(workerConn);
        await queue.close();
        await closeRedis(bull);
        await closeRedis(redis);
      })();
      return closing;
    },
  };
}

/**
 * The audit (audit.ts) in its own queue, so the exchange's REST API being
 * slow or down never holds up a close job: one scheduler for the
 * deployment, its jobs taken by one worker at a time. AUDIT=off, or no
 * period Poloniex serves: no scheduler (one left by an earlier
 * configuration is removed).
 */
async function startAudit(
  config: WorkerConfig,
  keys: Keys,
  plan: PeriodPlan,
  redis: RedisClient,
  bull: RedisClient,
  log: Logger,
  opts: WorkerOptions,
): Promise<{ queue: Queue; close(): Promise<void> } | undefined> {
  const queue = openAuditQueue(bull, keys);
  onLibraryError(queue, log, 'audit queue');
  const periods = auditablePeriods(plan);
  if (config.AUDIT === 'off' || periods.length === 0) {
    if (await queue.removeJobScheduler(AUDIT_SCHEDULER)) log.info('removed the audit scheduler of an earlier configuration');
    await queue.close();
    log.info(config.AUDIT === 'off' ? 'audit off (AUDIT=off)' : `audit off: no period built is one Poloniex serves (${[...POLONIEX_PERIOD_LABELS].join(', ')})`);
    return undefined;
  }
  const auditor = new Auditor(redis, keys, plan, new PoloniexCandles(config.POLONIEX_REST_URL, 10_000), log, opts.audit);
  const every = opts.auditEveryMs ?? 10_000;
  await queue.upsertJobScheduler(AUDIT_SCHEDULER, { every }, { name: 'audit closed candles', data: {}, opts: AUDIT_JOB_OPTIONS });
  const conn = createRedis(config, 'bullmq');
  const worker = new Worker(
    AUDIT_QUEUE,
    async (job: Job) => {
      const r = await auditor.run();
      const level = r.differs > 0 || r.unavailable > 0 ? 'info' : 'debug';
      log[level]({ job: job.name, ...r }, r.skipped ? `audit skipped: ${r.skipped}` : `audit: ${r.equal} equal, ${r.differs} differ, ${r.unavailable} unavailable (${r.requests} request(s))`);
      return r;
    },
    { ...auditQueueOptions(conn, keys), concurrency: 1 },
  );
  worker.on('failed', (job, err) => log.warn({ job: job?.name, err: redactText(err.message) }, 'audit run failed (the next one continues)'));
  onLibraryError(worker, log, 'audit worker');
  log.info({ periods: periods.map(periodLabel), everyMs: every }, "audit on: closed candles are compared with the exchange's own");
  return {
    queue,
    async close() {
      auditor.close();
      await worker.close();
      await closeRedis(conn);
      await queue.close();
    },
  };
}

const POLONIEX_PERIOD_LABELS = [...POLONIEX_INTERVALS.keys()].map(periodLabel);
