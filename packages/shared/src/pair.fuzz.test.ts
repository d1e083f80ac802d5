/**
 * Properties of normalizePair (fast-check; a failure prints how to replay
 * it): any text is a canonical pair or a PairError with a short message, a
 * canonical pair is its own normal form, and the pair is the ASCII text it
 * was written as, upper-cased, never another spelling of it.
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { fuzzParams, hostile, unicode } from '../../../test/support/fuzz.js';
import { PairError, normalizePair } from './pair.js';

const CANONICAL = /^[A-Z0-9]{1,20}_[A-Z0-9]{1,20}$/;

/**
 * Characters that make near-pairs: ASCII letters and digits, and the
 * Unicode ones whose case mapping lands on ASCII (long s, dotless i, Kelvin
 * sign, the "ﬀ" ligature), or that look like ASCII (fullwidth, Cyrillic).
 */
const sideChar = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...'ABCXYZabcxyz0189') },
  { weight: 1, arbitrary: fc.constantFrom('ſ', 'ı', 'İ', '\u212a', 'ﬀ', 'ß', 'Ａ', '１', 'А', 'é', 'e\u0301') },
);
const side = fc.string({ unit: sideChar, minLength: 0, maxLength: 22 });
const space = fc.constantFrom('', '', '', ' ', '\t', '\n', '\u00a0', '\u3000', '\ufeff');
const nearPair = fc
  .tuple(space, side, fc.constantFrom('_', '-', '/', '__', ' ', '.', ''), side, space)
  .map((parts) => parts.join(''));

const anyText = fc.oneof({ weight: 5, arbitrary: nearPair }, { weight: 2, arbitrary: unicode(50) }, { weight: 2, arbitrary: hostile }, { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 50 }) });

describe('normalizePair properties', () => {
  it('any text: a canonical pair that is its own normal form, or a PairError with a short message', () => {
    fc.assert(
      fc.property(anyText, (text) => {
        let pair: string;
        try {
          pair = normalizePair(text);
        } catch (e) {
          if (!(e instanceof PairError)) throw new Error(`threw ${String(e)}, not a PairError`, { cause: e });
          if (e.message.length > 200) throw new Error(`a message of ${e.message.length} characters`, { cause: e });
          return;
        }
        if (!CANONICAL.test(pair)) throw new Error(`${JSON.stringify(text)} -> ${JSON.stringify(pair)}, not canonical`);
        if (normalizePair(pair) !== pair) throw new Error(`${pair} -> ${normalizePair(pair)}: not idempotent`);
        // The pair is the text itself, upper-cased letter by letter: only
        // ASCII, so no case mapping turned another character into a letter.
        if (/[\u0080-\uffff]/.test(text)) throw new Error(`${JSON.stringify(text)} (not ASCII) -> ${pair}`);
        const [base, quote] = pair.split('_') as [string, string];
        if (text.trim().toUpperCase() !== `${base}${text.trim()[base.length]!}${quote}`) throw new Error(`${JSON.stringify(text)} -> ${pair}`);
      }),
      fuzzParams(10_000),
    );
  });
});
