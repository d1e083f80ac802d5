import { describe, expect, it, vi } from 'vitest';
import { Backoff, Sleeper } from './backoff.js';

describe('Backoff', () => {
  it('doubles from the first delay up to the cap, each delay in the upper half of its step', () => {
    const low = new Backoff({ initialMs: 100, maxMs: 1_000 }, () => 0);
    expect([1, 2, 3, 4, 5, 6].map(() => low.next())).toEqual([50, 100, 200, 400, 500, 500]);
    const high = new Backoff({ initialMs: 100, maxMs: 1_000 }, () => 1);
    expect([1, 2, 3, 4, 5, 6].map(() => high.next())).toEqual([100, 200, 400, 800, 1_000, 1_000]);
  });

  it('counts failures and starts afresh after reset()', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 30_000 }, () => 1);
    b.next();
    b.next();
    b.next();
    expect(b.failures).toBe(3);
    b.reset();
    expect(b.failures).toBe(0);
    expect(b.next()).toBe(100);
  });

  it('stays at the cap however many failures, never overflowing to Infinity or NaN', () => {
    const b = new Backoff({ initialMs: 500, maxMs: 30_000 }, () => 0.5);
    let last = 0;
    for (let i = 0; i < 2_000; i++) last = b.next();
    expect(last).toBe(22_500);
  });
});

describe('Sleeper', () => {
  it('resolves after the delay, or at once on cancel()', async () => {
    vi.useFakeTimers();
    try {
      const s = new Sleeper();
      let done = 0;
      void s.sleep(1_000).then(() => done++);
      void s.sleep(60_000).then(() => done++);
      await vi.advanceTimersByTimeAsync(1_000);
      expect(done).toBe(1);
      s.cancel();
      await Promise.resolve();
      await Promise.resolve();
      expect(done).toBe(2);
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});
