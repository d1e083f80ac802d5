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
      const [pairs, status] = await Promise.all([store.pairs(), stats.readSourceStatus()]);
      const states = await Promise.all(pairs.map((p) => store.state(p)));
      res.json({
        pairs: pairs.map((pair, i) => ({ pair, lastTradeTime: states[i]?.lastTradeTime ?? null })),
        periods: periods.map((p) => p.label),
        source: sourceInfo(status),
      } satisfies z.infer<typeof pairsResponse>);
    })
    .all(methodNotAllowed('GET, HEAD'));
  return router;
}
