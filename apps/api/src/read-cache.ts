/**
 * Answers of GET /candles kept as a versioned snapshot: each is the body
 * read at one data version of its pair (state field `v`, moved by every
 * script that writes what a read returns, lua/includes/candle.lua
 * bumpVersion). A request whose answer is kept asks Redis only for the
 * version (one HGET, a few µs of Redis) and, while it stands, sends the
 * kept bytes: exactly what a new read would give, since nothing a read sees
 * has changed, and the clock's part (the bucket now falls in, the close
 * limit) is in the key. Otherwise it reads (one script call) and keeps it.
 *
 * Bounded by configuration, not by requests: at most MAX_ENTRIES answers
 * and MAX_BYTES in all, the least recently used dropped first.
 */
import { createHash } from 'node:crypto';

export const MAX_ENTRIES = 2_000;
export const MAX_BYTES = 32 * 1024 * 1024;

export interface KeptAnswer {
  readonly version: string;
  readonly body: Buffer;
  /** Strong ETag of the body, computed once. */
  readonly etag: string;
}

export class ReadCache {
  private readonly entries = new Map<string, KeptAnswer>();
  private bytes = 0;

  constructor(
    private readonly maxEntries = MAX_ENTRIES,
    private readonly maxBytes = MAX_BYTES,
  ) {}

  get(key: string): KeptAnswer | undefined {
    const e = this.entries.get(key);
    if (e) {
      // Most recently used last.
      this.entries.delete(key);
      this.entries.set(key, e);
    }
    return e;
  }

  set(key: string, version: string, body: Buffer): KeptAnswer {
    const e: KeptAnswer = { version, body, etag: `"${createHash('sha1').update(body).digest('base64url').slice(0, 27)}"` };
    this.delete(key);
    if (body.length > this.maxBytes / 4) return e; // too big to be worth a place
    this.entries.set(key, e);
    this.bytes += body.length;
    for (const [k] of this.entries) {
      if (this.entries.size <= this.maxEntries && this.bytes <= this.maxBytes) break;
      this.delete(k);
    }
    return e;
  }

  delete(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.entries.delete(key);
    this.bytes -= e.body.length;
  }

  get size(): number {
    return this.entries.size;
  }

  get byteSize(): number {
    return this.bytes;
  }
}
