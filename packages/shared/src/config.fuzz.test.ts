/**
 * The config schema under random environments: period lists, durations and
 * retentions, valid, nearly valid and hostile. Whatever the environment,
 * parseConfig gives a config that keeps the documented rules, or throws a
 * ConfigError of one line per bad variable naming it and its value, never
 * another error. fast-check: a failure is shrunk and prints how to replay
 * it (FUZZ_SEED, FUZZ_PATH; test/support/fuzz.ts).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { either, fuzzParams, hostile } from '../../../test/support/fuzz.js';
import { ConfigError, MAX_LATE_LIMIT_MS, commonEnv, pairsEnv, parseConfig, refineCommon } from './config.js';
import { DAY_MS, periodLabel, planPeriods } from './period.js';

/** As the ingester composes it: every common field, PAIRS, and the rules across fields. */
const schema = z.object({ ...commonEnv, PAIRS: pairsEnv }).superRefine(refineCommon);
type Config = z.infer<typeof schema>;

const FUZZED = ['PERIODS', 'MAX_LATE', 'CANDLE_RETENTION', 'TICK_RETENTION', 'GRACE_MS', 'PAIRS'] as const;
type Fuzzed = (typeof FUZZED)[number];

/** Spaces that a hand-written .env may hold around a value or a list item. */
const padded = (text: fc.Arbitrary<string>) =>
  fc.tuple(either(80, fc.constant(''), fc.constantFrom(' ', '  ', '\t')), text, either(80, fc.constant(''), fc.constantFrom(' ', '\n'))).map((p) => p.join(''));

/** A number as a .env would write it: small ones, the edges of the rules, and the absurd. */
const count = fc.oneof(
  fc.integer({ min: 0, max: 100 }),
  fc.nat(),
  fc.constantFrom(0, 1, 7, 24, 59, 60, 86_400, 604_800, 604_801, 3_600_000, 3_600_001, 2 ** 53, 1e21),
  fc.constantFrom('00', '007', '1.5', '-1', '99999999999999999999', ''),
);
const duration = fc.tuple(count, fc.constantFrom('ms', 's', 'm', 'h', 'd', 'w', 'S', '')).map(([n, unit]) => `${n}${unit}`);
const period = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('1s', '2s', '5s', '15s', '30s', '60s', '1m', '5m', '7m', '90s', '1h', '4h', '5h', '24h', '1d', '2d') },
  { weight: 2, arbitrary: duration },
  { weight: 1, arbitrary: hostile },
);

/** A comma-separated list, sometimes with empty items or spaces around them. */
const list = (item: fc.Arbitrary<string>) => fc.array(padded(item), { maxLength: 6 }).map((items) => items.join(','));

const retention = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(period, duration).map(([p, d]) => `${p}=${d}`) },
  { weight: 1, arbitrary: fc.tuple(period, fc.constantFrom('=', ' = ', '==', ''), duration).map((p) => p.join('')) },
  { weight: 1, arbitrary: hostile },
);

const pair = fc.oneof(fc.constantFrom('BTC_USDT', 'eth-usdt', 'ETH/BTC', 'all', 'BTCUSDT', 'x_uſdt'), hostile);

/** Values a careful operator would write, so that whole configs are often valid too. */
const GOOD_PERIODS = ['1s', '5s', '1m', '5m', '15m', '1h', '4h', '1d'];
const good: Record<Fuzzed, fc.Arbitrary<string>> = {
  PERIODS: fc.subarray(GOOD_PERIODS, { minLength: 1 }).map((p) => p.join(',')),
  MAX_LATE: fc.constantFrom('1s', '90s', '15m', '2h', '24h', '7d', '168h'),
  CANDLE_RETENTION: fc
    .subarray(['1m', '5m', '1h', '1d'])
    .chain((periods) => fc.tuple(...periods.map((p) => fc.constantFrom('1d', '7d', '90d', '3650d').map((keep) => `${p}=${keep}`))))
    .map((entries) => entries.join(',')),
  TICK_RETENTION: fc.tuple(fc.integer({ min: 0, max: 1000 }), fc.constantFrom('s', 'm', 'h', 'd')).map(([n, u]) => `${n}${u}`),
  GRACE_MS: fc.integer({ min: 0, max: 3_600_000 }).map(String),
  PAIRS: fc.constantFrom('BTC_USDT', 'btc-usdt,ETH/BTC', 'all', 'BTC_USDT,BTC_USDT'),
};

/** And anything else: near misses and hostile text. */
const other: Record<Fuzzed, fc.Arbitrary<string>> = {
  PERIODS: either(85, list(period), hostile),
  MAX_LATE: either(85, padded(duration), hostile),
  CANDLE_RETENTION: either(85, list(retention), hostile),
  TICK_RETENTION: either(85, padded(duration), hostile),
  GRACE_MS: either(85, padded(count.map(String)), hostile),
  PAIRS: either(85, list(pair), hostile),
};

const values = Object.fromEntries(FUZZED.map((name) => [name, either(60, good[name], other[name])])) as Record<Fuzzed, fc.Arbitrary<string>>;

/** Each variable unset, empty (which means unset), or a value. */
const environment = fc.record(
  Object.fromEntries(FUZZED.map((name) => [name, fc.oneof({ weight: 1, arbitrary: fc.constantFrom(undefined, '') }, { weight: 3, arbitrary: values[name] })])) as Record<
    Fuzzed,
    fc.Arbitrary<string | undefined>
  >,
);

/** What is wrong with a config parseConfig returned, or undefined. */
function configProblem(c: Config): string | undefined {
  const periods = c.PERIODS.map((p) => p.ms);
  if (periods.length === 0) return 'no period';
  for (const p of c.PERIODS) {
    if (!Number.isInteger(p.ms) || p.ms < 1000 || DAY_MS % p.ms !== 0) return `period ${p.label} (${p.ms} ms) does not divide a day`;
    if (p.label !== periodLabel(p.ms)) return `period ${p.ms} ms labelled ${p.label}`;
  }
  if (periods.some((ms, i) => i > 0 && ms <= periods[i - 1]!)) return `periods not sorted, or repeated: ${periods.join(',')}`;
  for (const [ms, keep] of c.CANDLE_RETENTION) {
    if (!periods.includes(ms)) return `CANDLE_RETENTION names ${ms} ms, which is not built`;
    if (!Number.isSafeInteger(keep) || keep < ms) return `CANDLE_RETENTION keeps ${periodLabel(ms)} for ${keep} ms, less than one bucket`;
    const users = planPeriods(c.PERIODS).chain.filter((x) => x.sourceMs === ms);
    for (const u of users) {
      if (keep < c.MAX_LATE + u.ms) return `CANDLE_RETENTION keeps ${periodLabel(ms)} for ${keep} ms, less than MAX_LATE + ${periodLabel(u.ms)} (rolled up from it)`;
    }
  }
  if (!Number.isInteger(c.MAX_LATE) || c.MAX_LATE < 1000 || c.MAX_LATE > MAX_LATE_LIMIT_MS) return `MAX_LATE ${c.MAX_LATE}`;
  if (!Number.isSafeInteger(c.TICK_RETENTION) || c.TICK_RETENTION < 0) return `TICK_RETENTION ${c.TICK_RETENTION}`;
  if (!Number.isInteger(c.GRACE_MS) || c.GRACE_MS < 0 || c.GRACE_MS > 3_600_000) return `GRACE_MS ${c.GRACE_MS}`;
  if (c.PAIRS !== 'all') {
    if (c.PAIRS.length === 0 || new Set(c.PAIRS).size !== c.PAIRS.length) return `PAIRS ${JSON.stringify(c.PAIRS)}`;
    const odd = c.PAIRS.find((p) => !/^[A-Z0-9]{1,20}_[A-Z0-9]{1,20}$/.test(p));
    if (odd !== undefined) return `pair ${JSON.stringify(odd)}`;
  }
  return undefined;
}

/**
 * What is wrong with the message of a ConfigError for `env`, or undefined:
 * it must be one line per bad variable, each `invalid configuration:
 * NAME=<value as JSON>: <what is allowed>`, naming a variable that was set.
 */
function messageProblem(message: string, env: Record<string, string | undefined>): string | undefined {
  const named = new Set<string>();
  for (const line of message.split('\n')) {
    const name = /^invalid configuration: ([A-Z_]+)=/.exec(line)?.[1];
    if (name === undefined) return `a line that names no variable: ${JSON.stringify(line)}`;
    const value = env[name];
    if (value === undefined || value === '') return `${name} was not set, yet it is named: ${JSON.stringify(line)}`;
    const head = `invalid configuration: ${name}=${JSON.stringify(value)}: `;
    if (!line.startsWith(head) || line.length === head.length) return `not "${head}<what is allowed>": ${JSON.stringify(line)}`;
    if (named.has(name)) return `${name} has more than one line: ${JSON.stringify(message)}`;
    named.add(name);
  }
  return undefined;
}

/** parseConfig's answer for `env`: the config, or the ConfigError's message; any other error throws. */
function parse(env: Record<string, string | undefined>): Config | string {
  try {
    return parseConfig(schema, env);
  } catch (e) {
    if (e instanceof ConfigError) return e.message;
    throw new Error(`parseConfig threw ${String(e)}, not a ConfigError`, { cause: e });
  }
}

describe('config fuzz', () => {
  it('any environment: a config that keeps the rules, or one line per bad variable', () => {
    const outcomes = { valid: 0, refused: 0 };
    fc.assert(
      fc.property(environment, (env) => {
        const got = parse(env);
        const problem = typeof got === 'string' ? messageProblem(got, env) : configProblem(got);
        if (problem) throw new Error(problem);
        outcomes[typeof got === 'string' ? 'refused' : 'valid']++;
      }),
      fuzzParams(2000),
    );
    // Both sides of the rules were reached.
    expect(outcomes.valid).toBeGreaterThan(100);
    expect(outcomes.refused).toBeGreaterThan(100);
  });

  it('one variable set: valid, or exactly one line, naming it', () => {
    const one = fc.constantFrom(...FUZZED).chain((name) => fc.tuple(fc.constant(name), values[name]));
    fc.assert(
      fc.property(one, ([name, value]) => {
        // The others unset: their defaults are valid, so a refusal is this variable's alone.
        const env = { [name]: value };
        const got = parse(env);
        if (typeof got !== 'string') return;
        const lines = got.split('\n');
        if (lines.length !== 1) throw new Error(`${lines.length} lines for ${name}=${JSON.stringify(value)}: ${JSON.stringify(got)}`);
        const problem = messageProblem(got, env);
        if (problem) throw new Error(problem);
      }),
      fuzzParams(2000),
    );
  });
});
