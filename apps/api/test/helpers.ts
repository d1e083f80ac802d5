/**
 * A real API on a random port over the shared test Redis, under a prefix of
 * its own, with a direct store on the same keys to seed data through the
 * shared CandleStore (the path the ingester and worker use).
 */
import { Redis } from 'ioredis';
import { CandleStore, Keys, Stats, parseConfig, planPeriods } from '@candlestack/shared';
import { apiEnv, type ApiConfig } from '../src/env.js';
import { startApi, type RunningApi, type StartOptions } from '../src/server.js';
import { TEST_REDIS_URL, deletePrefix, testPrefix } from '../../../test/support/redis.js';

export interface TestApi {
  readonly prefix: string;
  readonly config: ApiConfig;
  readonly api: RunningApi;
  readonly redis: Redis;
  readonly keys: Keys;
  readonly store: CandleStore;
  readonly stats: Stats;
  /** fetch() relative to the API's URL. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** GET, with the body parsed as JSON. */
  get<T = unknown>(path: string, init?: RequestInit): Promise<{ status: number; headers: Headers; body: T }>;
  stop(): Promise<void>;
}

export async function startTestApi(env: Record<string, string> = {}, opts: StartOptions = {}): Promise<TestApi> {
  const prefix = testPrefix('api');
  const config = parseConfig(apiEnv, {
    REDIS_URL: TEST_REDIS_URL,
    REDIS_PREFIX: prefix,
    HOST: '127.0.0.1',
    PORT: '0',
    PERIODS: '1m,5m',
    ...env,
  });
  const api = await startApi(config, { startupGraceMs: 0, ...opts });
  const redis = new Redis(TEST_REDIS_URL);
  const keys = new Keys(prefix);
  const doFetch = (path: string, init?: RequestInit) => fetch(`${api.url}${path}`, init);
  return {
    prefix,
    config,
    api,
    redis,
    keys,
    store: new CandleStore(redis, keys, planPeriods(config.PERIODS)),
    stats: new Stats(redis, keys),
    fetch: doFetch,
    async get<T>(path: string, init?: RequestInit) {
      const res = await doFetch(path, init);
      return { status: res.status, headers: res.headers, body: (await res.json()) as T };
    },
    async stop() {
      await api.close();
      redis.disconnect();
      await deletePrefix(prefix);
    },
  };
}

export interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string };
}
