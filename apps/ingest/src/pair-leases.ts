/**
 * Live pairs shared among the ingesters of one deployment, by lease (the
 * README, "Several ingesters"): each pair is followed by the one ingester
 * holding `lease:{PAIR}`. Every tick an ingester beats its heartbeat (which
 * counts the live ones), renews its leases, gives up what is above its fair
 * share, ceil(pairs / live ingesters), and while under it takes free leases.
 * A lease that could not be renewed in time is dropped at once: its
 * subscription stops before another ingester may take it over. Handing a
 * pair over is a gap like a reconnect: the new holder backfills from the last
 * trade stored. A short overlap (the old holder's trades in flight) is
 * harmless, as every write is idempotent by trade id.
 */
import { Keys, Leases, type Logger } from '@candlestack/shared';

export interface LeaseTiming {
  /** A lease's time to live (ms). */
  readonly leaseMs: number;
  /** How often leases are renewed and free ones looked for (ms). */
  readonly tickMs: number;
}

/**
 * A killed ingester's leases lapse within 10 s of its last renewal, and the
 * others look every 2 s: its pairs are taken within 12 s, subscribed and
 * backfilled within about a second more, inside the 15 s promised. A renewal
 * every 2 s leaves four more chances before a lease lapses.
 */
export const LEASE_TIMING: LeaseTiming = { leaseMs: 10_000, tickMs: 2_000 };

/** How often lapsed leases are looked for, without Redis (ms). */
const EXPIRY_CHECK_MS = 250;

/** Most pairs one ingester takes: its share of the pairs among the live ingesters. */
export function fairShare(pairs: number, live: number): number {
  return Math.ceil(pairs / Math.max(1, live));
}

/** What one tick does with the leases: which to give up, which free ones to try. */
export function planLeases(candidates: readonly string[], held: ReadonlySet<string>, live: number): { release: string[]; take: string[]; share: number } {
  const share = fairShare(candidates.length, live);
  const mine = candidates.filter((p) => held.has(p));
  if (mine.length > share) return { release: mine.slice(share), take: [], share };
  return { release: [], take: mine.length < share ? candidates.filter((p) => !held.has(p)) : [], share };
}

export class PairLeases {
  /** Pairs held, with when this process must count each as lapsed (performance.now() ms). */
  private readonly held = new Map<string, number>();
  private candidates: string[] = [];
  private tickTimer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  private busy = false;
  private stopped = false;
  /** Live ingesters at the last heartbeat, this one included. */
  live = 1;
  private failing = false;

  constructor(
    private readonly leases: Leases,
    private readonly keys: Keys,
    private readonly log: Logger,
    /** Makes the source follow exactly these pairs (unsubscribing the others first); resolves once it has. */
    private readonly follow: (pairs: string[]) => Promise<void>,
    private readonly timing: LeaseTiming = LEASE_TIMING,
  ) {}

  /** Takes this ingester's share of `candidates` now, then keeps the share up to date; resolves with the pairs held. */
  async start(candidates: readonly string[]): Promise<string[]> {
    if (this.tickTimer) return this.pairs();
    this.candidates = [...new Set(candidates)].sort();
    await this.tick(false);
    if (!this.stopped) {
      this.tickTimer = setInterval(() => {
        if (!this.busy) void this.tick(true);
      }, this.timing.tickMs);
      this.expiryTimer = setInterval(() => this.expire(), EXPIRY_CHECK_MS);
    }
    return this.pairs();
  }

  /** Pairs held now, sorted. */
  pairs(): string[] {
    return [...this.held.keys()].sort();
  }

  /** Drops the leases whose renewal is overdue: their subscriptions stop now. */
  private expire(): void {
    const now = performance.now();
    const lapsed = [...this.held].filter(([, until]) => until <= now).map(([p]) => p);
    if (lapsed.length === 0) return;
    for (const p of lapsed) this.held.delete(p);
    this.log.warn({ pairs: lapsed }, `lease of ${lapsed.join(', ')} not renewed in time (Redis away, or this process stalled): unsubscribing`);
    void this.apply();
  }

  private async apply(): Promise<void> {
    try {
      await this.follow(this.pairs());
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'cannot change the pairs followed');
    }
  }

  private async tick(apply: boolean): Promise<void> {
    if (this.stopped) return;
    this.busy = true;
    try {
      const sent = performance.now();
      const until = sent + this.timing.leaseMs;
      const live = (this.live = await this.leases.heartbeat(this.keys.ingesters()));
      const before = new Set(this.held.keys());
      await Promise.all(
        [...this.held.keys()].map(async (p) => {
          if (await this.leases.renew(this.keys.lease(p))) {
            if (this.held.has(p)) this.held.set(p, until);
            // Dropped meanwhile (overdue): give it up, or no one, this process included, could take it until it lapses.
            else await this.leases.release(this.keys.lease(p));
          } else if (this.held.delete(p)) {
            this.log.warn({ pair: p }, `lease of ${p} lost (another ingester holds it now): unsubscribing`);
          }
        }),
      );
      const plan = planLeases(this.candidates, new Set(this.held.keys()), live);
      if (plan.release.length > 0) await this.release(plan.release, live, plan.share);
      const taken = await this.takeFree(plan.take, plan.share, until);
      if (taken.length > 0) {
        this.log.info({ pairs: taken, live, share: plan.share }, `took the lease of ${taken.join(', ')} (${live} live ingester(s), share ${plan.share})`);
      }
      if (this.failing) this.log.info({ held: this.held.size }, 'leases renewed again');
      this.failing = false;
      const changed = this.held.size !== before.size || [...this.held.keys()].some((p) => !before.has(p));
      if (apply && changed) await this.apply();
    } catch (err) {
      if (!this.failing) this.log.warn({ err: (err as Error).message }, `cannot renew or take pair leases (Redis away?): held ones lapse ${this.timing.leaseMs / 1000} s after their last renewal`);
      this.failing = true;
    } finally {
      this.busy = false;
    }
  }

  /**
   * Takes free leases among `candidates` until this ingester holds `share`.
   * Who holds each is asked all at once (one round trip, whatever the number
   * of pairs), then only as many free ones are tried at a time as are still
   * missing, so the share is never overshot.
   */
  private async takeFree(candidates: readonly string[], share: number, until: number): Promise<string[]> {
    if (candidates.length === 0) return [];
    const holders = await Promise.all(candidates.map((p) => this.leases.holder(this.keys.lease(p))));
    const free = candidates.filter((_, i) => holders[i] === null);
    const taken: string[] = [];
    while (free.length > 0 && this.held.size < share && !this.stopped) {
      const batch = free.splice(0, share - this.held.size);
      const got = await Promise.all(batch.map((p) => this.leases.take(this.keys.lease(p))));
      batch.forEach((p, i) => {
        if (!got[i]) return;
        this.held.set(p, until);
        taken.push(p);
      });
    }
    return taken;
  }

  /** Gives pairs up: unsubscribed first, then released, so another ingester takes them with a backfill. */
  private async release(pairs: readonly string[], live: number, share: number): Promise<void> {
    for (const p of pairs) this.held.delete(p);
    await this.apply();
    await Promise.all(pairs.map((p) => this.leases.release(this.keys.lease(p))));
    this.log.info({ pairs, live, share }, `gave up the lease of ${pairs.join(', ')} (${live} live ingester(s), share ${share})`);
  }

  /** Stops renewing and taking; the caller stops the source, then calls release(). */
  stop(): void {
    this.stopped = true;
    clearInterval(this.tickTimer);
    clearInterval(this.expiryTimer);
  }

  /** A clean stop: every lease given up and the heartbeat removed, so the others take over at once. */
  async releaseAll(): Promise<void> {
    this.stop();
    const pairs = this.pairs();
    this.held.clear();
    await Promise.all(pairs.map((p) => this.leases.release(this.keys.lease(p))));
    await this.leases.leave(this.keys.ingesters());
    if (pairs.length > 0) this.log.info({ pairs }, `gave up the lease of ${pairs.length} pair(s) (stopping)`);
  }
}
