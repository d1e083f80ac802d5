import { describe, expect, it } from 'vitest';
import { fairShare, planLeases } from './pair-leases.js';

const PAIRS = ['A_USDT', 'B_USDT', 'C_USDT', 'D_USDT', 'E_USDT', 'F_USDT', 'G_USDT'];

describe('the fair share of pairs', () => {
  it('is ceil(pairs / live ingesters), all of them when alone', () => {
    expect(fairShare(6, 1)).toBe(6);
    expect(fairShare(6, 2)).toBe(3);
    expect(fairShare(7, 2)).toBe(4);
    expect(fairShare(7, 3)).toBe(3);
    expect(fairShare(2, 5)).toBe(1);
    expect(fairShare(6, 0)).toBe(6);
  });

  it('gives up what is above the share, and looks for free pairs only while under it', () => {
    const all = new Set(PAIRS);
    expect(planLeases(PAIRS, all, 2)).toEqual({ release: ['E_USDT', 'F_USDT', 'G_USDT'], take: [], share: 4 });
    expect(planLeases(PAIRS, new Set(['A_USDT', 'C_USDT']), 2)).toEqual({ release: [], take: ['B_USDT', 'D_USDT', 'E_USDT', 'F_USDT', 'G_USDT'], share: 4 });
    expect(planLeases(PAIRS, new Set(['A_USDT', 'B_USDT', 'C_USDT']), 3)).toEqual({ release: [], take: [], share: 3 });
    expect(planLeases(PAIRS, new Set(), 1).take).toEqual(PAIRS);
  });

  it('sums to every pair: with n ingesters each at its share, none is left over', () => {
    for (let pairs = 1; pairs <= 40; pairs++) {
      for (let live = 1; live <= 8; live++) expect(fairShare(pairs, live) * live).toBeGreaterThanOrEqual(pairs);
    }
  });
});
