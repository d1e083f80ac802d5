import { describe, expect, it } from 'vitest';
import { PairError, normalizePair } from './pair.js';

describe('pair', () => {
  it('normalises the accepted spellings', () => {
    for (const s of ['BTC_USDT', 'btc_usdt', 'BTC-USDT', 'BTC/USDT', ' btc/usdt ']) expect(normalizePair(s)).toBe('BTC_USDT');
    expect(normalizePair('1inch_usdt')).toBe('1INCH_USDT');
  });
  it('rejects the rest', () => {
    for (const s of ['', 'BTC', 'BTCUSDT', 'BTC__USDT', 'BTC_USDT_X', 'BTC USDT', 'BTC_$', '../etc']) expect(() => normalizePair(s), s).toThrow(PairError);
  });
});
