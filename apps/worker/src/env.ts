import { z } from 'zod';
import { commonEnv, refineCommon } from '@candlestack/shared';

/** The worker's environment (DESIGN.md, "Configuration"). */
export const workerEnv = z.object({ ...commonEnv }).superRefine(refineCommon);

export type WorkerConfig = z.infer<typeof workerEnv>;
