import { describe, expect, it } from 'vitest';
import { PairError, isPair, normalizePair } from './pair.js';

describe('pair', () => {
  it('normalises the accepted spellings', () => {
    for (const s of ['BTC_USDT', 'btc_usdt', 'BTC-USDT', 'BTC/USDT', ' btc/usdt ', '\tbtc_usdt\n']) expect(normalizePair(s)).toBe('BTC_USDT');
    expect(normalizePair('1inch_usdt')).toBe('1INCH_USDT');
    expect(normalizePair(`${'a'.repeat(20)}_${'9'.repeat(20)}`)).toBe(`${'A'.repeat(20)}_${'9'.repeat(20)}`);
  });
  it('rejects the rest', () => {
    for (const s of ['', 'BTC', 'BTCUSDT', 'BTC__USDT', 'BTC_USDT_X', 'BTC USDT', 'BTC_$', '../etc', `${'A'.repeat(21)}_USDT`, `BTC_${'U'.repeat(21)}`]) {
      expect(() => normalizePair(s), s).toThrow(PairError);
    }
  });
  it('is ASCII only: Unicode case folding never merges a pair into another', () => {
    // "ſ" (long s) upper-cases to "S", "ı" (dotless i) to "I".
    expect("x_uſdt".toUpperCase()).toBe('X_USDT');
    expect(() => normalizePair('x_uſdt')).toThrow(/^"x_uſdt" is not a pair: /);
    expect(() => normalizePair('ıX_USDT')).toThrow(/^"ıX_USDT" is not a pair: /);
    // Unicode spaces that trim() would remove, and letters of other scripts.
    for (const s of ['\u00a0BTC_USDT', 'BTC_USDT\u3000', '\ufeffBTC_USDT', 'ＢＴＣ_USDT', 'BTC_USDT\u0301', 'BTC_ＵSDT']) {
      expect(isPair(s), JSON.stringify(s)).toBe(false);
    }
  });
  it('shows a bad pair JSON-escaped and cut short, however long', () => {
    const huge = 'A'.repeat(1_000_000);
    let message = '';
    try {
      normalizePair(huge);
    } catch (e) {
      expect(e).toBeInstanceOf(PairError);
      message = (e as Error).message;
    }
    expect(message).toMatch(/^"A{63} is not a pair: write BASE_QUOTE/);
    expect(message.length).toBeLessThan(200);
    expect(() => normalizePair('a\nb\u0000"_c')).toThrow(/^"a\\nb\\u0000\\"_c" is not a pair/);
  });
});
