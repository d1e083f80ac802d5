/**
 * A value computed at most once per `maxAgeMs` however often it is asked
 * for, and once at a time: callers within `maxAgeMs` of a computation's
 * start get its result, callers while it runs share it. A failure is not
 * kept (the next caller tries again) but is shared by those who waited for
 * it. This is what keeps /metrics, /readyz and the source's clock from
 * costing Redis work per request: their cost is per second, not per call.
 */
export class SharedAnswer<T> {
  private value: T | undefined;
  private has = false;
  private at = -Infinity;
  private running: Promise<T> | undefined;

  constructor(
    private readonly compute: () => Promise<T>,
    readonly maxAgeMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** The value if it is fresh enough, else undefined (no computation started). */
  peek(): T | undefined {
    return this.has && this.now() - this.at < this.maxAgeMs ? this.value : undefined;
  }

  get(): Promise<T> {
    if (this.has && this.now() - this.at < this.maxAgeMs) return Promise.resolve(this.value as T);
    return (this.running ??= this.run());
  }

  private async run(): Promise<T> {
    const started = this.now();
    try {
      const value = await this.compute();
      // Aged from when its reading started: an answer is as old as what it read.
      this.value = value;
      this.has = true;
      this.at = started;
      return value;
    } finally {
      this.running = undefined;
    }
  }
}
