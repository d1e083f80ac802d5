import { describe, expect, it } from 'vitest';
import { parseUtcTime } from './time.js';

const T = Date.UTC(2024, 0, 1, 0, 2); // 2024-01-01T00:02:00Z

describe('the test run', () => {
  // vitest.config.ts sets TZ so that code reading the host's zone fails here
  // rather than only on a machine away from UTC.
  it('runs in America/New_York, where a local reading of an ISO time is 5 h off', () => {
    expect(new Date(2024, 0, 1).getTimezoneOffset()).toBe(300);
    expect(Date.parse('2024-01-01T00:00:00')).toBe(Date.UTC(2024, 0, 1, 5));
    expect(parseUtcTime('2024-01-01T00:00:00')).toBe(Date.UTC(2024, 0, 1));
  });
});

describe('parseUtcTime', () => {
  it('reads ms since the epoch, as a number or digits', () => {
    expect(parseUtcTime('0')).toBe(0);
    expect(parseUtcTime(String(T))).toBe(T);
    expect(parseUtcTime(T)).toBe(T);
    expect(parseUtcTime(`000${T}`)).toBe(T);
    expect(parseUtcTime('8640000000000000')).toBe(8.64e15);
  });

  it('drops fractions of a ms from a number', () => {
    expect(parseUtcTime(T + 0.999)).toBe(T);
    expect(Object.is(parseUtcTime(-0), 0)).toBe(true);
  });

  it('reads ISO 8601, UTC when no offset is given', () => {
    for (const s of [
      '2024-01-01T00:02:00Z',
      '2024-01-01T00:02:00z',
      '2024-01-01t00:02:00Z',
      '2024-01-01T00:02Z',
      '2024-01-01T00:02:00',
      '2024-01-01T00:02',
      '2024-01-01T00:02:00.000Z',
      '2024-01-01T00:02:00,0Z',
      '2024-01-01T00:02:00.000999999Z',
      '2024-01-01T01:02:00+01:00',
      '2024-01-01T01:02:00+0100',
      '2024-01-01T01:02:00+01',
      '2023-12-31T18:32:00-05:30',
      '2024-01-01T00:02:00-00:00',
    ]) {
      expect(parseUtcTime(s), s).toBe(T);
    }
    expect(parseUtcTime('2024-01-01')).toBe(Date.UTC(2024, 0, 1));
    expect(parseUtcTime('2024-01-01T00:00:00.123456Z')).toBe(Date.UTC(2024, 0, 1) + 123);
    expect(parseUtcTime('2024-01-01T00:00:00.5')).toBe(Date.UTC(2024, 0, 1) + 500);
    expect(parseUtcTime('1970-01-01T00:00:00Z')).toBe(0);
    expect(parseUtcTime('9999-12-31T23:59:59.999Z')).toBe(Date.UTC(9999, 11, 31, 23, 59, 59, 999));
  });

  it('knows the leap years', () => {
    expect(parseUtcTime('2024-02-29')).toBe(Date.UTC(2024, 1, 29));
    expect(parseUtcTime('2000-02-29')).toBe(Date.UTC(2000, 1, 29));
    expect(parseUtcTime('2100-02-29')).toBeUndefined();
    expect(parseUtcTime('2023-02-29')).toBeUndefined();
  });

  it('refuses anything else', () => {
    for (const v of [
      '',
      ' ',
      'now',
      '-1',
      '1.5',
      '1e12',
      '0x10',
      ` ${T}`,
      `${T}\n`,
      '99999999999999999',
      '8640000000000001',
      '2024-1-1',
      '2024-02-30',
      '2024-04-31',
      '2024-00-10',
      '2024-13-01',
      '2024-01-00',
      '2024-01-32',
      '2024-01-01T24:00:00Z',
      '2024-01-01T00:60:00Z',
      '2024-01-01T00:00:60Z',
      '2024-01-01T00:00:00+24:00',
      '2024-01-01T00:00:00+01:60',
      '2024-01-01T00:00:00.1234567890Z',
      '2024-01-01T00:00:00.Z',
      '2024-01-01T00Z',
      '2024-01-01Z',
      '2024-01-01 00:00:00',
      '2024-01-01T00:00:00 01:00',
      '20240101T000000Z',
      '+002024-01-01T00:00:00Z',
      'Mon, 01 Jan 2024 00:00:00 GMT',
      '1969-12-31T23:59:59Z',
      '1970-01-01T00:00:00+00:01',
      '0050-01-01',
      '２０２４-01-01',
      -1,
      1e21,
      NaN,
      Infinity,
      null,
      undefined,
      {},
      [T],
      BigInt(T),
    ]) {
      expect(parseUtcTime(v), String(v)).toBeUndefined();
    }
  });
});
