/**
 * Room for short-lived bytes (a script call's candles and its frame), cut
 * from large Buffers in turn instead of one Buffer each: Buffer.allocUnsafe
 * of more than 4 KiB makes an ArrayBuffer of its own, which the garbage
 * collector tracks and frees one by one. A region handed out is never
 * written again (the next starts after it), so a view of it stays valid for
 * as long as it is held; a slab is freed once no view of it is left, as
 * with Node's own pool for small Buffers.
 */
const SLAB_BYTES = 256 * 1024;

let current = Buffer.allocUnsafeSlow(SLAB_BYTES);
let used = 0;
/** The last slab() gave a Buffer of its own (too large to cut from a slab). */
let own = false;
/** Where the room slab() gave starts in the Buffer it returned. */
export let slabAt = 0;

/**
 * A Buffer with at least `size` bytes free from `slabAt`: write there, then
 * call slabUsed() with the offset after the last byte written, before the
 * next slab().
 */
export function slab(size: number): Buffer {
  if (size > SLAB_BYTES / 4) {
    own = true;
    slabAt = 0;
    return Buffer.allocUnsafeSlow(size);
  }
  own = false;
  if (used + size > SLAB_BYTES) {
    current = Buffer.allocUnsafeSlow(SLAB_BYTES);
    used = 0;
  }
  slabAt = used;
  return current;
}

/** The bytes of what slab() last gave, up to `end`, are taken (never handed out again). */
export function slabUsed(end: number): void {
  if (!own) used = Math.min(SLAB_BYTES, (end + 7) & ~7);
}
