/** Pairs are `BASE_QUOTE` in upper case, as Poloniex writes them. */
import { shown } from './shown.js';

export class PairError extends Error {}

const PAIR = /^([A-Za-z0-9]{1,20})[_\-/]([A-Za-z0-9]{1,20})$/;

/**
 * "btc-usdt", "BTC/USDT" and "btc_usdt" all become "BTC_USDT"; throws
 * PairError otherwise.
 *
 * ASCII only, checked before any case mapping: Unicode upper-casing folds
 * "ſ" (long s) to "S" and "ı" (dotless i) to "I", so "x_uſdt" would become
 * X_USDT and "ıX_USDT" IX_USDT, another spelling of a real pair. The check
 * also keeps String.prototype.trim to the ASCII spaces.
 */
export function normalizePair(text: string): string {
  // Every trade names its pair: the few spellings met are remembered (a
  // bounded number, so hostile input cannot grow it).
  const known = CACHE.get(text);
  if (known !== undefined) return known;
  const m = /[\u0080-\uffff]/.test(text) ? null : PAIR.exec(text.trim());
  if (!m) {
    throw new PairError(
      `${shown(text)} is not a pair: write BASE_QUOTE, 1 to 20 ASCII letters or digits each, e.g. BTC_USDT (BTC-USDT and BTC/USDT are accepted too)`,
    );
  }
  const pair = `${m[1]!.toUpperCase()}_${m[2]!.toUpperCase()}`;
  if (CACHE.size >= CACHE_MAX) CACHE.clear();
  CACHE.set(text, pair);
  return pair;
}

const CACHE = new Map<string, string>();
const CACHE_MAX = 20_000;

export function isPair(text: string): boolean {
  try {
    normalizePair(text);
    return true;
  } catch {
    return false;
  }
}
