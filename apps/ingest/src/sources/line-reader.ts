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
}

const NL = 0x0a;
const SAMPLE_BYTES = 200;

export async function* readLines(
  input: Readable,
  opts: {
    readonly maxBytes: number;
    readonly firstLine?: number;
    readonly startOffset?: number;
    /** Called at the end with the number the next line would have and the stream's length in bytes. */
    readonly onEnd?: (end: { readonly line: number; readonly offset: number }) => void;
  },
): AsyncGenerator<Line> {
  let total = opts.startOffset ?? 0;
  let no = opts.firstLine ?? 1;
  let offset = opts.startOffset ?? 0;
  let parts: Buffer[] = [];
  let held = 0;
  let length = 0;
  let sample: Buffer | undefined;

  const finish = (): Line => {
    const line: Line =
      sample !== undefined
        ? { no, offset, text: undefined, tooLong: { bytes: length, sample: sample.toString('utf8') } }
        : { no, offset, text: stripCr(Buffer.concat(parts, held).toString('utf8')) };
    no++;
    offset += length + 1;
    parts = [];
    held = 0;
    length = 0;
    sample = undefined;
    return line;
  };

  for await (const chunk of input as AsyncIterable<Buffer>) {
    total += chunk.length;
    let from = 0;
    while (from < chunk.length) {
      const nl = chunk.indexOf(NL, from);
      const end = nl < 0 ? chunk.length : nl;
      const piece = chunk.subarray(from, end);
      length += piece.length;
      if (sample === undefined) {
        if (held + piece.length <= opts.maxBytes) {
          parts.push(piece);
          held += piece.length;
        } else {
          sample = Buffer.concat([...parts, piece], held + piece.length).subarray(0, SAMPLE_BYTES);
          parts = [];
          held = 0;
        }
      }
      if (nl < 0) break;
      yield finish();
      from = nl + 1;
    }
  }
  if (length > 0) yield finish();
  opts.onEnd?.({ line: no, offset: total });
}

function stripCr(s: string): string {
  return s.endsWith('\r') ? s.slice(0, -1) : s;
}
