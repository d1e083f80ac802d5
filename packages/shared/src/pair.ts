/** Pairs are `BASE_QUOTE` in upper case, as Poloniex writes them. */

export class PairError extends Error {}

const PAIR = /^([A-Z0-9]{1,20})[_\-/]([A-Z0-9]{1,20})$/;

/** "btc-usdt", "BTC/USDT" and "btc_usdt" all become "BTC_USDT"; throws PairError otherwise. */
export function normalizePair(text: string): string {
  const m = PAIR.exec(text.trim().toUpperCase());
  if (!m) {
    throw new PairError(
      `"${text}" is not a pair: write BASE_QUOTE, e.g. BTC_USDT (BTC-USDT and BTC/USDT are accepted too)`,
    );
  }
  return `${m[1]}_${m[2]}`;
}

export function isPair(text: string): boolean {
  try {
    normalizePair(text);
    return true;
  } catch {
    return false;
  }
}
