import { z } from 'zod';
import { commonEnv, healthFileEnv, historyEnv, intEnv, pairsEnv, parsedEnv, poloniexRestUrlEnv, refineCommon } from '@candlestack/shared';

const url = (schemes: string[]) =>
  z.string().refine((s) => URL.canParse(s) && schemes.includes(new URL(s).protocol), `a ${schemes.join(' or ')}// URL`);

const speed = parsedEnv((s) => {
  const n = Number(s);
  if (!/^\d+(\.\d+)?$/.test(s.trim()) || !Number.isFinite(n)) throw new Error('a number >= 0 (0: as fast as possible)');
  return n;
});

/** The ingester's environment (docs/configuration.md). */
export const ingestEnv = z.object({
  ...commonEnv,
  SOURCE: z.enum(['poloniex', 'simulated', 'replay']).default('poloniex'),
  PAIRS: pairsEnv,
  POLONIEX_WS_URL: url(['ws:', 'wss:']).default('wss://ws.poloniex.com/ws/public'),
  POLONIEX_REST_URL: poloniexRestUrlEnv,
  HISTORY: historyEnv,
  REPLAY_FILE: z.string().min(1).optional(),
  REPLAY_SPEED: speed.default(1),
  SIM_SEED: intEnv(0, 2 ** 32 - 1).default(1),
  SIM_RATE: parsedEnv((s) => {
    const n = Number(s);
    if (!/^\d+(\.\d+)?$/.test(s.trim()) || n <= 0 || n > 100_000) throw new Error('trades per second per pair, more than 0 and at most 100000');
    return n;
  }).default(20),
  /** The bound of the in-memory buffer while Redis is away. */
  INGEST_BUFFER: intEnv(1_000, 10_000_000).default(500_000),
  HEALTH_FILE: healthFileEnv,
}).superRefine(refineCommon);

export type IngestConfig = z.infer<typeof ingestEnv>;
