/**
 * The replay source: a recorded file (see replay-formats.ts), streamed line
 * by line (through gunzip when the content is gzip), handed over at
 * REPLAY_SPEED by the trades' own times: 1 is real time, 10 ten times
 * faster, 0 as fast as the writer takes them. Bad lines are counted and set
 * aside; they never stop the replay. The replay's clock is its trades' times
 * (the ingester publishes it), so it closes the candles of the file's days
 * and invents nothing after them.
 */
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { TickError, normalizePair, parseTime, type Logger, type RawTrade } from '@candlestack/shared';
import type { Source, SourceSink } from '../source.js';
import { Sleeper } from './backoff.js';
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
}

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
  private rl: Interface | undefined;
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
    try {
      const st = await stat(file);
      if (!st.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'not a regular file' });
      this.size = st.size;
      gzip = await isGzip(file);
    } catch (err) {
      throw new Error(`REPLAY_FILE=${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err });
    }
    const raw = (this.raw = createReadStream(file));
    raw.on('data', (chunk) => (this.bytes += chunk.length));
    let input: Readable = raw;
    if (gzip) {
      const gunzip = createGunzip();
      raw.on('error', (err) => gunzip.destroy(err));
      input = raw.pipe(gunzip);
    }
    const rl = (this.rl = createInterface({ input, crlfDelay: Infinity }));
    const lines = rl[Symbol.asyncIterator]();

    // The first non-empty line says what the file is.
    let first: string | undefined;
    try {
      for (let r = await lines.next(); !r.done; r = await lines.next()) {
        this.lineNo++;
        if (r.value.trim() !== '') {
          first = r.value;
          break;
        }
      }
    } catch (err) {
      await this.close();
      throw new Error(`REPLAY_FILE=${file}: cannot read it (${(err as Error).message})`, { cause: err });
    }
    const parser = first === undefined ? undefined : detectFormat(first, this.lineNo);
    if (first !== undefined && !parser) {
      await this.close();
      throw new Error(
        `REPLAY_FILE=${file}: line ${this.lineNo} is not a known replay format (${JSON.stringify(first.slice(0, 80))}): ` +
          'expected JSON lines of trades ({"pair":...,"time":...,"price":...,"quantity":...}), CSV with the header ' +
          'pair,time,price,quantity[,side,id], or a recorded Poloniex session (shared/data/poloniex/*.log)',
      );
    }
    const speed = this.opts.speed === 0 ? 'as fast as possible' : `${this.opts.speed}x real time`;
    const what = `${basename(file)}${gzip ? ' (gzip)' : ''}, ${parser?.format ?? 'empty'}, ${speed}`;
    log.info({ format: parser?.format, gzip, bytes: this.size, speed: this.opts.speed, pairs: this.opts.pairs }, `replaying ${what}`);
    sink.status('replaying', `replaying ${what}`);
    const progressMs = this.opts.progressMs ?? 5_000;
    this.progressTimer = setInterval(() => this.progress(), progressMs);

    const pairsKnown = defer<string[]>();
    this.run(lines, parser, first, pairsKnown).then(
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
    lines: AsyncIterator<string>,
    parser: LineParser | undefined,
    first: string | undefined,
    pairsKnown: Deferred<string[]>,
  ): Promise<void> {
    const sink = this.sink!;
    const batchSize = this.opts.batchSize ?? 1_000;
    const speed = this.opts.speed;
    let batch: RawTrade[] = [];
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
      batch = [];
      await sink.trades(out);
      this.handed += out.length;
      if (batchMax !== undefined && (this.replayTime === undefined || batchMax > this.replayTime)) this.replayTime = batchMax;
      batchMax = undefined;
    };
    const reject = (reason: string, sample: string) => {
      this.bad++;
      sink.malformed(`replay line ${this.lineNo}: ${reason}`, sample);
    };

    let line = first;
    while (line !== undefined && !this.closed) {
      let trades: RawTrade[] = [];
      try {
        trades = parser!.parse(line, this.lineNo, reject);
      } catch (err) {
        if (!(err instanceof LineError)) throw err;
        reject(err.message, line);
      }
      for (const t of trades) {
        const pair = pairOf(t);
        if (pair && this.filter && !this.filter.has(pair)) {
          this.skipped++;
          continue;
        }
        if (pair && !this.seen.has(pair)) {
          this.seen.add(pair);
          if (announced && !this.filter) this.log?.info({ pair, line: this.lineNo }, `${pair} first met at line ${this.lineNo}`);
        }
        const time = timeOf(t);
        if (speed > 0 && time !== undefined) {
          origin ??= { wall: Date.now(), trade: time };
          const wait = origin.wall + (time - origin.trade) / speed - Date.now();
          if (wait >= MIN_WAIT_MS) {
            await flush();
            await this.sleeper.sleep(wait);
            if (this.closed) return;
          }
        }
        batch.push(t);
        if (time !== undefined && (batchMax === undefined || time > batchMax)) batchMax = time;
        if (batch.length >= batchSize) await flush();
      }
      const r = await lines.next();
      if (r.done) break;
      this.lineNo++;
      line = r.value;
    }
    if (this.closed) return;
    await flush();
    clearInterval(this.progressTimer);
    const summary = `replay read: ${this.handed} trade(s) handed over from ${this.lineNo} line(s), ${this.bad} bad line(s) or part(s) set aside${this.filter ? `, ${this.skipped} trade(s) of other pairs skipped` : ''}`;
    // The ingester logs the status line; this one adds the numbers as fields.
    this.log?.debug({ trades: this.handed, lines: this.lineNo, bad: this.bad, skipped: this.skipped, replayTime: iso(this.replayTime) }, summary);
    sink.status('replaying', summary);
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
      this.rl?.close();
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

/** Gzip by content (its magic bytes), whatever the file is called. */
async function isGzip(file: string): Promise<boolean> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(2);
    const { bytesRead } = await fh.read(buf, 0, 2, 0);
    return bytesRead === 2 && buf[0] === 0x1f && buf[1] === 0x8b;
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
