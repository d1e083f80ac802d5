/**
 * Which pairs the live source follows: PAIRS checked against `GET /markets`
 * (an unknown pair is a start-up error, not a silent nothing), or, for
 * PAIRS=all, every symbol it lists as trading.
 */
import { Backoff, isPair, normalizePair, type BackoffOptions, type Logger } from '@candlestack/shared';
import type { PoloniexRest } from './poloniex-rest.js';

export const OFFLINE_HINT = 'No network, or Poloniex blocked here? SOURCE=simulated gives an offline market.';

export interface PairsContext {
  readonly rest: PoloniexRest;
  readonly restUrl: string;
  readonly retry: BackoffOptions;
  readonly random?: (() => number) | undefined;
  readonly log: Logger;
  /** A sleep that ends early when the source closes. */
  readonly sleep: (ms: number) => Promise<void>;
  readonly closed: () => boolean;
  /** The symbol list cannot be had (PAIRS=all waits for it): say so downstream. */
  readonly unreachable: (detail: string) => void;
}

export async function resolvePairs(requested: readonly string[] | 'all', ctx: PairsContext): Promise<string[]> {
  const marketsUrl = `${ctx.restUrl.replace(/\/+$/, '')}/markets`;
  if (requested === 'all') return allPairs(marketsUrl, ctx);
  const pairs = [...requested];
  let markets;
  try {
    markets = await ctx.rest.markets();
  } catch (err) {
    // The WebSocket may still answer: a refused subscription then names the pairs.
    ctx.log.warn({ err: (err as Error).message }, 'cannot check PAIRS against GET /markets; an unknown pair will show as a refused subscription');
    return pairs;
  }
  const listed = new Map(markets.filter((m) => isPair(m.symbol)).map((m) => [normalizePair(m.symbol), m]));
  const unknown = pairs.filter((p) => !listed.has(p));
  if (unknown.length > 0) {
    const examples = [...listed.keys()].slice(0, 5).join(', ');
    throw new Error(
      `unknown pair(s) in PAIRS: ${unknown.join(', ')}: Poloniex does not list ${unknown.length === 1 ? 'it' : 'them'} (GET ${marketsUrl} lists ${listed.size} symbols${examples ? `, e.g. ${examples}` : ''})`,
    );
  }
  for (const p of pairs) {
    const m = listed.get(p);
    if (m && !m.tradable) ctx.log.warn({ pair: p, state: m.state }, `${p} is listed but not trading now (state ${m.state}); following it anyway`);
  }
  return pairs;
}

/** PAIRS=all: nothing to follow without the list, so it is asked for until it comes (or the source closes). */
async function allPairs(marketsUrl: string, ctx: PairsContext): Promise<string[]> {
  const retry = new Backoff(ctx.retry, ctx.random);
  for (;;) {
    let markets;
    try {
      markets = await ctx.rest.markets();
    } catch (err) {
      if (ctx.closed()) throw new Error('stopped before Poloniex listed its symbols', { cause: err });
      const delay = retry.next();
      const detail = `PAIRS=all needs the symbol list, but ${(err as Error).message}; retrying in ${(delay / 1000).toFixed(1)} s. ${OFFLINE_HINT}`;
      ctx.log.debug({ err: (err as Error).message, retryInMs: delay }, detail);
      ctx.unreachable(detail);
      await ctx.sleep(delay);
      continue;
    }
    const pairs = markets.filter((m) => m.tradable && isPair(m.symbol)).map((m) => normalizePair(m.symbol));
    if (pairs.length === 0) throw new Error(`PAIRS=all: GET ${marketsUrl} lists no tradable symbol`);
    ctx.log.info({ tradable: pairs.length, listed: markets.length }, `PAIRS=all: ${pairs.length} tradable symbol(s) of ${markets.length} listed`);
    return [...new Set(pairs)].sort();
  }
}
