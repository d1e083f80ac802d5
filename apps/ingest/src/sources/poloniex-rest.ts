/**
 * Poloniex's public REST API: the symbol list and the latest trades of a
 * symbol, over shared poloniex-http.ts (timeouts, RestError).
 */
import { getJson } from '@candlestack/shared';
import { parseMarkets, type Market } from './poloniex-messages.js';

export { RestError, getJson } from '@candlestack/shared';

/** The most trades `GET /markets/{symbol}/trades` returns; it has no paging. */
export const REST_TRADES_LIMIT = 1000;

export class PoloniexRest {
  constructor(
    private readonly baseUrl: string,
    private readonly timeoutMs: number,
  ) {}

  private url(path: string): string {
    return `${this.baseUrl.replace(/\/+$/, '')}${path}`;
  }

  async markets(): Promise<Market[]> {
    return parseMarkets(await getJson(this.url('/markets'), this.timeoutMs));
  }

  /** The newest trades of a symbol, newest first, as the exchange sends them. */
  async trades(symbol: string, limit = REST_TRADES_LIMIT): Promise<unknown> {
    return getJson(this.url(`/markets/${encodeURIComponent(symbol)}/trades?limit=${limit}`), this.timeoutMs);
  }
}
