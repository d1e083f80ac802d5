/**
 * The deployment's meta: facts fixed when its data was first written, which
 * every app checks at start so that a change of configuration can never
 * silently reinterpret stored data (the contract leaves the inside to us; this
 * is how it stays consistent).
 *
 * Stored (hash `meta`): the key layout's version, the base period, every
 * period ever built, and the kind of source.
 * - Another layout: stop, saying how to start afresh.
 * - Another base period: stop, naming PERIODS. A base bucket's candles are
 *   the unit everything is rolled up from; a new base would misread them.
 * - A new period on the same base: taken. The worker builds it from the
 *   stored base candles (all of them, or those CANDLE_RETENTION still keeps)
 *   and says which. A period no longer built keeps its candles.
 * - A simulated market and a real one (Poloniex, or a replay of recorded
 *   trades) never share data: stop, naming SOURCE. Poloniex after a replay,
 *   or a replay after Poloniex (loading history, then going live), is taken.
 */
import { ConfigError } from './config.js';
import type { SourceKind } from './clock.js';
import { KEY_LAYOUT, type Keys } from './keys.js';
import { periodLabel, type Period, type PeriodPlan } from './period.js';
import type { RedisClient } from './redis.js';

export interface StoredMeta {
  readonly layout: number;
  readonly baseMs: number;
  /** Every period built so far, ms. */
  readonly periods: readonly number[];
  readonly source?: SourceKind;
}

export interface MetaReport {
  readonly meta: StoredMeta;
  /** True when this call wrote the meta (the deployment's first start). */
  readonly created: boolean;
  /** Periods this app builds that the stored meta did not list yet. */
  readonly added: readonly number[];
  /** Periods the stored meta lists that this app does not build. */
  readonly dropped: readonly number[];
}

// Writes the meta only if there is none, and returns what is stored: two
// apps starting at once agree on one meta.
const INIT = `
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'layout', ARGV[1], 'base', ARGV[2], 'periods', ARGV[3], 'created', ARGV[4])
  if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'source', ARGV[5]) end
  return { 1, redis.call('HGETALL', KEYS[1]) }
end
return { 0, redis.call('HGETALL', KEYS[1]) }
`;

const labels = (ms: readonly number[]) => ms.map(periodLabel).join(',');

function parse(flat: string[]): StoredMeta {
  const h: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) h[flat[i]!] = flat[i + 1]!;
  const periods = (h.periods ?? '')
    .split(',')
    .filter((s) => s !== '')
    .map(Number);
  const source = h.source as SourceKind | undefined;
  return { layout: Number(h.layout), baseMs: Number(h.base), periods, ...(source && { source }) };
}

const isSimulated = (s: SourceKind | undefined) => s === 'simulated';

/**
 * Checks (and on a first start writes) the deployment's meta. Throws a
 * one-line ConfigError when this app's configuration cannot use the stored
 * data. `source` is given by the ingester only. `recordPeriods`: the worker
 * adds the periods it builds to the stored list.
 */
export async function checkMeta(
  redis: RedisClient,
  keys: Keys,
  plan: PeriodPlan,
  opts: { readonly source?: SourceKind; readonly recordPeriods?: boolean } = {},
): Promise<MetaReport> {
  const ours = plan.periods.map((p: Period) => p.ms);
  // Data of the first layout has no meta, and its global keys had no tag.
  // One EXISTS per key: they hash to different slots of a Redis Cluster.
  const legacy = (await Promise.all(keys.legacy().map((k) => redis.exists(k).catch(() => 0)))).reduce((a, b) => a + b, 0);
  const [createdFlag, flat] = (await redis.eval(
    INIT,
    1,
    keys.meta(),
    String(KEY_LAYOUT),
    String(plan.baseMs),
    ours.join(','),
    new Date().toISOString(),
    opts.source ?? '',
  )) as [number, string[]];
  const created = createdFlag === 1;
  const meta = parse(flat);
  const prefix = keys.prefix;
  const afresh = `use a new REDIS_PREFIX, or delete the old keys (redis-cli --scan --pattern '${prefix}:*' | xargs redis-cli unlink)`;
  if (created && legacy > 0) {
    await redis.del(keys.meta());
    throw new ConfigError(
      `invalid configuration: REDIS_PREFIX=${prefix}: its data was written by an older Candlestack (key layout 1; this one reads layout ${KEY_LAYOUT}): ${afresh}`,
    );
  }
  if (meta.layout !== KEY_LAYOUT) {
    throw new ConfigError(
      `invalid configuration: REDIS_PREFIX=${prefix}: its data has key layout ${meta.layout}, this Candlestack reads layout ${KEY_LAYOUT}: ${afresh}`,
    );
  }
  if (meta.baseMs !== plan.baseMs) {
    throw new ConfigError(
      `invalid configuration: PERIODS=${labels(ours)} makes the base period ${periodLabel(plan.baseMs)}, but the data under REDIS_PREFIX=${prefix} ` +
        `was built on ${periodLabel(meta.baseMs)} (PERIODS=${labels(meta.periods)}): keep every period a multiple of ${periodLabel(meta.baseMs)} ` +
        `with one equal to it or to their greatest common divisor, or use a new REDIS_PREFIX for a new base`,
    );
  }
  if (opts.source && meta.source && meta.source !== opts.source && (isSimulated(meta.source) || isSimulated(opts.source))) {
    throw new ConfigError(
      `invalid configuration: SOURCE=${opts.source}: the data under REDIS_PREFIX=${prefix} comes from the ${meta.source} source, ` +
        `and a simulated market must never share candles with a real one: use another REDIS_PREFIX (e.g. REDIS_PREFIX=${prefix}-${opts.source})`,
    );
  }
  if (opts.source && meta.source !== opts.source) await redis.hset(keys.meta(), 'source', opts.source);
  const stored = new Set(meta.periods);
  const added = created ? [] : ours.filter((ms) => !stored.has(ms));
  const dropped = meta.periods.filter((ms) => !ours.includes(ms));
  if (opts.recordPeriods && added.length > 0) {
    await redis.hset(keys.meta(), 'periods', [...new Set([...meta.periods, ...ours])].sort((a, b) => a - b).join(','));
  }
  return { meta, created, added, dropped };
}

/**
 * checkMeta, retried while Redis does not answer (an app starting before
 * its Redis waits for it rather than exiting): resolves with the report, or
 * rejects with the ConfigError that stops the app.
 */
export async function checkMetaWhenReady(
  redis: RedisClient,
  keys: Keys,
  plan: PeriodPlan,
  opts: { readonly source?: SourceKind; readonly recordPeriods?: boolean },
  log: { warn(obj: object, msg: string): void },
): Promise<MetaReport> {
  let warned = false;
  for (let wait = 200; ; wait = Math.min(wait * 2, 2_000)) {
    try {
      return await checkMeta(redis, keys, plan, opts);
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      if (!warned) log.warn({ err: (err as Error).message }, 'cannot read the deployment meta yet (Redis away?): retrying');
      warned = true;
      if (redis.status === 'end') throw err;
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}
