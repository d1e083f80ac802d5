/**
 * Capped exponential backoff with jitter, for reconnects and REST retries
 * (the ingester's sources, the terminal feed; the dashboard's browser code
 * keeps its own small copy, as it loads no package).
 * Jitter keeps many ingesters (or many pairs) that lost the exchange at the
 * same moment from coming back at the same moment too.
 */

export interface BackoffOptions {
  /** First delay (ms). */
  readonly initialMs: number;
  /** Largest delay (ms). */
  readonly maxMs: number;
}

export class Backoff {
  private attempt = 0;

  constructor(
    private readonly opts: BackoffOptions,
    private readonly random: () => number = Math.random,
  ) {}

  /** Failures since the last reset. */
  get failures(): number {
    return this.attempt;
  }

  /**
   * The next delay: the capped exponential step, of which the upper half is
   * random ("equal jitter"), so the wait never collapses to zero.
   */
  next(): number {
    const step = Math.min(this.opts.maxMs, this.opts.initialMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.round(step / 2 + (this.random() * step) / 2);
  }

  reset(): void {
    this.attempt = 0;
  }
}

/** A sleep that `cancel()` ends early (on close), so shutdown never waits out a backoff. */
export class Sleeper {
  private pending = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.pending.delete(entry);
          resolve();
        }, ms),
        resolve,
      };
      this.pending.add(entry);
    });
  }

  cancel(): void {
    for (const e of this.pending) {
      clearTimeout(e.timer);
      e.resolve();
    }
    this.pending.clear();
  }
}
