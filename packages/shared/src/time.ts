/**
 * Reading a time that came from outside (a trade, a replay file, a query):
 * ms since the epoch or ISO 8601, always UTC unless the text says otherwise.
 * Every reader of times goes through here, so a trade and a query agree on
 * what "2024-01-01T00:00:00" means whatever zone the host runs in.
 */

/** The largest time a JS Date can hold (ms). */
export const MAX_TIME_MS = 8.64e15;

/**
 * ISO 8601 extended form: a date, optionally a time (minutes, seconds and a
 * fraction of up to 9 digits), optionally an offset `Z`, `±hh:mm`, `±hhmm`
 * or `±hh`. The basic form (20240101T000000Z) and week or ordinal dates are
 * not read: no client sends them, and each one more form is one more way to
 * misread a mistake.
 */
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(Z|[+-]\d{2}(?::?\d{2})?)?)?$/i;

/**
 * ms since the epoch, as a number or a digit string ("1700000000000"), or
 * ISO 8601 ("2023-11-14", "2023-11-14T22:13:20.5Z", "...+01:00"); undefined
 * if it is neither, or names a day or hour that does not exist (Feb 30,
 * 24:00), or falls before 1970 or past what a Date can hold.
 *
 * A date or time without an offset is UTC, never the host's zone: the
 * host's zone means nothing to the exchange or to a client, and every bucket
 * is aligned to UTC anyway. Fractions below a millisecond are dropped, in an
 * ISO fraction or a number. A digit string with a point ("1700000000.5") is
 * refused rather than cut: in text, that is usually seconds.
 */
export function parseUtcTime(v: unknown): number | undefined {
  if (typeof v === 'number') {
    // `+ 0` turns -0 into 0.
    return Number.isFinite(v) && v >= 0 && v <= MAX_TIME_MS ? Math.floor(v) + 0 : undefined;
  }
  if (typeof v !== 'string') return undefined;
  if (/^\d{1,16}$/.test(v)) {
    const ms = Number(v);
    return ms <= MAX_TIME_MS ? ms : undefined;
  }
  return parseIso(v);
}

function parseIso(text: string): number | undefined {
  const m = ISO.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', zone = 'Z'] = m;
  const [year, month, day, hour, minute, second] = [y, mo, d, h, mi, s].map(Number) as [number, number, number, number, number, number];
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour > 23 || minute > 59 || second > 59) return undefined;
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
  return t >= 0 && t <= MAX_TIME_MS ? t : undefined;
}

/** Days in a month (1-12) of the proleptic Gregorian calendar, as ISO 8601 counts. */
function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}
