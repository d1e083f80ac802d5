/** Deterministic trades for tests: quiet stretches included, decimals as text. */
import type { Tick } from '@candlestack/shared';

export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
}

export function syntheticTicks(pair: string, start: number, spanMs: number, count: number, seed: number): Tick[] {
  const rnd = rng(seed);
  const times = Array.from({ length: count }, () => start + Math.floor(rnd() ** 2 * spanMs)).sort((a, b) => a - b);
  return times.map((time, i) => {
    const price = `${100 + Math.floor(rnd() * 50)}.${String(Math.floor(rnd() * 100)).padStart(2, '0')}`.replace(/\.?0+$/, '');
    const quantity = `0.${String(1 + Math.floor(rnd() * 999_999)).padStart(6, '0')}`.replace(/0+$/, '');
    return { pair, time, price, quantity, amount: quantity, side: rnd() < 0.5 ? 'buy' : 'sell', id: String(1 + i) } satisfies Tick;
  });
}
