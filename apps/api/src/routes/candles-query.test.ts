import { describe, expect, it } from 'vitest';
import { candlesQuery } from './candles-query.js';

const T = Date.UTC(2024, 0, 1, 0, 2); // 2024-01-01T00:02:00Z

describe('candlesQuery', () => {
  const ok = (q: Record<string, unknown>) => candlesQuery.parse(q);
  const messages = (q: Record<string, unknown>) => candlesQuery.safeParse(q).error?.issues.map((i) => i.message);

  it('defaults', () => {
    expect(ok({})).toEqual({ limit: 100, format: 'json' });
    expect(ok({ limit: '5000', from: String(T), to: String(T + 1), format: 'csv' })).toEqual({ limit: 5000, from: T, to: T + 1, format: 'csv' });
  });

  it('reads from and to with the shared parser: ISO without an offset is UTC', () => {
    expect(ok({ from: '2024-01-01T00:02:00', to: '2024-01-01T02:02:00+01:00' })).toMatchObject({ from: T, to: T + 3_600_000 });
  });

  it('takes an unencoded + for a space', () => {
    expect(ok({ from: '2024-01-01T01:02:00 01:00' }).from).toBe(T);
    expect(ok({ from: '2024-01-01T01:02:00 0100' }).from).toBe(T);
  });

  it('refuses seconds given for ms, saying so', () => {
    expect(messages({ from: '1796015000' })).toEqual(['from=1796015000 looks like seconds, not ms: multiply by 1000 (from=1796015000000)']);
    expect(messages({ to: '99999999999' })).toEqual(['to=99999999999 looks like seconds, not ms: multiply by 1000 (to=99999999999000)']);
    expect(messages({ from: '1' })?.[0]).toMatch(/^from=1 looks like seconds/);
    // The first ms that is not taken for seconds; and 0, which is the same either way.
    expect(ok({ from: '0', to: '100000000000' })).toMatchObject({ from: 0, to: 100_000_000_000 });
    // An ISO time before 1973 says what it means.
    expect(ok({ from: '1970-01-02' }).from).toBe(86_400_000);
  });

  it('says what is wrong, naming the parameter', () => {
    expect(messages({ limit: '0' })).toEqual(['limit must be a whole number from 1 to 5000']);
    expect(messages({ limit: '0001' })).toBeUndefined();
    expect(messages({ limit: '99999999999' })).toEqual(['limit must be a whole number from 1 to 5000']);
    expect(messages({ limit: ['1', '2'] })).toEqual(['limit is given more than once']);
    expect(messages({ from: 'x' })?.[0]).toMatch(/^from="x" is not a time/);
    expect(messages({ to: '2024-02-30' })?.[0]).toMatch(/^to="2024-02-30" is not a time/);
    expect(messages({ from: String(T), to: String(T) })).toEqual(['from must be before to (from is inclusive, to exclusive)']);
    expect(messages({ format: 'xml' })).toEqual(['format must be json, csv or array']);
    expect(ok({ format: 'array' }).format).toBe('array');
    expect(messages({ limt: '5', x: '1' })).toEqual(['unknown parameter limt, x: the parameters are limit, from, to, format']);
  });
});
