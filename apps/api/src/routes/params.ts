/**
 * Path parameters shared by the routes: a pair (any accepted spelling, to
 * its canonical form) and a period (must be one the deployment builds).
 */
import { z } from 'zod';
import { normalizePair, parsePeriod, type CandleStore, type Period } from '@candlestack/shared';
import { HttpError } from '../errors.js';

const pairParam = z.string().transform((s, ctx) => {
  try {
    return normalizePair(s);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
    return z.NEVER;
  }
});

/**
 * The canonical pair, if the deployment follows it. A malformed pair is
 * unknown too: 404 either way (DESIGN.md names only "an unknown pair").
 */
export async function knownPair(store: CandleStore, text: string): Promise<string> {
  const r = pairParam.safeParse(text);
  if (!r.success) throw new HttpError(404, 'unknown_pair', r.error.issues.map((i) => i.message).join('; '));
  // One SISMEMBER rather than the whole set: PAIRS=all can be hundreds.
  if (!(await store.redis.sismember(store.keys.pairs(), r.data))) {
    throw new HttpError(404, 'unknown_pair', `unknown pair ${r.data}: the pairs served are listed at /pairs`);
  }
  return r.data;
}

/** The period, if built here; else a 400 listing the periods that are. */
export function builtPeriod(periods: readonly Period[], text: string): Period {
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
