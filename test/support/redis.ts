/**
 * Tests share the Redis at REDIS_URL (default 127.0.0.1:6379) with anything
 * else on the machine: each takes its own prefix and deletes only its keys.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { deletePrefixKeys } from '@candlestack/shared';

export const TEST_REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export function testPrefix(name = 'test'): string {
  return `${name}-${randomUUID().slice(0, 8)}`;
}

/** Deletes every key under `prefix:` (SCAN, never FLUSHALL). */
export async function deletePrefix(prefix: string, url = TEST_REDIS_URL): Promise<void> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await r.connect();
    await deletePrefixKeys(r, prefix);
  } finally {
    r.disconnect();
  }
}
