import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, commonEnv, historyEnv, pairsEnv, parseConfig, parseDuration, refineCommon } from './config.js';

const schema = z.object({ ...commonEnv, PAIRS: pairsEnv });

describe('config', () => {
  it('has the defaults of DESIGN.md', () => {
    const c = parseConfig(schema, {});
    expect(c.REDIS_URL).toBe('redis://127.0.0.1:6379');
    expect(c.REDIS_PREFIX).toBe('candlestack');
    expect(c.PERIODS.map((p) => p.label)).toEqual(['1m', '5m', '10m', '15m', '30m', '1h', '4h', '1d']);
    expect(c.GRACE_MS).toBe(2000);
    expect(c.TICK_RETENTION).toBe(86_400_000);
    expect(c.PAIRS).toEqual(['BTC_USDT', 'ETH_USDT']);
    expect(c.LOG_LEVEL).toBe('info');
  });
  it('reads HISTORY: a duration up to 30d, 0 for none, 1d by default', () => {
    const history = z.object({ HISTORY: historyEnv });
    expect(parseConfig(history, {}).HISTORY).toBe(86_400_000);
    expect(parseConfig(history, { HISTORY: '0' }).HISTORY).toBe(0);
    expect(parseConfig(history, { HISTORY: '6h' }).HISTORY).toBe(21_600_000);
    expect(parseConfig(history, { HISTORY: '30d' }).HISTORY).toBe(30 * 86_400_000);
    expect(() => parseConfig(history, { HISTORY: '31d' })).toThrow(/^invalid configuration: HISTORY="31d": "31d" is out of range: at most 30d \(or 0 for none\)$/);
    expect(() => parseConfig(history, { HISTORY: 'forever' })).toThrow(/^invalid configuration: HISTORY="forever": .*is not a duration/);
  });
  it('reads values and treats empty as unset', () => {
    const c = parseConfig(schema, { PERIODS: '1s,5s', GRACE_MS: '250', PAIRS: 'btc-usdt,ETH/BTC', REDIS_PREFIX: '' });
    expect(c.PERIODS.map((p) => p.ms)).toEqual([1000, 5000]);
    expect(c.GRACE_MS).toBe(250);
    expect(c.PAIRS).toEqual(['BTC_USDT', 'ETH_BTC']);
    expect(c.REDIS_PREFIX).toBe('candlestack');
    expect(parseConfig(schema, { PAIRS: 'all' }).PAIRS).toBe('all');
  });
  it('stops on a bad value with one line naming the variable, the value and what is allowed', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ PERIODS: '7m' }, /^invalid configuration: PERIODS="7m": "7m" does not divide a day evenly$/],
      [{ GRACE_MS: 'soon' }, /^invalid configuration: GRACE_MS="soon": a whole number from 0 to 3600000$/],
      [{ REDIS_URL: 'http://x' }, /^invalid configuration: REDIS_URL="http:\/\/x": a redis:\/\/ or rediss:\/\/ URL$/],
      [{ TICK_RETENTION: '1 week' }, /^invalid configuration: TICK_RETENTION="1 week": .*duration/],
      [{ LOG_LEVEL: 'loud' }, /^invalid configuration: LOG_LEVEL="loud": .*info/],
      [{ PAIRS: 'BTCUSDT' }, /^invalid configuration: PAIRS="BTCUSDT": .*BASE_QUOTE/],
      [{ REDIS_PREFIX: 'a b' }, /^invalid configuration: REDIS_PREFIX="a b": letters/],
      [{ REDIS_PREFIX: '{candlestack}' }, /^invalid configuration: REDIS_PREFIX="\{candlestack\}": .*no braces/],
    ];
    for (const [env, line] of cases) {
      let err: unknown;
      try {
        parseConfig(schema, env);
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(env)).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(line);
      expect((err as Error).message.split('\n')).toHaveLength(1);
    }
  });
  it('never shows a password from a URL', () => {
    expect(() => parseConfig(schema, { REDIS_URL: 'redis://user:s3cret@ host' })).toThrow(/user:\*\*\*@/);
    expect(() => parseConfig(schema, { REDIS_URL: 'redis://user:s3cret@ host' })).not.toThrow(/s3cret/);
    // Each of these passwords makes the URL invalid, so the value is shown in the error.
    for (const url of ['redis://user:s3c/ret@host:6379', 'redis://:s3c/ret@host', 'redis://:s3cret', 'redis://h?password=s3c ret']) {
      let message = '';
      try {
        parseConfig(schema, { REDIS_URL: url });
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message, url).toMatch(/^invalid configuration: REDIS_URL="redis:\/\/.*\*\*\*/);
      expect(message, url).not.toMatch(/s3c|ret/);
    }
  });
  it('refuses a password in REDIS_CLUSTER_NODES, without showing it', () => {
    expect(() => parseConfig(schema, { REDIS_CLUSTER_NODES: 'h1:7000,s3cret@h2:7001' })).toThrow(
      /^invalid configuration: REDIS_CLUSTER_NODES="h1:\*\*\*@h2:7001": host:port,host:port,\.\.\. \(no user or password\)$/,
    );
    expect(parseConfig(schema, { REDIS_CLUSTER_NODES: 'h1:7000,h2:7001' }).REDIS_CLUSTER_NODES).toBe('h1:7000,h2:7001');
  });
  it('never shows the value of a variable named for a secret', () => {
    const withSecret = z.object({ ...commonEnv, SOME_PASSWORD: z.string().regex(/^\d+$/, 'digits') });
    expect(() => parseConfig(withSecret, { SOME_PASSWORD: 's3cret' })).toThrow(/^invalid configuration: SOME_PASSWORD=\(not shown\): digits$/);
  });
  it('parses durations', () => {
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('24h')).toBe(86_400_000);
    expect(() => parseDuration('24')).toThrow(ConfigError);
  });
});

describe('MAX_LATE and CANDLE_RETENTION', () => {
  const full = schema.superRefine(refineCommon);
  it('default to 24h and keep all', () => {
    const c = parseConfig(full, {});
    expect(c.MAX_LATE).toBe(86_400_000);
    expect(c.CANDLE_RETENTION.size).toBe(0);
  });
  it('read per period retentions', () => {
    const c = parseConfig(full, { PERIODS: '1s,1m,1h', CANDLE_RETENTION: '1s=1d, 1m=90d', MAX_LATE: '2h' });
    expect([...c.CANDLE_RETENTION]).toEqual([
      [1000, 86_400_000],
      [60_000, 90 * 86_400_000],
    ]);
    // The longest period keeps as little as one bucket: nothing is rolled up from it.
    expect(parseConfig(full, { PERIODS: '1m,1h', CANDLE_RETENTION: '1h=1h,1m=25h' }).CANDLE_RETENTION.get(3_600_000)).toBe(3_600_000);
    expect(c.MAX_LATE).toBe(7_200_000);
  });
  it('stop with one line on a bad value', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ MAX_LATE: '0s' }, /^invalid configuration: MAX_LATE="0s": .*from 1s to 7d$/],
      [{ MAX_LATE: '8d' }, /^invalid configuration: MAX_LATE="8d": .*from 1s to 7d$/],
      [{ CANDLE_RETENTION: '1m' }, /^invalid configuration: CANDLE_RETENTION="1m": .*<period>=<duration>/],
      [{ CANDLE_RETENTION: '7m=1d' }, /^invalid configuration: CANDLE_RETENTION="7m=1d": .*divide a day/],
      [{ CANDLE_RETENTION: '1h=30m' }, /^invalid configuration: CANDLE_RETENTION="1h=30m": .*at least one 1h bucket/],
      [{ CANDLE_RETENTION: '1m=1d,60s=2d' }, /named twice/],
      [{ CANDLE_RETENTION: '2m=1d' }, /^invalid configuration: CANDLE_RETENTION="2m=1d": names 2m, which is not built/],
      [
        { CANDLE_RETENTION: '1m=1d' },
        /^invalid configuration: CANDLE_RETENTION="1m=1d": 1m must keep at least MAX_LATE \+ 5m .*: 1m=1445m or more$/,
      ],
      // Found by config.fuzz.test.ts: each of these made two lines, or a line break inside one.
      [{ CANDLE_RETENTION: '2m=1d,3m=1d,2s=1d' }, /^invalid configuration: CANDLE_RETENTION="2m=1d,3m=1d,2s=1d": names 2m, 3m and 2s, which are not built/],
      [{ GRACE_MS: '99999999999999999999' }, /^invalid configuration: GRACE_MS="99999999999999999999": a whole number from 0 to 3600000$/],
      [{ PERIODS: '0ms\n' }, /^invalid configuration: PERIODS="0ms\\n": "0ms\\n" is not a period/],
      [{ TICK_RETENTION: '1\nh' }, /^invalid configuration: TICK_RETENTION="1\\nh": "1\\nh" is not a duration/],
      [{ CANDLE_RETENTION: '1m=1d,x\ny' }, /^invalid configuration: CANDLE_RETENTION="1m=1d,x\\ny": "x\\ny" is not <period>=<duration>/],
      // Past 2^53 ms a duration is no longer exact.
      [{ TICK_RETENTION: '104249992d' }, /^invalid configuration: TICK_RETENTION="104249992d": "104249992d" is too long a duration$/],
      [{ CANDLE_RETENTION: '1m=9007199254740992ms' }, /is too long a duration$/],
    ];
    for (const [env, line] of cases) {
      expect(() => parseConfig(full, env), JSON.stringify(env)).toThrow(line);
      try {
        parseConfig(full, env);
      } catch (e) {
        expect((e as Error).message.split('\n')).toHaveLength(1);
      }
    }
  });
});
