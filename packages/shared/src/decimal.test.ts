import { describe, expect, it } from 'vitest';
import { DecimalError, add, canonical, compare, mul, round, sum } from './decimal.js';

describe('decimal', () => {
  it('adds without binary float noise', () => {
    expect(add('0.1', '0.2')).toBe('0.3');
    expect(sum(['0.1', '0.2', '0.3'])).toBe('0.6');
    expect(sum([])).toBe('0');
    expect(add('999999999999999999.999999999', '0.000000001')).toBe('1000000000000000000');
  });
  it('multiplies exactly', () => {
    expect(mul('0.00141342', '23')).toBe('0.03250866');
    expect(mul('37012.5', '0.001')).toBe('37.0125');
  });
  it('writes canonical forms', () => {
    expect(canonical('007.500')).toBe('7.5');
    expect(canonical('0.0')).toBe('0');
    expect(canonical('.5')).toBe('0.5');
    expect(canonical(23)).toBe('23');
    expect(canonical(0.00141342)).toBe('0.00141342');
    expect(canonical(1.5e-7)).toBe('0.00000015');
    expect(canonical('2E+3')).toBe('2000');
  });
  it('rejects what is not a non-negative decimal', () => {
    for (const bad of ['', 'abc', '-1', '1.2.3', '1,5', 'NaN', '0x10']) expect(() => canonical(bad)).toThrow(DecimalError);
    expect(() => canonical(-1)).toThrow(DecimalError);
    expect(() => canonical(Infinity)).toThrow(DecimalError);
  });
  it('compares by value', () => {
    expect(compare('1.50', '1.5')).toBe(0);
    expect(compare('10', '9.99')).toBe(1);
    expect(compare('0.001', '0.01')).toBe(-1);
  });
  it('rounds half up for display', () => {
    expect(round('1.2345', 2)).toBe('1.23');
    expect(round('1.235', 2)).toBe('1.24');
    expect(round('1.2', 4)).toBe('1.2');
  });
});
