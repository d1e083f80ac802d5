/**
 * The API's environment (docs/configuration.md), parsed once at
 * start with `loadConfig(apiEnv)`. A bad value stops the process with one
 * line naming the variable, the value and what is allowed.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { commonEnv, intEnv, parsedEnv, refineCommon } from '@candlestack/shared';
import { parseOrigins } from './guards/origins.js';

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9-]{1,63})*$/;

export const apiEnv = z
  .object({
    ...commonEnv,
    HOST: z
      .string()
      .refine((s) => isIP(s) !== 0 || HOSTNAME.test(s), 'an IP address or a host name (e.g. 127.0.0.1, ::1, localhost)')
      .default('127.0.0.1'),
    // 0 asks the OS for a free port (tests).
    PORT: intEnv(0, 65_535).default(3000),
    // A colon cannot appear in a basic-auth user name: it separates the password.
    ADMIN_USER: z.string().regex(/^[^:]+$/, 'a user name without ":"').optional(),
    // No format rule on purpose: a rule's error line would print the password.
    ADMIN_PASSWORD: z.string().optional(),
    // Requests per minute per client address; 0 turns the limit off.
    RATE_LIMIT: intEnv(0, 1_000_000).default(1200),
    // Other sites' origins allowed to GET the API from a browser (and to
    // open /ws); unset, only the API's own pages may.
    CORS_ORIGINS: parsedEnv(parseOrigins).default([]),
  })
  .superRefine((env, ctx) => {
    refineCommon(env, ctx);
    // Half a credential is a mistake, not "no credentials". The issue names
    // the unset variable so the error line never shows the password.
    if ((env.ADMIN_USER === undefined) !== (env.ADMIN_PASSWORD === undefined)) {
      const [unset, set] = env.ADMIN_USER === undefined ? ['ADMIN_USER', 'ADMIN_PASSWORD'] : ['ADMIN_PASSWORD', 'ADMIN_USER'];
      ctx.addIssue({
        code: 'custom',
        path: [unset],
        message: `${set} is set, so ${unset} must be too (set both ADMIN_USER and ADMIN_PASSWORD, or neither)`,
      });
    }
  });

export type ApiConfig = z.infer<typeof apiEnv>;
