import { describe, expect, it } from 'vitest';
import { PeriodError, basePeriodMs, bucketStart, parsePeriod, parsePeriods, periodLabel, planPeriods } from './period.js';

describe('period', () => {
  it('parses the periods of DESIGN.md', () => {
    expect(parsePeriod('1s')).toEqual({ label: '1s', ms: 1000 });
    expect(parsePeriod('5m')).toEqual({ label: '5m', ms: 300_000 });
    expect(parsePeriod('4h').ms).toBe(14_400_000);
    expect(parsePeriod('1d').ms).toBe(86_400_000);
    expect(parsePeriod('60s').label).toBe('1m');
    expect(parsePeriod('90s').label).toBe('90s');
  });
  it('rejects bad periods with a reason', () => {
    for (const bad of ['', '0s', '5', 'm', '1w', '7m', '1.5m', '2d', '-1m', '5M', '1h30m']) {
      expect(() => parsePeriod(bad), bad).toThrow(PeriodError);
    }
    expect(() => parsePeriod('7m')).toThrow(/divide a day/);
  });
  it('aligns buckets to UTC epoch multiples', () => {
    expect(bucketStart(1_700_000_123_456, 300_000)).toBe(1_700_000_100_000);
    expect(bucketStart(1_700_000_100_000, 300_000)).toBe(1_700_000_100_000);
    expect(bucketStart(1_700_000_099_999, 300_000)).toBe(1_699_999_800_000);
    expect(bucketStart(Date.UTC(2024, 0, 1, 13, 59, 59), 86_400_000)).toBe(Date.UTC(2024, 0, 1));
  });
  it('lists, dedupes and sorts', () => {
    expect(parsePeriods('5m,1m,60s, 1h').map((p) => p.label)).toEqual(['1m', '5m', '1h']);
    expect(() => parsePeriods(',')).toThrow(PeriodError);
    expect(periodLabel(7_200_000)).toBe('2h');
  });
  it('plans roll-ups from the longest dividing shorter period', () => {
    const plan = planPeriods(parsePeriods('1m,5m,10m,15m,30m,1h,4h,1d'));
    expect(plan.baseMs).toBe(60_000);
    const src = Object.fromEntries(plan.chain.map((c) => [periodLabel(c.ms), c.sourceMs && periodLabel(c.sourceMs)]));
    expect(src).toEqual({ '1m': null, '5m': '1m', '10m': '5m', '15m': '5m', '30m': '15m', '1h': '30m', '4h': '1h', '1d': '4h' });
    // The base need not be served: 2m and 3m roll up from an internal 1m.
    const odd = planPeriods(parsePeriods('2m,3m'));
    expect(odd.baseMs).toBe(60_000);
    expect(odd.chain.map((c) => [c.ms, c.sourceMs])).toEqual([[60_000, null], [120_000, 60_000], [180_000, 60_000]]);
    expect(basePeriodMs(parsePeriods('1s,5s'))).toBe(1000);
  });
});
