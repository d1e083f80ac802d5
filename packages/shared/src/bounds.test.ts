import { describe, expect, it } from 'vitest';
import { LogLimiter, cut, reasonKind } from './bounds.js';

describe('cut', () => {
  it('keeps short text and says how much of long text was cut', () => {
    expect(cut('abc', 3)).toBe('abc');
    expect(cut('x'.repeat(1_000_000), 10)).toBe(`${'x'.repeat(10)}… (999990 more characters)`);
  });
});

describe('LogLimiter', () => {
  it('logs each kind once, remembers a bounded number of kinds, and caps lines per window', () => {
    let t = 0;
    const lim = new LogLimiter(3, 5, 1000, () => t);
    expect(lim.allow('a')).toBe(true);
    expect(lim.allow('a')).toBe(false);
    expect(lim.allow('b')).toBe(true);
    expect(lim.allow('c')).toBe(true);
    expect(lim.allow('d')).toBe(true);
    expect(lim.size).toBe(3); // 'a' forgotten
    expect(lim.allow('e')).toBe(true);
    // Five lines in this window: the sixth new kind is not logged, but counted.
    expect(lim.allow('f')).toBe(false);
    expect(lim.suppressed()).toBe(1);
    expect(lim.suppressed()).toBe(0);
    t = 1000;
    expect(lim.allow('f')).toBe(true);
  });

  it('stays bounded under 200,000 distinct hostile kinds', () => {
    const lim = new LogLimiter();
    let logged = 0;
    for (let i = 0; i < 200_000; i++) if (lim.allow(reasonKind(`pair "X${'"'.repeat(i % 7)}${i}" is not a pair`))) logged++;
    expect(logged).toBeLessThanOrEqual(20);
    expect(lim.size).toBeLessThanOrEqual(256);
  });
});

describe('reasonKind', () => {
  it('drops values so one kind of problem is one kind', () => {
    expect(reasonKind('pair "x_uſdt" is not a pair')).toBe(reasonKind('pair "A" is not a pair'));
    expect(reasonKind('replay line 12: time 1 is too old')).toBe(reasonKind('replay line 99999: time 77 is too old'));
    expect(reasonKind('y'.repeat(1_000_000)).length).toBeLessThanOrEqual(80);
  });
});
