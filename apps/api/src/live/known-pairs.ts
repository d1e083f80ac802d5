/**
 * Is a pair followed by the deployment? One SISMEMBER, never the whole set
 * (SMEMBERS of 2,000 pairs per subscribe held the API at 98% CPU under
 * subscribe churn, issue 9), and a pair once found is remembered: pairs are
 * only ever added to the set (nothing removes one), so a yes stays true. A
 * no is never remembered, so a pair registered after the API started can be
 * subscribed at once. The memory is bounded by the set itself.
 */
import type { RedisClient } from '@candlestack/shared';

export class KnownPairs {
  private readonly known = new Set<string>();

  constructor(
    private readonly redis: RedisClient,
    private readonly key: string,
  ) {}

  async has(pair: string): Promise<boolean> {
    if (this.known.has(pair)) return true;
    if (!(await this.redis.sismember(this.key, pair))) return false;
    this.known.add(pair);
    return true;
  }
}
