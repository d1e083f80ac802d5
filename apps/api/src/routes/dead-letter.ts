/**
 * `GET /admin/dead-letter`: the malformed input the ingester set aside, newest
 * first, with the reason (the `ticks_malformed_total` metric counts them).
 * Same access rule as the board: it shows raw exchange messages.
 */
import { Router } from 'express';
import { z } from 'zod';
import type { Keys, RedisClient } from '@candlestack/shared';
import { basicAuth, type AdminCredentials } from '../board.js';
import { HttpError, methodNotAllowed } from '../errors.js';

export const DEAD_LETTER_PATH = '/admin/dead-letter';

const query = z.strictObject(
  {
    limit: z
      .string('limit is given more than once')
      .regex(/^\d{1,4}$/, 'limit must be a whole number from 1 to 1000')
      .transform(Number)
      .pipe(z.number().min(1, 'limit must be a whole number from 1 to 1000').max(1000, 'limit must be a whole number from 1 to 1000'))
      .default(50),
  },
  { error: (issue) => (issue.code === 'unrecognized_keys' ? `unknown parameter ${issue.keys.join(', ')}: the parameter is limit` : undefined) },
);

export interface DeadLetterEntry {
  readonly id: string;
  /** When it was set aside (ms since the epoch). */
  readonly at: number | null;
  readonly source: string;
  readonly reason: string;
  readonly sample: string;
}

export function deadLetterRouter(redis: RedisClient, keys: Keys, credentials: AdminCredentials | undefined): Router {
  const router = Router();
  if (credentials) router.use(DEAD_LETTER_PATH, basicAuth(credentials));
  router
    .route(DEAD_LETTER_PATH)
    .get(async (req, res) => {
      const q = query.safeParse(req.query);
      if (!q.success) throw new HttpError(400, 'bad_parameter', q.error.issues.map((i) => i.message).join('; '));
      const [total, raw] = await Promise.all([
        redis.xlen(keys.deadLetter()),
        redis.xrevrange(keys.deadLetter(), '+', '-', 'COUNT', q.data.limit),
      ]);
      const entries: DeadLetterEntry[] = raw.map(([id, fields]) => {
        const f: Record<string, string> = {};
        for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
        const at = Number(f.at);
        return { id, at: Number.isFinite(at) ? at : null, source: f.source ?? '', reason: f.reason ?? '', sample: f.sample ?? '' };
      });
      res.json({ total, entries });
    })
    .all(methodNotAllowed('GET, HEAD'));
  return router;
}
