import { describe, expect, it } from 'vitest';
import { parsePeriod } from '@candlestack/shared';
import { DEFAULT_COUNT, UsageError, checkServed, parseArgs } from './args.js';

describe('parseArgs', () => {
  it('takes a period and a count', () => {
    expect(parseArgs(['1m', '5'])).toEqual({ period: { label: '1m', ms: 60_000 }, count: 5 });
    expect(parseArgs(['5s', '1'])).toMatchObject({ count: 1 });
    expect(parseArgs(['1h', '10'])).toMatchObject({ count: 10 });
  });

  it('defaults the count to 3 and canonicalises the period', () => {
    expect(parseArgs(['60s'])).toEqual({ period: { label: '1m', ms: 60_000 }, count: DEFAULT_COUNT });
    expect(DEFAULT_COUNT).toBe(3);
  });

  it('ignores the -- that pnpm may pass on', () => {
    expect(parseArgs(['--', '1m'])).toMatchObject({ period: { label: '1m' } });
  });

  it('answers help to -h and --help', () => {
    expect(parseArgs(['--help'])).toBe('help');
    expect(parseArgs(['1m', '-h'])).toBe('help');
  });

  it.each([
    [[], /missing <period>/],
    [['1x'], /"1x" is not a period/],
    [['7m'], /does not divide a day/],
    [['m1'], /is not a period/],
    [['1m', '0'], /"0" is not a count: write a whole number from 1 to 10/],
    [['1m', '11'], /"11" is not a count/],
    [['1m', '2.5'], /"2.5" is not a count/],
    [['1m', '-1'], /"-1" is not a count/],
    [['1m', 'three'], /"three" is not a count/],
    [['1m', '3', 'extra'], /unexpected argument: extra/],
    [['1m', '3', 'a', 'b'], /unexpected arguments: a b/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseArgs(argv)).toThrow(UsageError);
    expect(() => parseArgs(argv)).toThrow(message);
  });
});

describe('checkServed', () => {
  it('accepts a period the API builds, however it is written', () => {
    expect(() => checkServed(parsePeriod('60s'), ['1m', '5m'], 'http://api')).not.toThrow();
  });

  it('refuses one it does not, naming those it does', () => {
    expect(() => checkServed(parsePeriod('1h'), ['1m', '5m'], 'http://api')).toThrow(
      new UsageError('the API at http://api does not serve 1h; it serves: 1m, 5m'),
    );
  });
});
