/**
 * The replay source: a recorded file (see replay-formats.ts), streamed line
 * by line (through gunzip when the content is gzip), handed over at
 * REPLAY_SPEED by the trades' own times: 1 is real time, 10 ten times
 * faster, 0 as fast as the writer takes them. Bad lines are counted and set
 * aside; they never stop the replay. The replay's clock is its trades' times
 * (the ingester publishes it), so it closes the candles of the file's days
 * and invents nothing after them.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { CheckedTick, Sleeper, TickError, normalizePair, parseTime, type Logger, type RawTrade } from '@candlestack/shared';
import type { ReplayMark, Source, SourceSink } from '../source.js';
import { readLineBatches, readLines, type Line } from './line-reader.js';
import { LineError, detectFormat, pairOf, type LineParser } from './replay-formats.js';

export interface ReplayOptions {
  readonly file: string;
  /** 0: as fast as possible; 1: real time; 10: ten times faster. */
  readonly speed: number;
  /** Only these pairs; undefined: every pair in the file. */
  readonly pairs?: readonly string[] | undefined;
  /** Interval of the progress line and status (ms); default 5 s. */
  readonly progressMs?: number;
  /** Trades per hand-over; default 1000. */
  readonly batchSize?: number;
  /** Longest line read (bytes); a longer one is set aside unread. Default 64 KiB. */
  readonly maxLineBytes?: number;
}

/** A line longer than this is set aside without being held whole (a gzip bomb of one line costs nothing). */
export const MAX_LINE_BYTES = 64 * 1024;
/** Positions: line * this + the index of the item in its line. */
export const POSITIONS_PER_LINE = 65_536;
/** Pairs named in the log as first met (the rest are still replayed). */
const MAX_PAIRS_NAMED = 10_000;
/** Longest single wait for the pace (a gap of days in the file at speed 1 is waited in steps). */
const MAX_WAIT_MS = 60_000;

/** Waits shorter than this are not worth a timer: the trade goes with the current batch. */
const MIN_WAIT_MS = 2;

export class ReplaySource implements Source {
  readonly kind = 'replay' as const;
  /**
   * Resolves once every trade of the file has been handed over. Stays
   * pending when the replay is stopped early: a replay cut short is not
   * done, and its buckets must not all be closed.
   */
  readonly finished: Promise<void>;
  private finish!: { resolve: () => void; reject: (err: Error) => void };
  private readonly sleeper = new Sleeper();
  private readonly filter: Set<string> | undefined;
  private readonly seen = new Set<string>();
  private log: Logger | undefined;
  private sink: SourceSink | undefined;
  private raw: Readable | undefined;
  private end: { line: number; offset: number } | undefined;
  private gzip = false;
  private progressTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;
  private size = 0;
  private bytes = 0;
  private handed = 0;
  private bad = 0;
  private skipped = 0;
  private replayTime: number | undefined;
  private lineNo = 0;

  constructor(private readonly opts: ReplayOptions) {
    this.finished = new Promise<void>((resolve, reject) => (this.finish = { resolve, reject }));
    // The ingester listens once start() has returned; until then a failure
    // must not count as unhandled.
    this.finished.catch(() => undefined);
    this.filter = opts.pairs ? new Set(opts.pairs.map((p) => normalizePair(p))) : undefined;
  }

  async start(sink: SourceSink): Promise<string[]> {
    const file = this.opts.file;
    this.sink = sink;
    const log = (this.log = sink.log.child({ component: 'replay', file }));
    let gzip: boolean;
    let fingerprint: string;
    try {
      const st = await stat(file);
      if (!st.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'not a regular file' });
      this.size = st.size;
      ({ gzip, fingerprint } = await inspect(file));
    } catch (err) {
      throw new Error(`REPLAY_FILE=${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err });
    }
    const maxLine = this.opts.maxLineBytes ?? MAX_LINE_BYTES;
    const open = (start: number) => {
      // A plain file is read from the resume point; a gzip one is
      // decompressed from its start and skipped up to it.
      const raw = createReadStream(file, gzip ? {} : { start });
      this.raw = raw;
      // A plain file's progress is the offset of the line being read (a
      // 'data' listener here would steal chunks from the line reader).
      if (!gzip) return raw as Readable;
      raw.on('data', (chunk) => (this.bytes += chunk.length));
      const gunzip = createGunzip();
      raw.on('error', (err) => gunzip.destroy(err));
      return raw.pipe(gunzip) as Readable;
    };

    // The first non-empty line says what the file is.
    let first: Line | undefined;
    try {
      for await (const l of readLines(open(0), { maxBytes: maxLine })) {
        if (l.text === undefined || l.text.trim() !== '') {
          first = l;
          break;
        }
      }
    } catch (err) {
      await this.close();
      throw new Error(`REPLAY_FILE=${file}: cannot read it (${(err as Error).message})`, { cause: err });
    }
    this.raw?.destroy();
    const parser = first?.text === undefined ? undefined : detectFormat(first.text, first.no);
    if (first !== undefined && !parser) {
      await this.close();
      const shown = first.text === undefined ? `a line of ${first.tooLong!.bytes} bytes` : JSON.stringify(first.text.slice(0, 80));
      throw new Error(
        `REPLAY_FILE=${file}: line ${first.no} is not a known replay format (${shown}): ` +
          'expected JSON lines of trades ({"pair":...,"time":...,"price":...,"quantity":...}), CSV with the header ' +
          'pair,time,price,quantity[,side,id], or a recorded Poloniex session (`<url> <- <time>: <json>` lines, see docs/configuration.md)',
      );
    }
    const resume = await sink.resume?.(fingerprint, basename(file));
    const speed = this.opts.speed === 0 ? 'as fast as possible' : `${this.opts.speed}x real time`;
    const what = `${basename(file)}${gzip ? ' (gzip)' : ''}, ${parser?.format ?? 'empty'}, ${speed}`;
    const where = resume ? `, resuming at line ${resume.line}` : '';
    log.info({ format: parser?.format, gzip, bytes: this.size, speed: this.opts.speed, pairs: this.opts.pairs, resume }, `replaying ${what}${where}`);
    sink.status('replaying', `replaying ${what}${where}`);
    const progressMs = this.opts.progressMs ?? 5_000;
    this.progressTimer = setInterval(() => this.progress(), progressMs);

    const startLine = resume?.line ?? 1;
    const startOffset = resume?.offset ?? 0;
    this.gzip = gzip;
    this.bytes = 0;
    const input = open(gzip ? 0 : startOffset);
    const lines = readLineBatches(input, {
      maxBytes: maxLine,
      ...(!gzip && { firstLine: startLine, startOffset }),
      onEnd: (end) => (this.end = end),
    });
    const pairsKnown = defer<string[]>();
    this.run(lines, parser, startLine, pairsKnown).then(
      () => {
        pairsKnown.resolve(this.pairsNow());
        if (!this.closed) this.finish.resolve();
      },
      (err: Error) => {
        log.error({ err: err.message, line: this.lineNo }, `replay failed at line ${this.lineNo}: ${err.message}`);
        pairsKnown.reject(err);
        if (!this.closed) this.finish.reject(err);
      },
    );
    return this.filter ? [...this.filter] : pairsKnown.promise;
  }

  private pairsNow(): string[] {
    return this.filter ? [...this.filter] : [...this.seen].sort();
  }

  private async run(
    batches: AsyncGenerator<Line[]>,
    parser: LineParser | undefined,
    startLine: number,
    pairsKnown: Deferred<string[]>,
  ): Promise<void> {
    const sink = this.sink!;
    const batchSize = this.opts.batchSize ?? 1_000;
    const speed = this.opts.speed;
    let batch: RawTrade[] = [];
    let positions: number[] = [];
    let mark: ReplayMark | undefined;
    let announced = false;
    let batchMax: number | undefined;
    // Real time of the first trade, and its trade time: the pace's origin.
    let origin: { wall: number; trade: number } | undefined;

    const flush = async () => {
      if (batch.length === 0) return;
      if (!announced) {
        // start() returns the pairs met so far; later ones register as they come.
        announced = true;
        pairsKnown.resolve(this.pairsNow());
      }
      const out = batch;
      const pos = positions;
      batch = [];
      positions = [];
      await sink.trades(out, { positions: pos, mark: mark! });
      mark = undefined;
      this.handed += out.length;
      if (batchMax !== undefined && (this.replayTime === undefined || batchMax > this.replayTime)) this.replayTime = batchMax;
      batchMax = undefined;
    };

    // Index loops and no closure per line: a million lines went through
    // an iterator result and a closure with its context each (a quarter of
    // what the ingester allocated). The closure that sets parts aside is
    // made only for a line the general parser reads (parseLine).
    for await (const lines of batches) {
      for (let li = 0; li < lines.length; li++) {
        const line = lines[li]!;
        if (this.closed) return;
        this.lineNo = line.no;
        if (!this.gzip) this.bytes = line.offset;
        // A resumed gzip file is decompressed from its start: skip to the line.
        if (line.no < startLine) continue;
        const base = line.no * POSITIONS_PER_LINE;
        if (line.tooLong !== undefined) {
          this.bad++;
          await sink.malformed(
            `replay line ${line.no}: longer than ${this.opts.maxLineBytes ?? MAX_LINE_BYTES} bytes (${line.tooLong.bytes} bytes): set aside unread`,
            line.tooLong.sample,
            base,
          );
          continue;
        }
        // Positions in the line given so far (to parts set aside and to trades).
        let k = 0;
        let room: Promise<void> | undefined;
        // A plain line read from its bytes (its text never decoded), else the general parser.
        const one = line.chunk !== undefined && parser!.parseBytes !== undefined ? parser!.parseBytes(line.chunk, line.start!, line.end!, line.no) : undefined;
        let trades: RawTrade[] | undefined;
        if (one === undefined) {
          const parsed = this.parseLine(parser!, line, base);
          trades = parsed.trades;
          k = parsed.k;
          room = parsed.room;
        }
        const count = one !== undefined ? 1 : trades!.length;
        for (let j = 0; j < count; j++) {
          const t = one ?? trades![j]!;
          if (k >= POSITIONS_PER_LINE) {
            this.bad++;
            room = sink.malformed(`replay line ${line.no}: more than ${POSITIONS_PER_LINE - 1} trades on one line: the rest set aside`, line.text!.slice(0, 200), base + POSITIONS_PER_LINE - 1);
            break;
          }
          const pos = base + k++;
          // A plain line's pair is canonical already (plain-line.ts).
          const pair = t instanceof CheckedTick ? t.pair : pairOf(t);
          if (pair && this.filter && !this.filter.has(pair)) {
            this.skipped++;
            continue;
          }
          if (pair && !this.seen.has(pair) && this.seen.size < MAX_PAIRS_NAMED) {
            this.seen.add(pair);
            if (announced && !this.filter) this.log?.info({ pair, line: line.no }, `${pair} first met at line ${line.no}`);
          }
          // The time, for the pace; as fast as possible, only now and then
          // for the progress line (the ingester reads every trade's anyway).
          const time = speed > 0 || (this.handed + batch.length) % 256 === 0 ? timeOf(t) : undefined;
          if (speed > 0 && time !== undefined) {
            origin ??= { wall: Date.now(), trade: time };
            const wait = origin.wall + (time - origin.trade) / speed - Date.now();
            if (wait >= MIN_WAIT_MS) {
              await flush();
              await this.sleeper.sleep(Math.min(wait, MAX_WAIT_MS));
              if (this.closed) return;
            }
          }
          mark ??= { pos, line: line.no, offset: line.offset };
          batch.push(t);
          positions.push(pos);
          if (time !== undefined && (batchMax === undefined || time > batchMax)) batchMax = time;
          if (batch.length >= batchSize) await flush();
        }
        // Set-aside parts wait for room too: reading never outruns the writes.
        if (room) await room;
      }
    }
    if (this.closed) return;
    await flush();
    // Where a restart would go on: after the last line.
    if (this.end) await sink.trades([], { positions: [], mark: { pos: this.end.line * POSITIONS_PER_LINE, line: this.end.line, offset: this.end.offset } });
    clearInterval(this.progressTimer);
    const summary = `replay read: ${this.handed} trade(s) handed over from ${this.lineNo} line(s), ${this.bad} bad line(s) or part(s) set aside${this.filter ? `, ${this.skipped} trade(s) of other pairs skipped` : ''}`;
    // The ingester logs the status line; this one adds the numbers as fields.
    this.log?.debug({ trades: this.handed, lines: this.lineNo, bad: this.bad, skipped: this.skipped, replayTime: iso(this.replayTime) }, summary);
    sink.status('replaying', summary);
  }

  /**
   * A line the general parser reads: its trades, the parts it set aside
   * (each given the line's next position, from `base`) and the wait for
   * the last one's room.
   */
  private parseLine(parser: LineParser, line: Line, base: number): { trades: RawTrade[]; k: number; room: Promise<void> | undefined } {
    const out: { trades: RawTrade[]; k: number; room: Promise<void> | undefined } = { trades: [], k: 0, room: undefined };
    const reject = (reason: string, sample: string) => {
      this.bad++;
      out.room = this.sink!.malformed(`replay line ${line.no}: ${reason}`, sample, base + Math.min(out.k++, POSITIONS_PER_LINE - 1));
    };
    try {
      out.trades = parser.parse(line.text!, line.no, reject);
    } catch (err) {
      if (!(err instanceof LineError)) throw err;
      reject(err.message, line.text!);
    }
    return out;
  }

  /** The progress line: trades, share of the file read, replay time reached. */
  private progress(): void {
    const pct = this.size > 0 ? Math.min(100, Math.floor((this.bytes / this.size) * 100)) : 100;
    const detail = `replay: ${this.handed.toLocaleString('en-US')} trade(s) handed over, ${pct}% of ${mb(this.size)} read, replay time ${iso(this.replayTime) ?? '(none yet)'}`;
    this.log?.debug({ trades: this.handed, percent: pct, bytes: this.bytes, replayTime: iso(this.replayTime), bad: this.bad, line: this.lineNo }, detail);
    this.sink?.status('replaying', detail);
  }

  /** Stops reading. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      clearInterval(this.progressTimer);
      this.sleeper.cancel();
      this.raw?.destroy();
    })();
    return this.closing;
  }
}

interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(v: T): void;
  reject(err: Error): void;
}

function defer<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/**
 * Gzip by content (its magic bytes), whatever the file is called, and the
 * file's fingerprint: a hash of its first 64 KiB, so a restart knows it is
 * replaying the same file (one grown at its end still is).
 */
async function inspect(file: string): Promise<{ gzip: boolean; fingerprint: string }> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(64 * 1024);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    const head = buf.subarray(0, bytesRead);
    return {
      gzip: bytesRead >= 2 && head[0] === 0x1f && head[1] === 0x8b,
      fingerprint: createHash('sha256').update(head).digest('hex').slice(0, 16),
    };
  } finally {
    await fh.close();
  }
}

function timeOf(t: RawTrade): number | undefined {
  try {
    return parseTime(t.time);
  } catch (err) {
    if (err instanceof TickError) return undefined;
    throw err;
  }
}

const iso = (t: number | undefined) => (t === undefined ? undefined : new Date(t).toISOString());
const mb = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${(n / 1e3).toFixed(1)} kB`);
