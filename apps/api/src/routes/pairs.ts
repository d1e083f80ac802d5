/** `GET /pairs`: the pairs and periods served, and where the trades come from. */
import { Router } from 'express';
import type { z } from 'zod';
import type { pairsResponse } from '../schemas.js';
import type { CandleStore, Period, Stats } from '@candlestack/shared';
import { methodNotAllowed } from '../errors.js';
import { sourceInfo } from '../source-info.js';

export function pairsRouter(store: CandleStore, stats: Stats, periods: readonly Period[]): Router {
  const router = Router();
  router
    .route('/pairs')
    .get(async (_req, res) => {
      // A bounded number of round trips whatever the number of pairs: the
      // set, then one pipeline of HMGET lt (was an HGETALL per pair).
      const [pairs, status] = await Promise.all([store.pairs(), stats.readSourceStatus()]);
      const times = await store.lastTradeTimes(pairs);
      res.json({
        pairs: pairs.map((pair, i) => ({ pair, lastTradeTime: times[i] ?? null })),
        periods: periods.map((p) => p.label),
        source: sourceInfo(status),
      } satisfies z.infer<typeof pairsResponse>);
    })
    .all(methodNotAllowed('GET, HEAD'));
  return router;
}
