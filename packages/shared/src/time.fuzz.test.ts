/**
 * Properties of parseUtcTime (fast-check; a failure prints how to replay
 * it): every time round-trips through its ISO form, ISO fields give what the
 * calendar says or nothing, and no text makes it throw or return a
 * non-integer.
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { either, fuzzParams, hostile, unicode } from '../../../test/support/fuzz.js';
import { MAX_TIME_MS, parseUtcTime } from './time.js';

/** The last ms whose ISO form has a 4-digit year (9999-12-31T23:59:59.999Z). */
const LAST_4_DIGIT_YEAR = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

const digits = (n: number) => fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: n, maxLength: n });
const pad = (n: number, width: number) => String(n).padStart(width, '0');

/** The fields of an ISO time, in range or a little out of it (Feb 30, 24:00, +24:00). */
const isoFields = fc.record({
  // Leap years and the century rule (2100 has no Feb 29, 2000 and 2400 have) come up often.
  year: fc.oneof(fc.integer({ min: 1971, max: 9998 }), fc.constantFrom(2000, 2023, 2024, 2100, 2400, 9996)),
  month: fc.oneof(fc.integer({ min: 0, max: 13 }), fc.constant(2)),
  day: fc.oneof(fc.integer({ min: 0, max: 32 }), fc.constantFrom(28, 29, 30, 31)),
  time: fc.option(
    fc.record({
      hour: fc.integer({ min: 0, max: 25 }),
      minute: fc.integer({ min: 0, max: 60 }),
      second: fc.option(fc.integer({ min: 0, max: 61 })),
      fraction: fc.option(fc.integer({ min: 1, max: 9 }).chain(digits)),
      zone: fc.option(
        fc.record({ sign: fc.constantFrom('+', '-'), hours: fc.integer({ min: 0, max: 24 }), minutes: fc.integer({ min: 0, max: 60 }), form: fc.constantFrom('hh:mm', 'hhmm', 'hh', 'Z', 'z') }),
      ),
    }),
  ),
});
type IsoFields = typeof isoFields extends fc.Arbitrary<infer T> ? T : never;

function isoText({ year, month, day, time }: IsoFields): string {
  const date = `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}`;
  if (!time) return date;
  const seconds = time.second === null ? '' : `:${pad(time.second, 2)}${time.fraction === null ? '' : `.${time.fraction}`}`;
  const z = time.zone;
  const zone = !z ? '' : z.form === 'Z' || z.form === 'z' ? z.form : `${z.sign}${pad(z.hours, 2)}${z.form === 'hh' ? '' : `${z.form === 'hh:mm' ? ':' : ''}${pad(z.minutes, 2)}`}`;
  return `${date}T${pad(time.hour, 2)}:${pad(time.minute, 2)}${seconds}${zone}`;
}

/**
 * The time the fields name, by another road than the parser's: Date.UTC
 * rolls Feb 30 over to Mar 1 and 24:00 to the next day, so fields that do
 * not come back unchanged name no time.
 */
function expected({ year, month, day, time }: IsoFields): number | undefined {
  const [hour, minute, second] = [time?.hour ?? 0, time?.minute ?? 0, time?.second ?? 0];
  const d = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  const same = d.getUTCFullYear() === year && d.getUTCMonth() === month - 1 && d.getUTCDate() === day && d.getUTCHours() === hour && d.getUTCMinutes() === minute && d.getUTCSeconds() === second;
  if (!same) return undefined;
  const z = time?.zone;
  let offsetMs = 0;
  if (z && z.form !== 'Z' && z.form !== 'z') {
    const minutes = z.form === 'hh' ? 0 : z.minutes;
    if (z.hours > 23 || minutes > 59) return undefined;
    offsetMs = (z.sign === '-' ? -1 : 1) * (z.hours * 60 + minutes) * 60_000;
  }
  // A fraction is written only after seconds.
  const ms = time?.fraction && time.second !== null ? Number(time.fraction.slice(0, 3).padEnd(3, '0')) : 0;
  return d.getTime() + ms - offsetMs;
}

describe('parseUtcTime properties', () => {
  it('any time round-trips: its ISO form, the same with an offset, and its ms as digits', () => {
    const offset = fc.integer({ min: -(23 * 60 + 59), max: 23 * 60 + 59 });
    fc.assert(
      fc.property(fc.integer({ min: 0, max: LAST_4_DIGIT_YEAR }), offset, (ms, offsetMin) => {
        const iso = new Date(ms).toISOString();
        if (parseUtcTime(iso) !== ms) throw new Error(`${iso} -> ${parseUtcTime(iso)}`);
        if (parseUtcTime(String(ms)) !== ms || parseUtcTime(ms) !== ms) throw new Error(`${ms} as ms`);
        // The same instant written in another zone: local fields, then the offset.
        const local = new Date(ms + offsetMin * 60_000).toISOString().slice(0, -1);
        const sign = offsetMin < 0 ? '-' : '+';
        const abs = Math.abs(offsetMin);
        const text = `${local}${sign}${pad(Math.floor(abs / 60), 2)}:${pad(abs % 60, 2)}`;
        if (!local.startsWith('+') && !local.startsWith('-') && parseUtcTime(text) !== ms) throw new Error(`${text} -> ${parseUtcTime(text)}`);
      }),
      fuzzParams(5000),
    );
  });

  it('ISO fields: the time the calendar gives them, or undefined when they name none', () => {
    fc.assert(
      fc.property(isoFields, (fields) => {
        const text = isoText(fields);
        const got = parseUtcTime(text);
        const want = expected(fields);
        if (got !== want) throw new Error(`${text}: got ${got}, the calendar says ${want}`);
      }),
      fuzzParams(5000),
    );
  });

  it('any text: an integer ms in range, or undefined; never a throw', () => {
    const nearTime = fc
      .tuple(fc.oneof(isoFields.map(isoText), fc.nat().map(String)), fc.nat(30), hostile)
      .map(([t, at, h]) => t.slice(0, at) + h + t.slice(at));
    const text = fc.oneof(unicode(40), hostile, nearTime, isoFields.map(isoText), either(50, digits(13), digits(17)));
    fc.assert(
      fc.property(fc.oneof(text, fc.anything()), (v) => {
        const t = parseUtcTime(v);
        if (t !== undefined && !(Number.isSafeInteger(t) && t >= 0 && t <= MAX_TIME_MS && !Object.is(t, -0))) throw new Error(`${String(v)} -> ${t}`);
      }),
      fuzzParams(5000),
    );
  });
});
