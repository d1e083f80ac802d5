/**
 * `GET /admin/audit`: the closed candles the audit found differing from the
 * exchange's own (docs/audit.md), newest first, ours and the exchange's
 * side by side. Kept in a capped stream (the newest AUDIT_KEEP); the counts
 * of every result are in /metrics (`candlestack_candles_audited_total`).
 * Same access rule as the board.
 */
import { Router } from 'express';
import { z } from 'zod';
import { AUDIT_KEEP, type Keys, type RedisClient } from '@candlestack/shared';
import { basicAuth, type AdminCredentials } from '../board.js';
import { HttpError, methodNotAllowed } from '../errors.js';
import type { auditResponse } from '../schemas.js';

export const AUDIT_PATH = '/admin/audit';
export const DEFAULT_AUDIT_LIMIT = 50;

const rule = `limit must be a whole number from 1 to ${AUDIT_KEEP}`;
export const auditQuery = z.strictObject(
  {
    limit: z
      .string('limit is given more than once')
      .regex(/^\d{1,4}$/, rule)
      .transform(Number)
      .pipe(z.number().min(1, rule).max(AUDIT_KEEP, rule))
      .default(DEFAULT_AUDIT_LIMIT),
  },
  { error: (issue) => (issue.code === 'unrecognized_keys' ? `unknown parameter ${issue.keys.join(', ')}: the parameter is limit` : undefined) },
);

type Difference = z.infer<typeof auditResponse>['differences'][number];

export function auditRouter(redis: RedisClient, keys: Keys, credentials: AdminCredentials | undefined): Router {
  const router = Router();
  if (credentials) router.use(AUDIT_PATH, basicAuth(credentials));
  router
    .route(AUDIT_PATH)
    .get(async (req, res) => {
      const q = auditQuery.safeParse(req.query);
      if (!q.success) throw new HttpError(400, 'bad_parameter', q.error.issues.map((i) => i.message).join('; '));
      const [total, raw] = await Promise.all([
        redis.xlen(keys.auditDifferences()),
        redis.xrevrange(keys.auditDifferences(), '+', '-', 'COUNT', q.data.limit),
      ]);
      const differences: Difference[] = [];
      for (const [id, fields] of raw) {
        const i = fields.indexOf('d');
        try {
          differences.push({ id, ...(JSON.parse(fields[i + 1] ?? '') as Omit<Difference, 'id'>) });
        } catch {
          // Not an entry the audit wrote: left out.
        }
      }
      res.set('Cache-Control', 'no-store').json({ total, differences });
    })
    .all(methodNotAllowed('GET, HEAD'));
  return router;
}
