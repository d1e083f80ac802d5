import { z } from 'zod';
import { auditEnv, commonEnv, healthFileEnv, poloniexRestUrlEnv, refineCommon } from '@candlestack/shared';

/** The worker's environment (docs/configuration.md). */
export const workerEnv = z
  .object({ ...commonEnv, HEALTH_FILE: healthFileEnv, AUDIT: auditEnv, POLONIEX_REST_URL: poloniexRestUrlEnv })
  .superRefine(refineCommon);

export type WorkerConfig = z.infer<typeof workerEnv>;
