/**
 * Requests to an exchange's REST API, kept under its rate limit: at most a
 * given number a second, and after a `429 Too Many Requests` none at all
 * until its wait is over (the limit is the address's, so every request of
 * the pacer waits, not only the one refused). Shared by the history import
 * (the ingester) and the audit (the worker).
 */
import { Backoff, type BackoffOptions } from './backoff.js';
import { RestError } from './poloniex-http.js';

export interface PacerClock {
  readonly now: () => number;
  /** A sleep that ends early on shutdown (Sleeper). */
  readonly sleep: (ms: number) => Promise<void>;
}

export class Pacer {
  private nextAt = 0;
  private readonly gapMs: number;

  constructor(
    ratePerSecond: number,
    private readonly clock: PacerClock,
  ) {
    this.gapMs = 1000 / Math.max(0.001, ratePerSecond);
  }

  /** Waits for the next request's turn. */
  async turn(): Promise<void> {
    const wait = this.nextAt - this.clock.now();
    if (wait > 0) await this.clock.sleep(wait);
    this.nextAt = Math.max(this.nextAt, this.clock.now()) + this.gapMs;
  }

  /** No request before `ms` from now (a 429's wait). */
  holdFor(ms: number): void {
    this.nextAt = Math.max(this.nextAt, this.clock.now() + ms);
  }
}

export interface RateLimitRetry {
  /** Times a request answered 429 is asked again before the 429 is thrown (default 5). */
  readonly retries?: number;
  /** Waits after a 429 that gives no Retry-After (default 1 s doubling to 30 s). */
  readonly backoff?: BackoffOptions;
  /** Stop retrying (shutdown). */
  readonly closed?: () => boolean;
  /** Told of each 429 before its wait: for the log and the counters. */
  readonly onRateLimited?: (waitMs: number, attempt: number) => void;
}

/**
 * `request`, in its turn; a 429 is waited out (its Retry-After if it gives
 * one, else the backoff, whichever is longer) and asked again, up to
 * `retries` times. Any other failure is thrown at once, for the caller to judge.
 */
export async function pacedRequest<T>(pacer: Pacer, request: () => Promise<T>, opts: RateLimitRetry = {}): Promise<T> {
  const backoff = new Backoff(opts.backoff ?? { initialMs: 1_000, maxMs: 30_000 });
  const retries = opts.retries ?? 5;
  for (;;) {
    await pacer.turn();
    try {
      return await request();
    } catch (err) {
      if (!(err instanceof RestError) || err.status !== 429 || backoff.failures >= retries || opts.closed?.()) throw err;
      const wait = Math.max(err.retryAfterMs ?? 0, backoff.next());
      pacer.holdFor(wait);
      opts.onRateLimited?.(wait, backoff.failures);
    }
  }
}
