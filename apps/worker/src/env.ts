import { z } from 'zod';
import { commonEnv } from '@candlestack/shared';

/** The worker's environment (DESIGN.md, "Configuration"). */
export const workerEnv = z.object({ ...commonEnv });

export type WorkerConfig = z.infer<typeof workerEnv>;
