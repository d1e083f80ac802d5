import { z } from 'zod';
import { commonEnv, healthFileEnv, refineCommon } from '@candlestack/shared';

/** The worker's environment (docs/configuration.md). */
export const workerEnv = z.object({ ...commonEnv, HEALTH_FILE: healthFileEnv }).superRefine(refineCommon);

export type WorkerConfig = z.infer<typeof workerEnv>;
