import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readLines, type Line } from './line-reader.js';

async function all(chunks: (string | Buffer)[], maxBytes = 16, start?: { firstLine: number; startOffset: number }) {
  const out: Line[] = [];
  let end: { line: number; offset: number } | undefined;
  for await (const l of readLines(Readable.from(chunks.map((c) => Buffer.from(c))), { maxBytes, ...start, onEnd: (e) => (end = e) })) out.push(l);
  return { lines: out, end };
}

describe('readLines', () => {
  it('splits lines across chunks with their numbers and byte offsets, CRLF or LF', async () => {
    const { lines, end } = await all(['ab', 'c\r\nd', 'é\n\nlast']);
    expect(lines.map((l) => [l.no, l.offset, l.text])).toEqual([
      [1, 0, 'abc'],
      [2, 5, 'dé'],
      [3, 9, ''],
      [4, 10, 'last'],
    ]);
    expect(end).toEqual({ line: 5, offset: 14 });
  });

  it('cuts a line longer than the bound, keeping a sample, and goes on with the next', async () => {
    const big = 'x'.repeat(1000);
    const { lines } = await all(['ok\n', big.slice(0, 300), big.slice(300), '\nnext\n'], 16);
    expect(lines[0]!.text).toBe('ok');
    expect(lines[1]!.text).toBeUndefined();
    expect(lines[1]!.tooLong).toEqual({ bytes: 1000, sample: 'x'.repeat(200) });
    expect(lines[2]).toMatchObject({ no: 3, offset: 1004, text: 'next' });
  });

  it('decodes a character split between chunks, and lines wholly inside a chunk alike', async () => {
    const e = Buffer.from('é');
    const { lines } = await all([Buffer.concat([Buffer.from('x\nca'), e.subarray(0, 1)]), Buffer.concat([e.subarray(1), Buffer.from('\ndé\n')])]);
    expect(lines.map((l) => l.text)).toEqual(['x', 'caé', 'dé']);
  });

  it('numbers lines from a resume point', async () => {
    const { lines } = await all(['c\nd\n'], 16, { firstLine: 7, startOffset: 100 });
    expect(lines.map((l) => [l.no, l.offset])).toEqual([
      [7, 100],
      [8, 102],
    ]);
  });
});
