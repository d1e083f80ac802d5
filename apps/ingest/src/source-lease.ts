/**
 * A source that is one process's job (a replay reads one file in order, the
 * simulated market is one seeded walk over all its pairs) runs in the one
 * ingester holding `{global}:source-lease`. Another ingester with the same
 * configuration stands by: it reads nothing, writes no status, and takes the
 * lease when the holder stops (at once) or dies (within the lease's time to
 * live plus a tick), then starts the source as a restart would (a replay
 * resumes where the file was last written).
 */
import { Keys, Leases, Sleeper, type Logger } from '@candlestack/shared';
import { LEASE_TIMING, type LeaseTiming } from './pair-leases.js';

const EXPIRY_CHECK_MS = 250;

export class SourceLease {
  private until = 0;
  private tickTimer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
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
      const sent = performance.now();
      try {
        if (await this.leases.take(this.keys.sourceLease())) {
          if (this.stopped) {
            await this.leases.release(this.keys.sourceLease());
            return false;
          }
          this.hold(sent);
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

  private hold(sent: number): void {
    this.held = true;
    this.until = sent + this.timing.leaseMs;
    this.log.info({ owner: this.leases.owner }, 'took the source lease');
    this.tickTimer = setInterval(() => void this.renew(), this.timing.tickMs);
    this.expiryTimer = setInterval(() => {
      if (performance.now() >= this.until) this.lost(`the source lease was not renewed within ${this.timing.leaseMs / 1000} s (Redis away, or this process stalled)`);
    }, EXPIRY_CHECK_MS);
  }

  private async renew(): Promise<void> {
    if (this.busy || !this.held) return;
    this.busy = true;
    const sent = performance.now();
    try {
      if (await this.leases.renew(this.keys.sourceLease())) this.until = sent + this.timing.leaseMs;
      else this.lost('another ingester holds the source lease now');
    } catch {
      // Redis away: the expiry check decides when the lease is gone.
    } finally {
      this.busy = false;
    }
  }

  private lost(why: string): void {
    if (!this.held) return;
    this.stopTimers();
    this.held = false;
    this.log.error({ why }, `${why}: stopping the source`);
    this.onLost(why);
  }

  private stopTimers(): void {
    clearInterval(this.tickTimer);
    clearInterval(this.expiryTimer);
  }

  /** Stops renewing (and waiting) and gives the lease up, so a standby takes over at once. */
  async release(): Promise<void> {
    this.stopped = true;
    this.sleeper.cancel();
    this.stopTimers();
    if (!this.held) return;
    this.held = false;
    await this.leases.release(this.keys.sourceLease());
    this.log.info('gave up the source lease (stopping)');
  }
}
