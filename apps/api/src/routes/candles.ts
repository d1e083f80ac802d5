/** `GET /candles/:pair/:period` (DESIGN.md): JSON, CSV or JSON rows (`format=array`), oldest first. */
import { Router } from 'express';
import { closeLimits, parseCandles, sourceNow, type Candle, type CandleStore, type Period } from '@candlestack/shared';
import { HttpError, methodNotAllowed } from '../errors.js';
import type { KnownPairs } from '../known-pairs.js';
import { ReadCache } from '../read-cache.js';
import { SharedAnswer } from '../shared-answer.js';
import type { z } from 'zod';
import type { candlesResponse } from '../schemas.js';
import { candlesQuery, type CandlesQuery } from './candles-query.js';

type CandlesResponse = z.infer<typeof candlesResponse>;
import { builtPeriod, knownPair } from './params.js';

export const CSV_HEADER = 'time,open,high,low,close,volume,quoteVolume,trades,closed';

/** How long the source's clock read from Redis is used before it is read again. */
export const CLOCK_MAX_AGE_MS = 1_000;

export function toCsv(candles: readonly Candle[]): string {
  const rows = candles.map((c) =>
    [c.time, c.open, c.high, c.low, c.close, c.volume, c.quoteVolume, c.trades, c.closed].join(','),
  );
  return `${[CSV_HEADER, ...rows].join('\n')}\n`;
}

/** The row of `format=array`, the order of CSV_HEADER; money stays exact decimal strings. */
export type CandleRow = [time: number, open: string, high: string, low: string, close: string, volume: string, quoteVolume: string, trades: number, closed: boolean];

export function toRows(candles: readonly Candle[]): CandleRow[] {
  return candles.map((c) => [c.time, c.open, c.high, c.low, c.close, c.volume, c.quoteVolume, c.trades, c.closed]);
}

function parseQuery(query: unknown): CandlesQuery {
  const r = candlesQuery.safeParse(query);
  if (!r.success) throw new HttpError(400, 'bad_parameter', r.error.issues.map((i) => i.message).join('; '));
  return r.data;
}

/**
 * Closed candles, then the ones not closed yet (`closed: false`) unless `to`
 * is in the past by the source's clock (a replay's "now" is its trade
 * time), as public JSON texts from one atomic read (lua/read-candles.lua).
 * `limit` applies to the whole list: with `from` the first ones from there,
 * without it the newest.
 *
 * The clock is this process's copy, read from Redis at most once a second
 * (CLOCK_MAX_AGE_MS), so a request makes one Redis call, the script. That
 * keeps the answer consistent: the pair's state, closed and forming candles
 * are still read in one atomic step (a close landing meanwhile can never
 * show a bucket twice or in neither list). The clock only says which
 * buckets may read as closed before the worker stores them, and the
 * script stays in the pair's hash slot (the clock lives in another, so on
 * a Redis Cluster it could not be read there). A copy up to a second old
 * changes nothing for a live source (its now is the wall clock; the hash
 * only names the source) and for a replay means a "now" up to a second of
 * wall time behind: a bucket may read as forming a moment longer, never
 * wrongly closed, and the candles themselves are those stored at the read.
 */
export function candlesRouter(store: CandleStore, periods: readonly Period[], graceMs: number, pairs: KnownPairs, cache = new ReadCache()): Router {
  const router = Router();
  const clocks = new SharedAnswer(() => store.readClock(), CLOCK_MAX_AGE_MS);
  router
    .route('/candles/:pair/:period')
    .get(async (req, res) => {
      // Everything a 400 can be said about first, without touching Redis.
      const period = builtPeriod(periods, req.params.period);
      const q = parseQuery(req.query);
      const pair = await knownPair(pairs, req.params.pair);
      const clock = clocks.peek() ?? (await clocks.get());
      const now = sourceNow(clock);
      const what = q.to === undefined || (now !== undefined && q.to > now) ? 'both' : 'closed';
      // A bucket whose grace time is over reads as closed, stored by the worker or not yet.
      const closeLimit = closeLimits(store.plan, clock, graceMs).get(period.ms);
      // What the answer depends on besides the pair's data: the query, and of
      // the clock only the bucket `now` falls in and the close limit (the
      // script uses no more of them).
      const key = `${pair}|${period.ms}|${q.format}|${q.from ?? ''}|${q.to ?? ''}|${q.limit}|${what}|${now === undefined ? '' : Math.floor(now / period.ms)}|${closeLimit ?? ''}`;
      let kept = cache.get(key);
      if (kept && (await store.reads.version(pair)) !== kept.version) kept = undefined;
      if (!kept) {
        const { version, text } = await store.reads.readVersioned(pair, period.ms, { from: q.from, to: q.to, limit: q.limit, what, now, ...(closeLimit !== undefined && { closeLimit }) });
        // The candles are public JSON texts already: the body is spliced from
        // them, not parsed and written again. `pair` and the label are
        // canonical (A-Z, 0-9, _): nothing to escape.
        const head: Omit<CandlesResponse, 'candles'> = { pair, period: period.label };
        const body =
          q.format === 'csv'
            ? toCsv(parseCandles(text))
            : q.format === 'array'
              ? JSON.stringify({ ...head, candles: toRows(parseCandles(text)) })
              : `${JSON.stringify(head).slice(0, -1)},"candles":[${text}]}`;
        kept = cache.set(key, version, Buffer.from(body));
      }
      res.set('Content-Type', q.format === 'csv' ? 'text/csv; charset=utf-8' : 'application/json; charset=utf-8');
      res.set('ETag', kept.etag);
      res.send(kept.body);
    })
    .all(methodNotAllowed('GET, HEAD'));
  return router;
}
