/** `GET /candles/:pair/:period` (docs/api.md): JSON, CSV or JSON rows (`format=array`), oldest first. */
import { Router } from 'express';
import { closeLimits, parseCandles, sourceNow, type Candle, type CandleStore, type Period } from '@candlestack/shared';
import { HttpError, methodNotAllowed } from '../errors.js';
import type { KnownPairs } from '../known-pairs.js';
import { COMPRESS_MIN_BYTES, ReadCache, type Encoding } from '../read-cache.js';
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

/**
 * For an answer that can never change: a day, not a year nor `immutable`,
 * since candles may still be deleted by CANDLE_RETENTION or a deployment's
 * data rebuilt (a new REDIS_PREFIX behind the same URL); a day bounds how
 * long a cache may show that.
 */
export const SETTLED_CACHE_CONTROL = 'public, max-age=86400';

/**
 * How far the ingester's clock may be ahead of this process's: a trade is
 * refused once older than *its* clock minus MAX_LATE, and two machines'
 * wall clocks differ by a little (the same 60 s the time bounds allow a
 * trade ahead of the wall clock).
 */
export const CLOCK_SKEW_MS = 60_000;

/**
 * Whether no write can change the answer of a window ending at `to` any
 * more. A late trade revises its closed candle, and the flat ones after it,
 * as long as it is within MAX_LATE of the source's clock (README, "Time
 * bounds"); older ones are set aside. So once the end of the last bucket the
 * window holds is older than now − MAX_LATE (less the skew above), every
 * trade that could touch a candle of it, or a flat candle's previous close,
 * would be refused: the window is settled. Everything else (the newest
 * candles, the forming one, a window still revisable) is `no-cache`: a
 * client may keep it but asks again, and the ETag makes that a 304.
 * Without `to` never: the newest candles move on.
 */
export function settled(to: number | undefined, periodMs: number, now: number | undefined, closeLimit: number | undefined, maxLateMs: number): boolean {
  if (to === undefined || now === undefined || closeLimit === undefined) return false;
  const lastStart = Math.ceil(to / periodMs) * periodMs - periodMs;
  return lastStart <= closeLimit && lastStart + periodMs <= now - maxLateMs - CLOCK_SKEW_MS;
}

/**
 * br or gzip, whichever the client's Accept-Encoding weighs more (br on a
 * tie: smaller, and every browser that sends it decodes it); undefined:
 * send it as it is. Express' acceptsEncodings() breaks ties by the client's
 * order, which would pick gzip from the usual `gzip, deflate, br`.
 */
export function acceptedEncoding(header: string | undefined): Encoding | undefined {
  const q = new Map<string, number>();
  for (const part of (header ?? '').split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    if (!name) continue;
    const weight = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    q.set(name, weight === undefined ? 1 : Number(weight.slice(2)) || 0);
  }
  const of = (e: string) => q.get(e) ?? q.get('*') ?? 0;
  const br = of('br');
  const gzip = of('gzip');
  if (br <= 0 && gzip <= 0) return undefined;
  return br >= gzip ? 'br' : 'gzip';
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
export function candlesRouter(
  store: CandleStore,
  periods: readonly Period[],
  graceMs: number,
  maxLateMs: number,
  pairs: KnownPairs,
  cache = new ReadCache(),
): Router {
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
      res.set('Cache-Control', settled(q.to, period.ms, now, closeLimit, maxLateMs) ? SETTLED_CACHE_CONTROL : 'no-cache');
      res.vary('Accept-Encoding');
      const encoding = kept.body.length >= COMPRESS_MIN_BYTES && req.method === 'GET' ? acceptedEncoding(req.headers['accept-encoding']) : undefined;
      if (!encoding) {
        res.set('ETag', kept.etag);
        res.send(kept.body);
        return;
      }
      const bytes = await cache.encoded(key, kept, encoding);
      // Weak, as nginx makes it for what it compresses: the same tag for
      // every encoding of one body, so an If-None-Match matches whichever
      // encoding the client got it with (Express compares weakly).
      res.set({ ETag: `W/${kept.etag}`, 'Content-Encoding': encoding });
      res.send(bytes);
    })
    .all(methodNotAllowed('GET, HEAD'));
  return router;
}
