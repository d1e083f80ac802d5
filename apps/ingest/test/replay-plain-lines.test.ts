/**
 * A replay of JSON lines hands over, line for line, what the general path
 * (replay-formats.ts JsonLines, then toTick) makes of the file, though most
 * lines go by the fast path (plain-line.ts): the same trades with the same
 * positions and resume marks, the same lines set aside with the same
 * reasons, samples and positions. Plain, respelled, refused and broken
 * lines are mixed, some split between the chunks the file is read in, some
 * ending in CRLF, one too long; the replay is run from the start and
 * resumed from a line in the middle. No Redis: the sink records.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckedTick, TickError, createLogger, toTick, type RawTrade } from '@candlestack/shared';
import type { ReplayMark, ReplayResume, SourceSink } from '../src/source.js';
import { POSITIONS_PER_LINE, ReplaySource } from '../src/sources/replay.js';
import { LineError, detectFormat } from '../src/sources/replay-formats.js';

const MAX_LINE = 400;

/** Line i of the file: mostly plain, the rest every other kind. */
function line(i: number): string {
  const time = 1_704_067_200_000 + i * 137;
  const price = `${100 + (i % 97)}.${(i % 9) + 1}`;
  const quantity = `0.${String(i % 1000).padStart(3, '0')}7`;
  const pair = `P${i % 13}_USDT`;
  switch (i % 23) {
    case 1:
      return `{ "pair": "${pair}", "time": ${time}, "price": "${price}", "quantity": "${quantity}" }`; // spaces: general path
    case 2:
      return `{"pair":"${pair.toLowerCase()}","time":${time},"price":"${price}","quantity":"${quantity}","id":"L${i}"}`; // a pair to normalize
    case 3:
      return `{"pair":"${pair}","time":${time},"price":"${price}0","quantity":"${quantity}","side":"SELL","id":"L${i}"}`; // decimals to canonicalize
    case 4:
      return `{"pair":"${pair}","time":${time},"price":"0","quantity":"${quantity}","id":"L${i}"}`; // refused: zero
    case 5:
      return `{"pair":"${pair}","time":${time},"price":"${price}"`; // not JSON
    case 6:
      return ''; // blank
    case 7:
      return `{"pair":"${pair}","time":${time},"price":"${price}","quantity":"${quantity}","id":"${'x'.repeat(MAX_LINE)}"}`; // too long
    case 8:
      return `{"pair":"${pair}","time":${time},"price":"${price}","quantity":"${quantity}","id":"a b"}`; // refused: id
    case 9:
      return `{"pair":"${pair}","time":${Math.floor(time / 1000)},"price":"${price}","quantity":"${quantity}"}`; // refused: seconds
    case 10:
      return `{"pair":"${pair}","time":${time},"price":"${price}","quantity":"${quantity}","side":"buy"}\r`; // CRLF, no id: fast path
    case 11:
      return `[1,2]`; // not an object
    case 12:
      return `{"pair":"${pair}","time":${time},"price":"${price}","quantity":"${quantity}","amount":"12.5","id":"L${i}"}`; // an amount given
    default:
      return `{"pair":"${pair}","time":${time},"price":"${price}","quantity":"${quantity}","side":"${i % 2 ? 'buy' : 'sell'}","id":"${1_000_000 + i}"}`;
  }
}

interface Handed {
  readonly json: string;
  readonly tick: unknown;
  readonly pos: number;
}
interface Recorded {
  handed: Handed[];
  marks: ReplayMark[];
  malformed: { reason: string; sample: string; pos: number | undefined }[];
  fast: number;
}

const tickOf = (raw: RawTrade) => {
  try {
    const t = toTick(raw);
    return { pair: t.pair, time: t.time, price: t.price, quantity: t.quantity, amount: t.amount, side: t.side, id: t.id };
  } catch (e) {
    if (e instanceof TickError) return e.message;
    throw e;
  }
};

async function replayed(file: string, resume?: ReplayResume): Promise<Recorded> {
  const out: Recorded = { handed: [], marks: [], malformed: [], fast: 0 };
  const sink: SourceSink = {
    log: createLogger('ingest', 'silent'),
    trades: async (trades, replay) => {
      if (trades.length === 0 && replay) {
        out.marks.push(replay.mark);
        return;
      }
      out.marks.push(replay!.mark);
      trades.forEach((t, i) => {
        if (t instanceof CheckedTick) out.fast++;
        out.handed.push({ json: JSON.stringify(t), tick: tickOf(t), pos: replay!.positions[i]! });
      });
    },
    malformed: async (reason, sample, pos) => {
      out.malformed.push({ reason, sample, pos });
    },
    resume: async () => resume,
    status: () => undefined,
    gap: () => undefined,
  };
  const source = new ReplaySource({ file, speed: 0, batchSize: 97, maxLineBytes: MAX_LINE });
  await source.start(sink);
  await source.finished;
  await source.close();
  return out;
}

/** What the general path alone makes of the file's lines from `from` on. */
function expected(lines: string[], from: number): Omit<Recorded, 'marks' | 'fast'> {
  const parser = detectFormat(lines[0]!, 1)!;
  const out: Omit<Recorded, 'marks' | 'fast'> = { handed: [], malformed: [] };
  lines.forEach((l, i) => {
    const no = i + 1;
    if (no < from) return;
    const pos = no * POSITIONS_PER_LINE;
    if (Buffer.byteLength(l) > MAX_LINE) {
      out.malformed.push({ reason: `replay line ${no}: longer than ${MAX_LINE} bytes (${Buffer.byteLength(l)} bytes): set aside unread`, sample: l.slice(0, 200), pos });
      return;
    }
    const text = l.endsWith('\r') ? l.slice(0, -1) : l;
    try {
      for (const raw of parser.parse(text, no, () => expect.unreachable())) out.handed.push({ json: JSON.stringify(raw), tick: tickOf(raw), pos });
    } catch (e) {
      if (!(e instanceof LineError)) throw e;
      out.malformed.push({ reason: `replay line ${no}: ${e.message}`, sample: text, pos });
    }
  });
  return out;
}

describe('a replay of JSON lines, fast path and general path alike', () => {
  let dir: string;
  let file: string;
  let lines: string[];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'candlestack-plain-'));
    file = join(dir, 'trades.jsonl');
    // About 250 KB: read in several 64 KiB chunks, so some lines straddle two.
    lines = Array.from({ length: 2500 }, (_, i) => line(i));
    await writeFile(file, `${lines.join('\n')}\n`);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('hands over the general path\'s trades, positions and dead letters, most lines read from their bytes', async () => {
    const got = await replayed(file);
    const want = expected(lines, 1);
    expect(got.handed).toEqual(want.handed);
    expect(got.malformed).toEqual(want.malformed);
    expect(got.fast).toBeGreaterThan(lines.length / 2);
    expect(got.fast).toBeLessThan(got.handed.length);
    // Each hand-over's mark is where its first trade's line starts; the last one is past the file's end.
    const offsets = [0];
    for (const l of lines) offsets.push(offsets.at(-1)! + Buffer.byteLength(l) + 1);
    for (const m of got.marks) expect(m.offset).toBe(offsets[m.line - 1]);
    expect(got.marks.at(-1)).toEqual({ pos: (lines.length + 1) * POSITIONS_PER_LINE, line: lines.length + 1, offset: offsets.at(-1) });
  });

  it('resumed from a line in the middle, hands over the same from there', async () => {
    const from = 1234;
    const offset = lines.slice(0, from - 1).reduce((n, l) => n + Buffer.byteLength(l) + 1, 0);
    const got = await replayed(file, { line: from, offset, done: false });
    const want = expected(lines, from);
    expect(got.handed).toEqual(want.handed);
    expect(got.malformed).toEqual(want.malformed);
    expect(got.handed[0]!.pos).toBeGreaterThanOrEqual(from * POSITIONS_PER_LINE);
  });
});
