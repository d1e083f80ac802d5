/**
 * The query string of `GET /candles/:pair/:period`: `limit`, `from`, `to`,
 * `format` (docs/api.md). Strict on purpose: a parameter we do not know, or
 * one given twice, is a 400 rather than silently ignored, since a typo such
 * as `form=` would otherwise return a different window than asked for.
 */
import { parseUtcTime } from '@candlestack/shared';
import { z } from 'zod';

export const MAX_LIMIT = 5000;
/** `json`: candle objects; `csv`; `array`: rows [time, open, high, low, close, volume, quoteVolume, trades, closed]. */
export const CANDLE_FORMATS = ['json', 'csv', 'array'] as const;
export const DEFAULT_LIMIT = 100;

/**
 * Below this, a whole number is taken for seconds, not ms: as ms it would
 * be before 1973-03-03, as seconds it is any time up to 5138. Sending
 * seconds is the usual mistake (Unix time, Python's time.time()), and read
 * as ms it would silently ask for 1970.
 */
export const SECONDS_BELOW = 100_000_000_000;

export const once = (name: string) => z.string({ error: `${name} is given more than once` });

/** `from` or `to`: ms or ISO 8601, UTC when no offset is given (the shared parser). */
export const time = (name: 'from' | 'to') =>
  once(name).transform((s, ctx) => {
    // An unencoded "+" in a query string arrives as a space: "...T10:00:00 01:00".
    const t = parseUtcTime(s.replace(/ (\d{2}(?::?\d{2})?)$/, '+$1'));
    if (t === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: `${name}=${JSON.stringify(s)} is not a time: give ms since the epoch (1700000000000) or ISO 8601 (2023-11-14T22:13:20Z)`,
      });
      return z.NEVER;
    }
    // 0 is the same instant in seconds or ms: nothing to warn about.
    if (/^\d+$/.test(s) && t > 0 && t < SECONDS_BELOW) {
      ctx.addIssue({ code: 'custom', message: `${name}=${s} looks like seconds, not ms: multiply by 1000 (${name}=${t * 1000})` });
      return z.NEVER;
    }
    return t;
  });

/** `limit`: a whole number from 1 to `max`, `def` when not given. */
export const limitParam = (max: number, def: number) => {
  const rule = `limit must be a whole number from 1 to ${max}`;
  return once('limit')
    .regex(/^\d{1,9}$/, rule)
    .transform(Number)
    .pipe(z.number().min(1, rule).max(max, rule))
    .default(def);
};

/** Unknown parameters are named, with the ones there are. */
export const unknownParams = (allowed: string) => ({
  error: (issue: { code?: string; keys?: string[] }) =>
    issue.code === 'unrecognized_keys' ? `unknown parameter ${(issue.keys ?? []).join(', ')}: the parameters are ${allowed}` : undefined,
});

/** `from` before `to` when both are given. */
export const fromBeforeTo = (q: { from?: number; to?: number }, ctx: z.RefinementCtx) => {
  if (q.from !== undefined && q.to !== undefined && q.from >= q.to) {
    ctx.addIssue({ code: 'custom', path: ['from'], message: 'from must be before to (from is inclusive, to exclusive)' });
  }
};

export const candlesQuery = z
  .strictObject(
    {
      limit: limitParam(MAX_LIMIT, DEFAULT_LIMIT),
      from: time('from').optional(),
      to: time('to').optional(),
      format: once('format').pipe(z.enum(CANDLE_FORMATS, 'format must be json, csv or array')).default('json'),
    },
    unknownParams('limit, from, to, format'),
  )
  .superRefine(fromBeforeTo);

export type CandlesQuery = z.infer<typeof candlesQuery>;
