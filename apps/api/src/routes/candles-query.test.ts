import { describe, expect, it } from 'vitest';
import { candlesQuery, parseTime } from './candles-query.js';

const T = Date.UTC(2024, 0, 1, 0, 2); // 2024-01-01T00:02:00Z

describe('parseTime', () => {
  it('reads ms since the epoch', () => {
    expect(parseTime('0')).toBe(0);
    expect(parseTime(String(T))).toBe(T);
  });

  it('reads ISO 8601, UTC when no offset is given', () => {
    for (const s of [
      '2024-01-01T00:02:00Z',
      '2024-01-01T00:02:00z',
      '2024-01-01T00:02Z',
      '2024-01-01T00:02:00',
      '2024-01-01T00:02:00.000Z',
      '2024-01-01T00:02:00,0Z',
      '2024-01-01T01:02:00+01:00',
      '2024-01-01T01:02:00+0100',
      '2024-01-01T01:02:00+01',
      '2024-01-01T01:02:00 01:00',
      '2023-12-31T18:32:00-05:30',
    ]) {
      expect(parseTime(s), s).toBe(T);
    }
    expect(parseTime('2024-01-01')).toBe(Date.UTC(2024, 0, 1));
    expect(parseTime('2024-02-29')).toBe(Date.UTC(2024, 1, 29));
    expect(parseTime('2024-01-01T00:00:00.123456Z')).toBe(Date.UTC(2024, 0, 1) + 123);
  });

  it('rejects anything else', () => {
    for (const s of [
      '',
      ' ',
      'now',
      '-1',
      '1.5',
      '1e12',
      '0x10',
      '99999999999999999',
      '2024-1-1',
      '2023-02-29',
      '2024-04-31',
      '2024-00-10',
      '2024-01-01T24:00:00Z',
      '2024-01-01T00:60:00Z',
      '2024-01-01T00:00:60Z',
      '2024-01-01T00:00:00+24:00',
      '2024-01-01 00:00:00',
      'Mon, 01 Jan 2024 00:00:00 GMT',
      '0050-01-01',
    ]) {
      expect(parseTime(s), s).toBeUndefined();
    }
  });
});

describe('candlesQuery', () => {
  const ok = (q: Record<string, unknown>) => candlesQuery.parse(q);
  const messages = (q: Record<string, unknown>) => candlesQuery.safeParse(q).error?.issues.map((i) => i.message);

  it('defaults', () => {
    expect(ok({})).toEqual({ limit: 100, format: 'json' });
    expect(ok({ limit: '5000', from: '1', to: '2', format: 'csv' })).toEqual({ limit: 5000, from: 1, to: 2, format: 'csv' });
  });

  it('says what is wrong, naming the parameter', () => {
    expect(messages({ limit: '0' })).toEqual(['limit must be a whole number from 1 to 5000']);
    expect(messages({ limit: '0001' })).toBeUndefined();
    expect(messages({ limit: '99999999999' })).toEqual(['limit must be a whole number from 1 to 5000']);
    expect(messages({ limit: ['1', '2'] })).toEqual(['limit is given more than once']);
    expect(messages({ from: 'x' })?.[0]).toMatch(/^from="x" is not a time/);
    expect(messages({ from: '5', to: '5' })).toEqual(['from must be before to (from is inclusive, to exclusive)']);
    expect(messages({ format: 'xml' })).toEqual(['format must be json or csv']);
    expect(messages({ limt: '5', x: '1' })).toEqual(['unknown parameter limt, x: the parameters are limit, from, to, format']);
  });
});
