/**
 * Configuration from the environment (names and defaults: docs/configuration.md). Each
 * app composes its own zod schema from these fields and parses it once at
 * start; a bad value stops the process with one line per variable naming it,
 * the value and what is allowed.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { normalizePair } from './pair.js';
import { parsePeriod, parsePeriods, periodLabel, planPeriods, type Period } from './period.js';
import { redactUrl } from './redact.js';
import { shown } from './shown.js';

export class ConfigError extends Error {}

const DURATION = /^(\d+)(ms|s|m|h|d)$/;
const DURATION_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** "24h" -> 86400000. */
export function parseDuration(text: string): number {
  const m = DURATION.exec(text.trim());
  if (!m) throw new ConfigError(`${shown(text)} is not a duration: write <n><unit>, unit ms, s, m, h or d (e.g. 24h)`);
  const ms = Number(m[1]) * DURATION_MS[m[2] as keyof typeof DURATION_MS];
  // Past 2^53 ms (285,000 years) the number is no longer exact.
  if (!Number.isSafeInteger(ms)) throw new ConfigError(`${shown(text)} is too long a duration`);
  return ms;
}

/** The longest MAX_LATE: a week. Dedupe ids are kept this long by trade time, and a late trade may revise this far back. */
export const MAX_LATE_LIMIT_MS = 7 * 86_400_000;

/** `MAX_LATE`: how late a trade may be and still revise its candle (README, "Time bounds"). */
export function parseMaxLate(text: string): number {
  const ms = parseDuration(text);
  if (ms < 1_000 || ms > MAX_LATE_LIMIT_MS) throw new ConfigError(`${shown(text)} is out of range: from 1s to 7d`);
  return ms;
}

/**
 * `CANDLE_RETENTION`: `1s=1d,1m=90d` -> period ms -> how long its closed
 * candles are kept (ms). A period not named keeps all. Each retention must
 * be at least one bucket of its period.
 */
export function parseCandleRetention(text: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const part of text.split(',')) {
    if (part.trim() === '') continue;
    const m = /^\s*([^=\s]+)\s*=\s*(\S+)\s*$/.exec(part);
    if (!m) throw new ConfigError(`${shown(part.trim())} is not <period>=<duration>: write e.g. 1s=1d,1m=90d`);
    const period = parsePeriodOrConfigError(m[1]!);
    const keep = parseDuration(m[2]!);
    if (keep < period.ms) throw new ConfigError(`${period.label}=${m[2]}: keep at least one ${period.label} bucket`);
    if (out.has(period.ms)) throw new ConfigError(`${period.label} is named twice`);
    out.set(period.ms, keep);
  }
  return out;
}

function parsePeriodOrConfigError(text: string): Period {
  try {
    return parsePeriod(text);
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
}

/** Names Express' `trust proxy` (proxy-addr) takes for address ranges. */
const TRUST_PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/**
 * `TRUST_PROXY`: the reverse proxies whose `X-Forwarded-For` is believed,
 * as Express' `trust proxy` setting takes them: a hop count (`1`: the peer
 * is one proxy, the address before it is the client's), or a comma-separated
 * list of addresses, CIDR subnets and the names `loopback`, `linklocal`,
 * `uniquelocal`. `true` (trust every hop) is refused: any client could then
 * choose its own address by writing the header, and with it its rate limit.
 */
export function parseTrustProxy(text: string): number | string[] {
  const t = text.trim();
  if (/^\d+$/.test(t)) {
    const hops = Number(t);
    if (hops > 100) throw new ConfigError(`${shown(text)} is too many hops: a hop count from 0 to 100`);
    return hops;
  }
  const rule = 'a hop count (e.g. 1) or addresses and CIDR subnets (e.g. 10.0.0.0/8,::1, or loopback, linklocal, uniquelocal)';
  const parts = t.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (parts.length === 0) throw new ConfigError(`${shown(text)} is not ${rule}`);
  for (const part of parts) {
    if (TRUST_PROXY_NAMES.has(part)) continue;
    const [address = '', bits, extra] = part.split('/');
    const family = isIP(address);
    const max = family === 4 ? 32 : 128;
    const badBits = bits !== undefined && (!/^\d{1,3}$/.test(bits) || Number(bits) > max);
    if (family === 0 || badBits || extra !== undefined) throw new ConfigError(`${shown(part)} is not an address or subnet: ${rule}`);
  }
  return parts;
}

/** A string turned into T by `parse`, whose error message says what is allowed. */
function parsed<T>(parse: (s: string) => T) {
  return z.string().transform((s, ctx): T => {
    try {
      return parse(s);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message });
      return z.NEVER;
    }
  });
}

const int = (min: number, max: number) => {
  const rule = `a whole number from ${min} to ${max}`;
  // .int() has its own message for a number past 2^53 ("Too big: expected int ..."): give it ours.
  return z.string().regex(/^\d+$/, rule).transform(Number).pipe(z.number().int(rule).min(min, rule).max(max, rule));
};

const redisUrl = z
  .string()
  .refine((s) => /^rediss?:\/\/[^\s]+$/.test(s) && URL.canParse(s), 'a redis:// or rediss:// URL');

/** Fields every app reads. */
export const commonEnv = {
  REDIS_URL: redisUrl.default('redis://127.0.0.1:6379'),
  // No `@`: a password written here (`pw@host:port`) would be taken for a
  // host name, and shown in every connection error.
  REDIS_CLUSTER_NODES: z
    .string()
    .regex(/^[^\s,:@]+:\d+(,[^\s,:@]+:\d+)*$/, 'host:port,host:port,... (no user or password)')
    .optional(),
  // No braces: a hash tag in the prefix would be the first of every key,
  // and put all the deployment's data in one slot of a Redis Cluster; the
  // keys carry their own tags (keys.ts), the queues' included.
  REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'letters, digits, _ . : - (1 to 64 characters; no braces: Candlestack puts the Redis Cluster hash tags in its keys itself)')
    .default('candlestack'),
  PERIODS: parsed<Period[]>(parsePeriods).default(parsePeriods('1m,5m,10m,15m,30m,1h,4h,1d')),
  GRACE_MS: int(0, 3_600_000).default(2000),
  TICK_RETENTION: parsed(parseDuration).default(parseDuration('24h')),
  MAX_LATE: parsed(parseMaxLate).default(parseDuration('24h')),
  CANDLE_RETENTION: parsed(parseCandleRetention).default(new Map<number, number>()),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
};

/**
 * `HEALTH_FILE` (ingest, worker): a file rewritten every few seconds while
 * the process is healthy, for a container's health check (health-file.ts).
 */
export const healthFileEnv = z.string().min(1, 'a file path').optional();

/**
 * `AUDIT` (worker): compare each closed candle with the exchange's own for
 * that bucket, when the source is a live exchange (docs/audit.md).
 */
export const auditEnv = z.enum(['on', 'off'], 'on or off').default('on');

/** The longest HISTORY: 30 days (a pair's import is then 87 requests of 500 one-minute candles). */
export const HISTORY_LIMIT_MS = 30 * 86_400_000;

/**
 * `HISTORY` (ingest, a live exchange source): on a pair's first start, how
 * far back to import the exchange's own candles (docs/history.md); `0`: none.
 */
export const historyEnv = parsed((text) => {
  if (text.trim() === '0') return 0;
  const ms = parseDuration(text);
  if (ms > HISTORY_LIMIT_MS) throw new ConfigError(`${shown(text)} is out of range: at most 30d (or 0 for none)`);
  return ms;
}).default(86_400_000);

/** `POLONIEX_REST_URL` (ingest: backfill; worker: the audit). */
export const poloniexRestUrlEnv = z
  .string()
  .refine((s) => URL.canParse(s) && ['http:', 'https:'].includes(new URL(s).protocol), 'a http: or https:// URL')
  .default('https://api.poloniex.com');

/** `PAIRS`: a list of pairs, or "all". */
export const pairsEnv = parsed<string[] | 'all'>((s) => {
  if (s.trim().toLowerCase() === 'all') return 'all';
  const pairs = s.split(',').filter((p) => p.trim() !== '').map(normalizePair);
  if (pairs.length === 0) throw new ConfigError('no pair given: write e.g. BTC_USDT,ETH_USDT or all');
  return [...new Set(pairs)];
}).default(['BTC_USDT', 'ETH_USDT']);

/**
 * Rules across the common fields, for each app's `superRefine`: every period
 * CANDLE_RETENTION names must be built.
 */
export function refineCommon(
  env: {
    readonly PERIODS: readonly Period[];
    readonly CANDLE_RETENTION: ReadonlyMap<number, number>;
    readonly MAX_LATE: number;
  },
  ctx: z.RefinementCtx,
): void {
  const built = new Set(env.PERIODS.map((p) => p.ms));
  const missing = [...env.CANDLE_RETENTION.keys()].filter((ms) => !built.has(ms)).map(periodLabel);
  if (missing.length > 0) {
    const which = missing.length === 1 ? `${missing[0]}, which is` : `${missing.slice(0, -1).join(', ')} and ${missing.at(-1)}, which are`;
    ctx.addIssue({
      code: 'custom',
      path: ['CANDLE_RETENTION'],
      message: `names ${which} not built (PERIODS is ${env.PERIODS.map((p) => p.label).join(',')})`,
    });
    return;
  }
  // A period that longer ones are rolled up from must keep its candles as
  // long as a late trade can still revise one of those: MAX_LATE plus the
  // longest period built from it.
  const plan = planPeriods(env.PERIODS);
  const short: string[] = [];
  for (const [ms, keep] of env.CANDLE_RETENTION) {
    const users = plan.chain.filter((c) => c.sourceMs === ms).map((c) => c.ms);
    if (users.length === 0) continue;
    const need = env.MAX_LATE + Math.max(...users);
    if (keep < need) short.push(`${periodLabel(ms)} must keep at least MAX_LATE + ${periodLabel(Math.max(...users))} (${periodLabel(Math.max(...users))} candles are rolled up from it and a late trade may revise them): ${periodLabel(ms)}=${durationLabel(need)} or more`);
  }
  if (short.length > 0) ctx.addIssue({ code: 'custom', path: ['CANDLE_RETENTION'], message: short.join('; ') });
}

/** A duration in the largest whole unit: 90000000 -> "25h". */
function durationLabel(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1_000]] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** `TRUST_PROXY` (parseTrustProxy); unset: trust no proxy, the client is the TCP peer. */
export const trustProxyEnv = parsed(parseTrustProxy).optional();

export { int as intEnv, parsed as parsedEnv, redisUrl as redisUrlEnv };

const SECRET_NAME = /PASSWORD|SECRET|TOKEN/i;
/** Variables that hold addresses, where a password may hide (`redis://:pw@host`). */
const ADDRESS_NAME = /URL|NODES/i;

/**
 * Parses `env` with `schema`. Empty strings count as unset (so `FOO=` in a
 * .env file means "the default"). Throws ConfigError with one line per bad
 * variable.
 */
export function parseConfig<S extends z.ZodObject>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const input: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const v = env[key];
    if (v !== undefined && v !== '') input[key] = v;
  }
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  // One line per variable, whatever number of checks it failed (a number
  // can be too big for two checks; CANDLE_RETENTION can name two periods
  // not built): the promise is one line per bad variable.
  const reasons = new Map<string, Set<string>>();
  for (const issue of result.error.issues) {
    const name = String(issue.path[0] ?? '?');
    reasons.set(name, (reasons.get(name) ?? new Set()).add(issue.message));
  }
  const lines = [...reasons].map(([name, why]) => {
    const value = input[name];
    // An address may hold a password: shown redacted. One named for a
    // secret is never shown. Others are shown as given, so the line says
    // exactly what was wrong.
    const text =
      value === undefined
        ? '(unset)'
        : SECRET_NAME.test(name)
          ? '(not shown)'
          : JSON.stringify(ADDRESS_NAME.test(name) ? redactUrl(value) : value);
    return `invalid configuration: ${name}=${text}: ${[...why].join('; ')}`;
  });
  throw new ConfigError(lines.join('\n'));
}

/** For main(): parse or print the lines and exit 1. */
export function loadConfig<S extends z.ZodObject>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  try {
    return parseConfig(schema, env);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(1);
    }
    throw e;
  }
}
