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
 * An answer also keeps its compressed forms (br, gzip), made once on first
 * demand: a kept answer is sent compressed at the cost of a memory copy.
 *
 * Bounded by configuration, not by requests: at most MAX_ENTRIES answers
 * and MAX_BYTES in all (compressed forms included), the least recently
 * used dropped first.
 */
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';

export type Encoding = 'br' | 'gzip';

/** Below this a body goes as it is: compressing would save less than its headers cost (compression's own threshold). */
export const COMPRESS_MIN_BYTES = 1024;

const brotli = promisify(brotliCompress);
const gz = promisify(gzip);

/**
 * In zlib's thread pool, not on the event loop. Brotli at quality 5: about
 * gzip's speed with a smaller result (11, the default, is many times
 * slower); the compression middleware uses 4 for the other routes.
 */
function compress(body: Buffer, encoding: Encoding): Promise<Buffer> {
  if (encoding === 'gzip') return gz(body);
  return brotli(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 5, [constants.BROTLI_PARAM_SIZE_HINT]: body.length } });
}

export const MAX_ENTRIES = 2_000;
export const MAX_BYTES = 32 * 1024 * 1024;

export interface KeptAnswer {
  readonly version: string;
  readonly body: Buffer;
  /** Strong ETag of the body, computed once. */
  readonly etag: string;
  /** The compressed forms made so far (see ReadCache.encoded). */
  readonly encoded: Map<Encoding, Promise<Buffer>>;
}

export class ReadCache {
  private readonly entries = new Map<string, KeptAnswer>();
  /** Bytes of each kept answer's compressed forms. */
  private readonly extra = new WeakMap<KeptAnswer, number>();
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
    const e: KeptAnswer = { version, body, etag: `"${createHash('sha1').update(body).digest('base64url').slice(0, 27)}"`, encoded: new Map() };
    this.delete(key);
    if (body.length > this.maxBytes / 4) return e; // too big to be worth a place
    this.entries.set(key, e);
    this.bytes += body.length;
    this.evict();
    return e;
  }

  /**
   * The answer compressed with `encoding`, made once per answer (concurrent
   * callers share the work). `key` is where the answer is kept, so its
   * compressed bytes count against MAX_BYTES while it stays there.
   */
  encoded(key: string, e: KeptAnswer, encoding: Encoding): Promise<Buffer> {
    let p = e.encoded.get(encoding);
    if (!p) {
      p = compress(e.body, encoding).then((buf) => {
        if (this.entries.get(key) === e) {
          this.extra.set(e, (this.extra.get(e) ?? 0) + buf.length);
          this.bytes += buf.length;
          this.evict();
        }
        return buf;
      });
      // A failure is not kept: the next request tries again.
      p.catch(() => e.encoded.delete(encoding));
      e.encoded.set(encoding, p);
    }
    return p;
  }

  delete(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.entries.delete(key);
    this.bytes -= e.body.length + (this.extra.get(e) ?? 0);
    this.extra.delete(e);
  }

  private evict(): void {
    for (const [k] of this.entries) {
      if (this.entries.size <= this.maxEntries && this.bytes <= this.maxBytes) break;
      this.delete(k);
    }
  }

  get size(): number {
    return this.entries.size;
  }

  get byteSize(): number {
    return this.bytes;
  }
}
