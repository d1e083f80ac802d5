import { describe, expect, it } from 'vitest';
import { shown } from './shown.js';

describe('shown', () => {
  it('is JSON, cut to 64 characters', () => {
    expect(shown('a"b\n')).toBe('"a\\"b\\n"');
    expect(shown({ x: 1 })).toBe('{"x":1}');
    expect(shown(undefined)).toBe('undefined');
    expect(shown('x'.repeat(1_000_000))).toBe(`"${'x'.repeat(63)}`);
    expect(shown(Array.from({ length: 1000 }, (_, i) => i))).toHaveLength(64);
  });
  it('never ends on half a character', () => {
    // '"' then 31 whole emoji (62 UTF-16 units) then the first half of the 32nd.
    const s = shown('😀'.repeat(40));
    expect(s).toBe(`"${'😀'.repeat(31)}`);
  });
  it('never throws, whatever the value', () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(shown(10n)).toBe('(bigint, not shown)');
    expect(shown(cycle)).toBe('(object, not shown)');
    expect(shown({ toJSON: () => { throw new Error('no'); } })).toBe('(object, not shown)');
  });
});
