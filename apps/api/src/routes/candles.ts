/** `GET /candles/:pair/:period` (DESIGN.md): JSON or CSV, oldest first. */
import { Router } from 'express';
import { sourceNow, toCandle, type Candle, type CandleStore, type Period } from '@candlestack/shared';
import { HttpError, methodNotAllowed } from '../errors.js';
import type { z } from 'zod';
import type { candlesResponse } from '../schemas.js';
import { candlesQuery, type CandlesQuery } from './candles-query.js';

type CandlesResponse = z.infer<typeof candlesResponse>;
import { builtPeriod, knownPair } from './params.js';

export const CSV_HEADER = 'time,open,high,low,close,volume,quoteVolume,trades,closed';

/**
 * Closed candles, then the ones not closed yet (`closed: false`) unless `to`
 * is in the past by the source's clock (a replay's "now" is its trade
 * time). `limit` applies to the whole list: with `from` the first ones from
 * there, without it the newest.
 */
export async function readCandles(store: CandleStore, pair: string, periodMs: number, q: CandlesQuery): Promise<Candle[]> {
  const clock = await store.readClock();
  const now = sourceNow(clock);
  const wantForming = q.to === undefined || (now !== undefined && q.to > now);
  // Forming first: a bucket that closes between the two reads then shows up
  // in both (dropped from the forming side below), never in neither.
  const forming = wantForming ? await store.formingCandles(pair, periodMs, clock) : [];
  const closed = await store.closedCandles(pair, periodMs, q);
  const lastClosed = closed.at(-1)?.time ?? -Infinity;
  const open = forming.filter(
    (c) => c.time > lastClosed && (q.from === undefined || c.time >= q.from) && (q.to === undefined || c.time < q.to),
  );
  const all = [...closed.map((c) => toCandle(c, true)), ...open.map((c) => toCandle(c, false))];
  return q.from !== undefined ? all.slice(0, q.limit) : all.slice(-q.limit);
}

export function toCsv(candles: readonly Candle[]): string {
  const rows = candles.map((c) =>
    [c.time, c.open, c.high, c.low, c.close, c.volume, c.quoteVolume, c.trades, c.closed].join(','),
  );
  return `${[CSV_HEADER, ...rows].join('\n')}\n`;
}

function parseQuery(query: unknown): CandlesQuery {
  const r = candlesQuery.safeParse(query);
  if (!r.success) throw new HttpError(400, 'bad_parameter', r.error.issues.map((i) => i.message).join('; '));
  return r.data;
}

export function candlesRouter(store: CandleStore, periods: readonly Period[]): Router {
  const router = Router();
  router
    .route('/candles/:pair/:period')
    .get(async (req, res) => {
      // Everything a 400 can be said about first, without touching Redis.
      const period = builtPeriod(periods, req.params.period);
      const q = parseQuery(req.query);
      const pair = await knownPair(store, req.params.pair);
      const candles = await readCandles(store, pair, period.ms, q);
      if (q.format === 'csv') {
        res.set('Content-Type', 'text/csv; charset=utf-8').send(toCsv(candles));
        return;
      }
      res.json({ pair, period: period.label, candles } satisfies CandlesResponse);
    })
    .all(methodNotAllowed('GET, HEAD'));
  return router;
}
