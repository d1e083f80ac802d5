/**
 * The pairs the deployment follows, as this process knows them: the whole
 * set read (SMEMBERS) at most once a second while requests ask, so a known
 * pair costs no Redis call at all. A name not in it is asked about
 * (SISMEMBER) before it is called unknown, so a pair registered a moment ago
 * is served at once; the answer "unknown" is then kept until the next read
 * of the set (at most about a second), so a flood of requests for one
 * unknown name costs one call a second, not one per request. Lookups of one
 * name run once at a time, and the names kept as unknown are bounded.
 */
import type { Keys, RedisClient } from '@candlestack/shared';

const MAX_UNKNOWN = 10_000;

export class KnownPairs {
  private known = new Set<string>();
  private unknown = new Set<string>();
  private readonly asking = new Map<string, Promise<boolean>>();
  private loadedAt = -Infinity;
  private loading: Promise<void> | undefined;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    readonly refreshMs = 1_000,
  ) {}

  /** Whether the pair (canonical) is followed: at once when the set says so, else after one SISMEMBER. */
  has(pair: string): boolean | Promise<boolean> {
    if (this.loadedAt === -Infinity) return this.load().then(() => this.has(pair));
    if (performance.now() - this.loadedAt >= this.refreshMs) {
      // In the background: this request is answered from the set it has.
      this.load().catch(() => undefined);
    }
    if (this.known.has(pair)) return true;
    if (this.unknown.has(pair)) return false;
    let asked = this.asking.get(pair);
    if (!asked) {
      asked = this.redis
        .sismember(this.keys.pairs(), pair)
        .then((n) => {
          if (n === 1) this.known.add(pair);
          else {
            if (this.unknown.size >= MAX_UNKNOWN) this.unknown.clear();
            this.unknown.add(pair);
          }
          return n === 1;
        })
        .finally(() => this.asking.delete(pair));
      this.asking.set(pair, asked);
    }
    return asked;
  }

  private load(): Promise<void> {
    return (this.loading ??= (async () => {
      const started = performance.now();
      try {
        const members = await this.redis.smembers(this.keys.pairs());
        this.known = new Set(members);
        this.unknown = new Set();
        this.loadedAt = started;
      } finally {
        this.loading = undefined;
      }
    })());
  }
}
