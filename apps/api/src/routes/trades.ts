/**
 * `GET /trades/:pair` (docs/api.md): the pair's trades still retained (the
 * tick stream, TICK_RETENTION), oldest first, as the exchange sent them.
 */
import { Router } from 'express';
import { z } from 'zod';
import type { CandleStore } from '@candlestack/shared';
import { HttpError, methodNotAllowed } from '../errors.js';
import type { KnownPairs } from '../known-pairs.js';
import { fromBeforeTo, limitParam, time, unknownParams } from './candles-query.js';
import { knownPair } from './params.js';

export const MAX_TRADES = 1000;
export const DEFAULT_TRADES = 100;

/** `limit`, `from`, `to`: as for /candles, by trade time, at most 1000 trades. */
export const tradesQuery = z
  .strictObject(
    {
      limit: limitParam(MAX_TRADES, DEFAULT_TRADES),
      from: time('from').optional(),
      to: time('to').optional(),
    },
    unknownParams('limit, from, to'),
  )
  .superRefine(fromBeforeTo);

export type TradesQuery = z.infer<typeof tradesQuery>;

export function tradesRouter(store: CandleStore, pairs: KnownPairs): Router {
  const router = Router();
  router
    .route('/trades/:pair')
    .get(async (req, res) => {
      const r = tradesQuery.safeParse(req.query);
      if (!r.success) throw new HttpError(400, 'bad_parameter', r.error.issues.map((i) => i.message).join('; '));
      const pair = await knownPair(pairs, req.params.pair);
      const trades = await store.reads.trades(pair, r.data);
      // Field order as docs/api.md shows it; side only when the source told it.
      res.json({ pair, trades: trades.map(({ id, time, price, quantity, side }) => ({ id, time, price, quantity, ...(side && { side }) })) });
    })
    .all(methodNotAllowed('GET, HEAD'));
  return router;
}
