/**
 * Fuzzing with fast-check: the parameters every fuzz test passes to
 * `fc.assert`, and the hostile values and arbitraries they share.
 *
 * A failure is shrunk to a small counterexample, and its message ends with
 * the line that replays exactly that case:
 * `FUZZ_SEED=<seed> FUZZ_PATH=<path> npx vitest run <file> -t <test>`.
 */
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { expect } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The seed under CI: a submission must not pass or fail by luck. */
const CI_SEED = 20_261_122;

/**
 * The seed to use: FUZZ_SEED; else, under CI, a fixed one; else a new one
 * each run, to explore.
 */
function fuzzSeed(): number {
  const given = process.env.FUZZ_SEED;
  if (given !== undefined && given !== '') return Number(given) | 0;
  if (process.env.CI) return CI_SEED;
  return (Math.random() * 2 ** 32) | 0;
}

/**
 * fast-check's parameters for a fuzz test: the seed (above), FUZZ_PATH to
 * go straight to a counterexample a failure printed, and `numRuns`.
 */
export function fuzzParams<T>(numRuns: number): fc.Parameters<T> & { seed: number; numRuns: number } {
  const path = process.env.FUZZ_PATH || undefined;
  return {
    seed: fuzzSeed(),
    numRuns,
    // With a path, only the counterexample it leads to runs.
    ...(path ? { path, endOnFailure: true } : {}),
    plugins: [replayHint<T>],
  };
}

/** fast-check's own report of a failure, then how to replay it with this project's variables. */
const replayHint = <T>(): fc.PluginInstance<T> => ({
  onAllRunsComplete: (run) => {
    if (!run.failed) return;
    const state = expect.getState();
    const file = state.testPath ? relative(ROOT, state.testPath) : '<file>';
    const test = (state.currentTestName ?? '').split(' > ').at(-1) ?? '';
    const pattern = test.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const replay = `FUZZ_SEED=${run.seed} FUZZ_PATH=${run.counterexamplePath ?? ''} npx vitest run ${file} -t '${pattern.replace(/'/g, `'\\''`)}'`;
    throw new Error(`${fc.defaultReportMessage(run) ?? 'property failed'}\n\nReplay this case: ${replay}`, { cause: run.errorInstance });
  },
});

/** Values that break careless parsers: numbers at the edges, odd strings, keys that reach prototypes. */
export const HOSTILE_STRINGS: readonly string[] = [
  '',
  ' ',
  '0',
  '-0',
  '-1',
  '1e309',
  '-1e309',
  'NaN',
  'Infinity',
  '0x10',
  '1_000',
  '9007199254740993',
  '99999999999999999999999999999999',
  '0.00000000000000000000000000001',
  '1.',
  '.5',
  '1e-7',
  '１２３',
  'null',
  'undefined',
  'true',
  '[]',
  '{}',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty',
  '\u0000',
  '\uFEFF1',
  '\u202E',
  '😀',
  '%00',
  '%',
  '%zz',
  '../../etc/passwd',
  '<script>alert(1)</script>',
  "' OR 1=1 --",
  '${7*7}',
  'a'.repeat(300),
  '2024-01-01T00:00:00Z',
  '2024-13-45T99:99:99Z',
  '9999-12-31T23:59:59.999Z',
  '0000-01-01T00:00:00Z',
  // Unicode case folding: "ſ".toUpperCase() is "S", "ı".toUpperCase() is "I".
  'x_uſdt',
  'ıX_USDT',
];

/** True `percent` times in 100. */
export const chance = (percent: number) => either(percent, fc.constant(true), fc.constant(false));

/** A value of `a` `percent` times in 100, else one of `b`. */
export function either<A, B>(percent: number, a: fc.Arbitrary<A>, b: fc.Arbitrary<B>): fc.Arbitrary<A | B> {
  return fc.oneof({ weight: percent, arbitrary: a as fc.Arbitrary<A | B> }, { weight: 100 - percent, arbitrary: b as fc.Arbitrary<A | B> });
}

const codePoint = (min: number, max: number) => fc.integer({ min, max }).map((cp) => String.fromCodePoint(cp));

/** One character: any code point but surrogates, weighted towards printable ASCII. */
export const anyChar = fc.oneof(
  { weight: 6, arbitrary: codePoint(0x20, 0x7e) },
  { weight: 1, arbitrary: codePoint(0, 0x1f) },
  { weight: 2, arbitrary: codePoint(0xa0, 0xd7ff) },
  { weight: 1, arbitrary: codePoint(0xe000, 0x10ffff) },
);

/** A string of `minLength` to `maxLength` of those characters. */
export const unicode = (maxLength: number, minLength = 0) => fc.string({ unit: anyChar, minLength, maxLength });

/** A hostile value, or random unicode. */
export const hostile: fc.Arbitrary<string> = fc.oneof(
  { weight: 7, arbitrary: fc.constantFrom(...HOSTILE_STRINGS) },
  { weight: 3, arbitrary: unicode(40) },
);

const jsonLeaf: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer({ min: -1e9, max: 1e9 }),
  fc.constantFrom(0, -0, 1e308, -1e308, 5e-324, Number.MAX_SAFE_INTEGER + 2, 1.5, -1),
  hostile,
);

const PROTO_KEYS = ['__proto__', 'constructor', 'prototype'];

const jsonByDepth: fc.Arbitrary<unknown>[] = [jsonLeaf];

/** A random JSON-able value, up to `depth` levels of nesting. */
export function randomJson(depth = 3): fc.Arbitrary<unknown> {
  for (let d = jsonByDepth.length; d <= depth; d++) {
    const inner = jsonByDepth[d - 1]!;
    const key = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...PROTO_KEYS) }, { weight: 7, arbitrary: hostile });
    jsonByDepth[d] = fc.oneof(
      { weight: 2, arbitrary: jsonLeaf },
      { weight: 1, arbitrary: fc.array(inner, { maxLength: 4 }) },
      {
        weight: 1,
        arbitrary: fc.array(fc.tuple(key, inner), { maxLength: 5 }).map((entries) => {
          // No prototype: `o.__proto__ = v` then makes an own key, which JSON.stringify writes.
          const o = Object.create(null) as Record<string, unknown>;
          for (const [k, v] of entries) o[k] = v;
          return o;
        }),
      },
    );
  }
  return jsonByDepth[depth]!;
}
