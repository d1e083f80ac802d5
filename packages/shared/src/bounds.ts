/**
 * Bounds on what input may cost: text cut to a length before it is stored
 * or logged, and warnings limited in number whatever the input. A value
 * from outside (a pair, an id, a reason built from them) never sets how much
 * memory, Redis or log it takes.
 */

/** The longest text kept of one field of a dead letter or a log line. */
export const FIELD_LIMITS = {
  /** Why something was set aside. */
  reason: 300,
  /** The input itself, as received. */
  sample: 1_000,
} as const;

/** `text` cut to `max` characters, saying how much was cut. */
export function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max)}… (${text.length - max} more characters)`;
}

/**
 * Decides which warnings are logged: the first of each kind, at most
 * `maxKinds` kinds remembered (the oldest forgotten first), and at most
 * `perWindow` lines per `windowMs` in all. What is not logged is counted,
 * and `suppressed()` says how many since it was last asked.
 */
export class LogLimiter {
  private readonly kinds = new Map<string, true>();
  private windowStart = 0;
  private inWindow = 0;
  private dropped = 0;

  constructor(
    private readonly maxKinds = 256,
    private readonly perWindow = 20,
    private readonly windowMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** True when a warning of this kind should be logged now. */
  allow(kind: string): boolean {
    const k = kind.slice(0, 120);
    if (this.kinds.has(k)) {
      // Seen: refresh its place so frequent kinds are the last forgotten.
      this.kinds.delete(k);
      this.kinds.set(k, true);
      return false;
    }
    const t = this.now();
    if (t - this.windowStart >= this.windowMs) {
      this.windowStart = t;
      this.inWindow = 0;
    }
    if (this.inWindow >= this.perWindow) {
      this.dropped++;
      return false;
    }
    this.inWindow++;
    this.kinds.set(k, true);
    if (this.kinds.size > this.maxKinds) this.kinds.delete(this.kinds.keys().next().value!);
    return true;
  }

  /** Warnings of new kinds not logged (over the rate) since the last call. */
  suppressed(): number {
    const n = this.dropped;
    this.dropped = 0;
    return n;
  }

  /** Kinds remembered (at most maxKinds). */
  get size(): number {
    return this.kinds.size;
  }
}

/**
 * The kind of a reason for LogLimiter: its wording with values taken out
 * (quoted text, numbers) and cut short, so "pair \"X\" is..." and
 * "pair \"Y\" is..." are one kind. Whatever the input, the kind is short;
 * the limiter bounds how many there are.
 */
export function reasonKind(reason: string): string {
  return reason
    .slice(0, 200)
    .replace(/"(?:[^"\\]|\\.)*"?/g, '…')
    .replace(/\d+/g, '#')
    .slice(0, 80);
}
