/** `GET /pairs`: the pairs and periods served, and where the trades come from. */
import { Router } from 'express';
import type { z } from 'zod';
import type { pairHistorySchema, pairsResponse } from '../schemas.js';
import { periodLabel, type CandleStore, type PairHistory, type Period, type Stats } from '@candlestack/shared';
import { methodNotAllowed } from '../errors.js';
import { sourceInfo } from '../source-info.js';

export function pairsRouter(store: CandleStore, stats: Stats, periods: readonly Period[]): Router {
  const router = Router();
  router
    .route('/pairs')
    .get(async (_req, res) => {
      // A bounded number of round trips whatever the number of pairs: the
      // set, then one pipeline of HMGET lt and the history fields (was an
      // HGETALL per pair).
      const [pairs, status] = await Promise.all([store.pairs(), stats.readSourceStatus()]);
      const rows = await store.reads.pairSummaries(pairs);
      res.json({
        pairs: pairs.map((pair, i) => ({ pair, lastTradeTime: rows[i]?.lastTradeTime ?? null, history: historyOf(rows[i]?.history) })),
        periods: periods.map((p) => p.label),
        source: sourceInfo(status),
      } satisfies z.infer<typeof pairsResponse>);
    })
    .all(methodNotAllowed('GET, HEAD'));
  return router;
}

/** The public form of a pair's imported history (docs/api.md). */
function historyOf(h: PairHistory | undefined): z.infer<typeof pairHistorySchema> | null {
  if (!h) return null;
  return { from: h.from, liveFrom: h.liveFrom ?? null, period: periodLabel(h.periodMs), boundary: h.boundary, importing: h.importing };
}
