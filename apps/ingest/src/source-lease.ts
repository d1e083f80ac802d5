/**
 * A source that is one process's job (a replay reads one file in order, the
 * simulated market is one seeded walk over all its pairs) runs in the one
 * ingester holding `{global}:source-lease`. Another ingester with the same
 * configuration stands by: it reads nothing, writes no status, and takes the
 * lease when the holder stops (at once) or dies (within the lease's time to
 * live plus a tick), then starts the source as a restart would (a replay
 * resumes where the file was last written).
 *
 * Unlike a pair's lease, this one is not given up when Redis is away past
 * its time to live: nothing is written then anyway, and when Redis answers
 * again the holder renews it (taking it again, being free). The holder steps
 * down only when it finds another ingester holding it (it stalled, and a
 * standby took over): the source stops, and the process exits. The moment
 * both run is harmless for a replay (positions and trade ids make every
 * write count once); two simulated markets would mix for a renewal's time.
 */
import { Keys, Leases, Sleeper, type Logger } from '@candlestack/shared';
import { LEASE_TIMING, type LeaseTiming } from './pair-leases.js';

export class SourceLease {
  private tickTimer: NodeJS.Timeout | undefined;
  private readonly sleeper = new Sleeper();
  private stopped = false;
  private busy = false;
  private held = false;

  constructor(
    private readonly leases: Leases,
    private readonly keys: Keys,
    private readonly log: Logger,
    /** The lease was lost while held: the source must stop. */
    private readonly onLost: (why: string) => void,
    private readonly timing: LeaseTiming = LEASE_TIMING,
  ) {}

  /**
   * Resolves true once this process holds the lease (at once when it is
   * free), false if stopped first. `waiting` is called once, with the holder,
   * when another process holds it.
   */
  async acquire(waiting: (holder: string) => void): Promise<boolean> {
    if (this.held) return true;
    let told = false;
    while (!this.stopped) {
      try {
        if (await this.leases.take(this.keys.sourceLease())) {
          if (this.stopped) {
            await this.leases.release(this.keys.sourceLease());
            return false;
          }
          this.hold();
          return true;
        }
        const holder = await this.leases.holder(this.keys.sourceLease());
        if (!told && holder !== null) {
          told = true;
          waiting(holder);
        }
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'cannot take the source lease (Redis away?); trying again');
      }
      await this.sleeper.sleep(this.timing.tickMs);
    }
    return false;
  }

  private hold(): void {
    this.held = true;
    this.log.info({ owner: this.leases.owner }, 'took the source lease');
    this.tickTimer = setInterval(() => void this.renew(), this.timing.tickMs);
  }

  private async renew(): Promise<void> {
    if (this.busy || !this.held) return;
    this.busy = true;
    try {
      if (!(await this.leases.renew(this.keys.sourceLease()))) this.lost('another ingester holds the source lease now (this one stalled, or Redis was away, longer than the lease)');
    } catch {
      // Redis away: renewed (or taken again) when it answers.
    } finally {
      this.busy = false;
    }
  }

  private lost(why: string): void {
    if (!this.held) return;
    clearInterval(this.tickTimer);
    this.held = false;
    this.log.error({ why }, `${why}: stopping the source`);
    this.onLost(why);
  }

  /** Stops renewing (and waiting) and gives the lease up, so a standby takes over at once. */
  async release(): Promise<void> {
    this.stopped = true;
    this.sleeper.cancel();
    clearInterval(this.tickTimer);
    if (!this.held) return;
    this.held = false;
    await this.leases.release(this.keys.sourceLease());
    this.log.info('gave up the source lease (stopping)');
  }
}
