/**
 * The query string of `GET /candles/:pair/:period`: `limit`, `from`, `to`,
 * `format` (DESIGN.md). Strict on purpose: a parameter we do not know, or
 * one given twice, is a 400 rather than silently ignored, since a typo such
 * as `form=` would otherwise return a different window than asked for.
 */
import { z } from 'zod';

export const MAX_LIMIT = 5000;
export const DEFAULT_LIMIT = 100;

/** The largest time a JS Date can hold (ms). */
const MAX_TIME = 8.64e15;

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(Z|[+-]\d{2}(?::?\d{2})?)?)?$/i;

/**
 * ms since the epoch ("1700000000000") or ISO 8601 in its extended form
 * ("2023-11-14", "2023-11-14T22:13:20.5Z", "...+01:00"); undefined if it is
 * neither. A date or time without an offset is UTC: the server's own zone
 * means nothing to a client, and every bucket is aligned to UTC anyway.
 * Fractions below a millisecond are dropped.
 */
export function parseTime(text: string): number | undefined {
  if (/^\d{1,16}$/.test(text)) {
    const ms = Number(text);
    return ms <= MAX_TIME ? ms : undefined;
  }
  // An unencoded "+" in a query string arrives as a space: "...T10:00:00 01:00".
  const m = ISO.exec(text.replace(/ (\d{2}(?::?\d{2})?)$/, '+$1'));
  if (!m) return undefined;
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', zone = 'Z'] = m;
  const [year, month, day, hour, minute, second] = [y, mo, d, h, mi, s].map(Number) as [number, number, number, number, number, number];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59) return undefined;
  let offsetMin = 0;
  if (zone.toUpperCase() !== 'Z') {
    const digits = zone.slice(1).replace(':', '');
    const oh = Number(digits.slice(0, 2));
    const om = Number(digits.slice(2) || '0');
    if (oh > 23 || om > 59) return undefined;
    offsetMin = (zone[0] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const ms = Number(frac.padEnd(3, '0').slice(0, 3));
  // Date.UTC maps years 0-99 to 1900-1999; setUTCFullYear does not.
  const date = new Date(Date.UTC(2000, month - 1, day, hour, minute, second, ms));
  date.setUTCFullYear(year);
  const t = date.getTime() - offsetMin * 60_000;
  return t >= 0 && t <= MAX_TIME ? t : undefined;
}

const once = (name: string) => z.string({ error: `${name} is given more than once` });

const time = (name: 'from' | 'to') =>
  once(name).transform((s, ctx) => {
    const t = parseTime(s);
    if (t === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: `${name}=${JSON.stringify(s)} is not a time: give ms since the epoch (1700000000000) or ISO 8601 (2023-11-14T22:13:20Z)`,
      });
      return z.NEVER;
    }
    return t;
  });

const LIMIT_RULE = `a whole number from 1 to ${MAX_LIMIT}`;
const ALLOWED = 'limit, from, to, format';

export const candlesQuery = z
  .strictObject(
    {
      limit: once('limit')
        .regex(/^\d{1,9}$/, `limit must be ${LIMIT_RULE}`)
        .transform(Number)
        .pipe(z.number().min(1, `limit must be ${LIMIT_RULE}`).max(MAX_LIMIT, `limit must be ${LIMIT_RULE}`))
        .default(DEFAULT_LIMIT),
      from: time('from').optional(),
      to: time('to').optional(),
      format: once('format').pipe(z.enum(['json', 'csv'], 'format must be json or csv')).default('json'),
    },
    {
      error: (issue) =>
        issue.code === 'unrecognized_keys'
          ? `unknown parameter ${issue.keys.join(', ')}: the parameters are ${ALLOWED}`
          : undefined,
    },
  )
  .superRefine((q, ctx) => {
    if (q.from !== undefined && q.to !== undefined && q.from >= q.to) {
      ctx.addIssue({ code: 'custom', path: ['from'], message: 'from must be before to (from is inclusive, to exclusive)' });
    }
  });

export type CandlesQuery = z.infer<typeof candlesQuery>;
