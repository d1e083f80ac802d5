/**
 * The feed's environment (docs/configuration.md): where the API is.
 * `API_URL` wins; without it the feed talks to the address the API itself
 * would listen on (`HOST`, `PORT`), so one `.env` serves both.
 */
import { isIPv6 } from 'node:net';
import { z } from 'zod';
import { intEnv } from '@candlestack/shared';

export const feedEnv = z.object({
  API_URL: z
    .string()
    .refine((s) => URL.canParse(s) && /^https?:$/.test(new URL(s).protocol), 'an http:// or https:// URL (e.g. http://127.0.0.1:3000)')
    .optional(),
  HOST: z.string().regex(/^\S+$/, 'a host name or IP address').default('127.0.0.1'),
  PORT: intEnv(1, 65_535).default(3000),
});

export type FeedConfig = z.infer<typeof feedEnv>;

/** The API's base URL, without a trailing slash. */
export function apiUrl(config: FeedConfig): string {
  if (config.API_URL) return config.API_URL.replace(/\/+$/, '');
  // An API listening on every address is reached on this machine's loopback.
  const host = config.HOST === '0.0.0.0' ? '127.0.0.1' : config.HOST === '::' ? '::1' : config.HOST;
  return `http://${isIPv6(host) ? `[${host}]` : host}:${config.PORT}`;
}

/** ws://host/ws for http://host (wss for https), keeping any path prefix of API_URL. */
export function wsUrl(api: string): string {
  const url = new URL(`${api}/ws`);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.toString();
}
