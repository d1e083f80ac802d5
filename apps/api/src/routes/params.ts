/**
 * Path parameters shared by the routes: a pair (any accepted spelling, to
 * its canonical form) and a period (must be one the deployment builds).
 */
import { z } from 'zod';
import { normalizePair, parsePeriod, type Period } from '@candlestack/shared';
import { HttpError } from '../errors.js';
import type { KnownPairs } from '../known-pairs.js';

const pairParam = z.string().transform((s, ctx) => {
  try {
    return normalizePair(s);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
    return z.NEVER;
  }
});

/**
 * Spellings already read, to their canonical form or the 404's message:
 * a request repeats the spelling of the one before, and these are pure.
 * Bounded: cleared when full (any text is a key).
 */
const MEMO_MAX = 1_000;
const pairMemo = new Map<string, { pair: string } | { error: string }>();
const periodMemos = new WeakMap<readonly Period[], Map<string, Period | HttpError>>();
function remember<V>(memo: Map<string, V>, key: string, value: V): V {
  if (memo.size >= MEMO_MAX) memo.clear();
  memo.set(key, value);
  return value;
}

/**
 * The canonical pair, if the deployment follows it (known-pairs.ts: from
 * memory, or one SISMEMBER). A malformed pair is unknown too: 404 either
 * way (the contract names only "an unknown pair").
 */
export async function knownPair(pairs: KnownPairs, text: string): Promise<string> {
  let r = pairMemo.get(text);
  if (!r) {
    const parsed = pairParam.safeParse(text);
    r = remember(pairMemo, text, parsed.success ? { pair: parsed.data } : { error: parsed.error.issues.map((i) => i.message).join('; ') });
  }
  if ('error' in r) throw new HttpError(404, 'unknown_pair', r.error);
  if (!(await pairs.has(r.pair))) {
    throw new HttpError(404, 'unknown_pair', `unknown pair ${r.pair}: the pairs served are listed at /pairs`);
  }
  return r.pair;
}

/** The period, if built here; else a 400 listing the periods that are. */
export function builtPeriod(periods: readonly Period[], text: string): Period {
  let memo = periodMemos.get(periods);
  if (!memo) periodMemos.set(periods, (memo = new Map()));
  let r = memo.get(text);
  if (!r) {
    try {
      r = remember(memo, text, readPeriod(periods, text));
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      r = remember(memo, text, err);
    }
  }
  if (r instanceof HttpError) throw new HttpError(r.status, r.code, r.message);
  return r;
}

function readPeriod(periods: readonly Period[], text: string): Period {
  const built = `the periods built are ${periods.map((p) => p.label).join(', ')}`;
  const r = z
    .string()
    .transform((s, ctx) => {
      try {
        return parsePeriod(s);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: (e as Error).message });
        return z.NEVER;
      }
    })
    .safeParse(text);
  if (!r.success) throw new HttpError(400, 'bad_period', `${r.error.issues.map((i) => i.message).join('; ')}; ${built}`);
  // "60s" and "1m" are the same period: match by length, answer with the label.
  const period = periods.find((p) => p.ms === r.data.ms);
  if (!period) throw new HttpError(400, 'bad_period', `period ${r.data.label} is not built here: ${built}`);
  return period;
}
