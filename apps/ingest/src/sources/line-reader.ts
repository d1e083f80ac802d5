/**
 * Lines of a byte stream, each with its number and where it starts (bytes
 * from the start of the stream), never holding more than `maxBytes` of one
 * line: a longer line is cut, its first bytes kept as a sample, the rest
 * skipped up to the next newline as it streams by. So a gzip bomb of one
 * gigabyte line costs a few kilobytes, and a restart can seek to a line.
 */
import type { Readable } from 'node:stream';

export interface Line {
  /** From 1. */
  readonly no: number;
  /** Byte offset of the line's first byte. */
  readonly offset: number;
  /** The text without its newline (and without a trailing CR); undefined when too long. */
  readonly text: string | undefined;
  /** For a line too long: its length in bytes and its first bytes as text. */
  readonly tooLong?: { readonly bytes: number; readonly sample: string };
  /**
   * A line wholly inside one chunk read: that chunk and where the line is in
   * it (without its newline; a trailing CR still there), for a parser that
   * reads bytes (plain-line.ts). Its text is then decoded only if asked for.
   */
  readonly chunk?: Buffer;
  readonly start?: number;
  readonly end?: number;
}

/** A line inside one chunk: its text decoded when first read. */
class ChunkLine implements Line {
  private decoded: string | undefined;

  constructor(
    readonly no: number,
    readonly offset: number,
    readonly chunk: Buffer,
    readonly start: number,
    readonly end: number,
  ) {}

  get text(): string {
    return (this.decoded ??= stripCr(this.chunk.toString('utf8', this.start, this.end)));
  }
}

const NL = 0x0a;
const SAMPLE_BYTES = 200;

export interface ReadLinesOptions {
  readonly maxBytes: number;
  readonly firstLine?: number;
  readonly startOffset?: number;
  /** Called at the end with the number the next line would have and the stream's length in bytes. */
  readonly onEnd?: (end: { readonly line: number; readonly offset: number }) => void;
}

/** The lines, one at a time. */
export async function* readLines(input: Readable, opts: ReadLinesOptions): AsyncGenerator<Line> {
  for await (const batch of readLineBatches(input, opts)) yield* batch;
}

/**
 * The lines, in batches: those that end in each chunk read (tens of
 * kilobytes). One step of the async iteration per chunk, not per line, and
 * a line wholly inside a chunk is decoded from it in place (no Buffer
 * object per line), when its text is first asked for: a replay reads a
 * million lines in a few seconds, most of them never decoded (plain-line.ts
 * reads their bytes).
 */
export async function* readLineBatches(input: Readable, opts: ReadLinesOptions): AsyncGenerator<Line[]> {
  let total = opts.startOffset ?? 0;
  let no = opts.firstLine ?? 1;
  let offset = opts.startOffset ?? 0;
  // The start of the current line when it began in an earlier chunk.
  let parts: Buffer[] = [];
  let held = 0;
  let length = 0;
  let sample: Buffer | undefined;

  const finish = (text: string | undefined): Line => {
    const line: Line =
      sample !== undefined ? { no, offset, text: undefined, tooLong: { bytes: length, sample: sample.toString('utf8') } } : { no, offset, text: stripCr(text!) };
    next();
    return line;
  };
  const next = () => {
    no++;
    offset += length + 1;
    if (parts.length > 0) parts = [];
    held = 0;
    length = 0;
    sample = undefined;
  };

  for await (const chunk of input as AsyncIterable<Buffer>) {
    total += chunk.length;
    const out: Line[] = [];
    let from = 0;
    while (from < chunk.length) {
      const nl = chunk.indexOf(NL, from);
      const end = nl < 0 ? chunk.length : nl;
      const size = end - from;
      length += size;
      if (nl >= 0 && sample === undefined && held === 0 && size <= opts.maxBytes) {
        // The whole line is in this chunk (the common case): decoded only if asked.
        out.push(new ChunkLine(no, offset, chunk, from, end));
        next();
        from = nl + 1;
        continue;
      }
      if (sample === undefined) {
        const piece = chunk.subarray(from, end);
        if (held + size <= opts.maxBytes) {
          parts.push(piece);
          held += size;
        } else {
          sample = Buffer.concat([...parts, piece], held + size).subarray(0, SAMPLE_BYTES);
          parts = [];
          held = 0;
        }
      }
      if (nl < 0) break;
      out.push(finish(sample === undefined ? Buffer.concat(parts, held).toString('utf8') : undefined));
      from = nl + 1;
    }
    if (out.length > 0) yield out;
  }
  if (length > 0) yield [finish(sample === undefined ? Buffer.concat(parts, held).toString('utf8') : undefined)];
  opts.onEnd?.({ line: no, offset: total });
}

function stripCr(s: string): string {
  return s.endsWith('\r') ? s.slice(0, -1) : s;
}
