/**
 * SOURCE=replay through the real ingester and worker: every file format,
 * the replay's own clock (every bucket it touched closes, nothing after),
 * bad lines set aside, the pace, the progress line, and the ground truth:
 * Binance's trades replayed as JSON lines give Binance's own klines.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { candlesFromTicks, type StoredCandle, type Tick } from '@candlestack/shared';
import { SHARED_DATA, binanceKlines, binanceTicks } from '../../../test/support/binance.js';
import { ReplaySource, type ReplayOptions } from '../src/sources/replay.js';
import { captureLog, closedCandles, counter, startPipeline, view, waitFor, type Pipeline } from './support/harness.js';

let dir: string;
const pipelines: Pipeline[] = [];
const V3_SESSION = new URL('poloniex/poloniex-v3-ws-2022-08-21.log', SHARED_DATA).pathname;
const LEGACY_SESSION = new URL('poloniex/poloniex-legacy-ws-2021-06-08.log', SHARED_DATA).pathname;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'candlestack-replay-'));
});
afterEach(async () => {
  for (const p of pipelines.splice(0)) await p.close();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function replay(opts: Omit<ReplayOptions, 'speed'> & { speed?: number }, env: Record<string, string> = {}, prefix?: string): Promise<Pipeline> {
  const p = await startPipeline(new ReplaySource({ speed: 0, ...opts }), { env, ...(prefix && { prefix }) });
  pipelines.push(p);
  return p;
}

const done = (p: Pipeline, timeoutMs = 15_000) =>
  waitFor('the replay done', async () => (await p.stats.readSourceStatus())?.state === 'done', timeoutMs);

async function file(name: string, content: string | Buffer): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, content);
  return path;
}

const jsonl = (trades: readonly object[]) => trades.map((t) => JSON.stringify(t)).join('\n') + '\n';

describe('replay of a recorded Poloniex session', () => {
  it('stores the six recorded trades exactly and closes their candles by the replay clock', async () => {
    const p = await replay({ file: V3_SESSION }, { PERIODS: '10s,1m' });
    expect(p.ingester.pairs).toEqual(['BCH_USDT', 'BTC_USDT', 'USDJ_USDT']);
    await done(p);
    expect(await p.store.reads.trades('BTC_USDT', { limit: 100 })).toEqual([
      { id: '60184114', time: 1661123520381, price: '21614.59', quantity: '0.01149', side: 'sell' },
      { id: '60184115', time: 1661123528888, price: '21615.95', quantity: '0.006021', side: 'buy' },
      { id: '60184116', time: 1661123533894, price: '21614.46', quantity: '0.000328', side: 'buy' },
      { id: '60184117', time: 1661123542635, price: '21602.42', quantity: '0.002305', side: 'buy' },
    ]);
    const t = 1661123520000;
    expect((await closedCandles(p, 'BTC_USDT', 10_000, t, t + 20_000)).map(view)).toEqual([
      { time: t, open: '21614.59', high: '21615.95', low: '21614.59', close: '21615.95', volume: '0.017511', quoteVolume: '378.50127405', trades: 2 },
      { time: t + 10_000, open: '21614.46', high: '21614.46', low: '21614.46', close: '21614.46', volume: '0.000328', quoteVolume: '7.08954288', trades: 1 },
      { time: t + 20_000, open: '21602.42', high: '21602.42', low: '21602.42', close: '21602.42', volume: '0.002305', quoteVolume: '49.7935781', trades: 1 },
    ]);
    expect((await closedCandles(p, 'BTC_USDT', 60_000, t, t)).map(view)).toEqual([
      { time: t, open: '21614.59', high: '21615.95', low: '21602.42', close: '21602.42', volume: '0.020144', quoteVolume: '435.38439503', trades: 4 },
    ]);
    expect((await closedCandles(p, 'BCH_USDT', 60_000, t, t)).map(view)).toEqual([
      { time: t, open: '120.17', high: '120.17', low: '120.17', close: '120.17', volume: '0.270684', quoteVolume: '32.52809628', trades: 1 },
    ]);
    // The replay's clock: nothing invented after its last trade (no flat candles up to today).
    expect(await p.store.closedCandles('BTC_USDT', 10_000, { from: t + 30_000, limit: 10 })).toEqual([]);
    expect(await p.redis.hgetall(p.keys.clock())).toMatchObject({ source: 'replay', time: '1661123542635', done: '1' });
    // Book updates, acks and the client's own lines are not malformed: they are skipped.
    expect(await counter(p, 'ticks_malformed_total')).toBe(0);
    expect(await counter(p, 'ticks_ingested_total')).toBe(6);
  });

  it('reads the trades of a legacy (api2) session, its pair named the v3 way', async () => {
    const p = await replay({ file: LEGACY_SESSION }, { PERIODS: '1m' });
    await done(p);
    expect(await p.store.pairs()).toEqual(['USDT_USDC']);
    expect(await p.store.reads.trades('USDT_USDC', { limit: 100 })).toEqual([{ id: '3853840', time: 1623185076161, price: '1.00103779', quantity: '2.05623096', side: 'buy' }]);
    expect(await counter(p, 'ticks_malformed_total')).toBe(0);
  });
});

describe('replay of JSON lines', () => {
  it("gives Binance's own 1m and 5m klines for its XRP/ETH trades (gzip, streamed, mixed value types)", async () => {
    const ticks = binanceTicks();
    const asNumber = (s: string) => (String(Number(s)) === s ? Number(s) : s);
    const lines = ticks.map((t, i) => ({
      pair: i % 7 === 0 ? 'xrp-eth' : t.pair,
      time: i % 3 === 0 ? new Date(t.time).toISOString() : t.time,
      price: i % 2 === 0 ? asNumber(t.price) : t.price,
      quantity: i % 5 === 0 ? asNumber(t.quantity) : t.quantity,
      side: t.side,
      id: t.id,
    }));
    const path = await file('xrp-eth.trades', gzipSync(jsonl(lines))); // gzip by content, not by name
    const p = await replay({ file: path }, { PERIODS: '1m,5m' });
    await done(p, 60_000);
    for (const period of ['1m', '5m'] as const) {
      const expected = binanceKlines(period);
      const ms = period === '1m' ? 60_000 : 300_000;
      const got = await closedCandles(p, 'XRP_ETH', ms, expected[0]!.time, expected.at(-1)!.time);
      const kline = (c: StoredCandle) => ({ time: c.time, open: c.open, high: c.high, low: c.low, close: c.close, volume: c.volume });
      expect(got.map(kline)).toEqual(expected);
    }
    expect(await counter(p, 'ticks_ingested_total')).toBe(ticks.length);
    expect(await counter(p, 'ticks_malformed_total')).toBe(0);
  }, 90_000);

  it('counts bad lines, sets them aside with their line number, and carries on', async () => {
    const t0 = 1_700_000_000_000;
    const path = await file(
      'bad.jsonl',
      [
        JSON.stringify({ pair: 'BTC_USDT', time: t0, price: '100', quantity: '1', id: '1' }),
        '',
        '{"pair":"BTC_USDT","time":', // cut short
        '[1,2,3]',
        JSON.stringify({ pair: 'BTC_USDT', time: t0 + 1_000, price: 'abc', quantity: '1', id: '3' }),
        JSON.stringify({ pair: 'BTC_USDT', time: 1_700_000_001, price: '101', quantity: '1', id: '4' }), // seconds
        JSON.stringify({ pair: 'BTC_USDT', time: t0 + 2_500, price: '102', quantity: '2', side: 'sell', id: '5' }),
      ].join('\n'),
    );
    const p = await replay({ file: path });
    await done(p);
    expect(await counter(p, 'ticks_malformed_total')).toBe(4);
    const dead = (await p.redis.xrange(p.keys.deadLetter(), '-', '+')).map(([, f]) => f[f.indexOf('reason') + 1]);
    expect(dead).toEqual([
      'replay line 3: not JSON',
      'replay line 4: not a JSON object',
      'price: not a decimal: "abc"',
      'time 1700000001 is not a time in ms between 2000 and 2100',
    ]);
    const got = await closedCandles(p, 'BTC_USDT', 1_000, t0, t0 + 2_000);
    expect(got.map((c) => [c.close, c.trades])).toEqual([
      ['100', 1],
      ['100', 0],
      ['102', 1],
    ]);
  });

  it('gives trades without an id their line number, so a second replay of the file counts each trade once', async () => {
    const t0 = 1_700_000_000_000;
    const trades = Array.from({ length: 20 }, (_, i) => ({ pair: 'ETH_USDT', time: t0 + i * 300, price: String(2000 + (i % 4)), quantity: '0.5' }));
    const path = await file('no-ids.jsonl', jsonl(trades));
    const first = await replay({ file: path });
    await done(first);
    const candles = await closedCandles(first, 'ETH_USDT', 5_000, t0, t0 + 5_000);
    // Replay it again into the same store: it resumes at its end, and reads nothing.
    const again = await replay({ file: path }, {}, first.prefix);
    await done(again);
    expect(again.log.find(/resuming the replay of no-ids.jsonl/)).toHaveLength(1);
    expect(await counter(first, 'ticks_ingested_total')).toBe(20);
    expect(await counter(first, 'ticks_duplicate_total')).toBe(0);
    await again.close();
    // Without its stored positions it reads the whole file again: each trade
    // is known by its line number, and counts once.
    await first.redis.del(first.keys.replay());
    await first.redis.hdel(first.keys.state('ETH_USDT'), 'rp');
    const third = await replay({ file: path }, {}, first.prefix);
    pipelines.reverse(); // the others stop before the first deletes the keys
    await done(third);
    expect(await counter(first, 'ticks_ingested_total')).toBe(20);
    expect(await counter(first, 'ticks_duplicate_total')).toBe(20);
    expect(await first.store.closedCandles('ETH_USDT', 5_000, { from: t0, limit: 10 })).toEqual(candles);
    expect(candles.reduce((n, c) => n + c.trades, 0)).toBe(20);
    const ids = (await first.store.reads.trades('ETH_USDT', { limit: 100 })).map((t) => t.id);
    expect(ids).toEqual(trades.map((_, i) => String(i + 1)));
  });

  it('replays only the pairs of PAIRS when it is set', async () => {
    const t0 = 1_700_000_000_000;
    const path = await file(
      'three-pairs.jsonl',
      jsonl(['BTC_USDT', 'ETH_USDT', 'SOL_USDT', 'BTC_USDT'].map((pair, i) => ({ pair, time: t0 + i, price: '1', quantity: '1', id: String(i) }))),
    );
    const p = await replay({ file: path, pairs: ['btc-usdt'] });
    expect(p.ingester.pairs).toEqual(['BTC_USDT']);
    await done(p);
    expect(await p.store.pairs()).toEqual(['BTC_USDT']);
    expect(await counter(p, 'ticks_ingested_total')).toBe(2);
    expect(p.log.find(/2 trade\(s\) of other pairs skipped/)).toHaveLength(2); // the source's line and the status line
  });
});

describe('replay of CSV', () => {
  it('reads the header, quoted fields, ISO times, and rows without side or id', async () => {
    const path = await file(
      'trades.csv',
      [
        '\uFEFFpair,time,price,quantity,side,id',
        'BTC_USDT,1700000000100,37000.5,0.25,buy,901',
        '"BTC_USDT","2023-11-14T22:13:20.600Z","37001.00","0.5","sell","902"',
        'BTC_USDT,1700000001200,36999,1,,',
        'BTC_USDT,1700000002000,37002',
        'ETH_USDT,1700000002500,2000.1,3,SELL,77',
      ].join('\r\n'),
    );
    const p = await replay({ file: path });
    await done(p);
    expect(await counter(p, 'ticks_malformed_total')).toBe(1); // the short row
    const expected: Tick[] = [
      { pair: 'BTC_USDT', time: 1700000000100, price: '37000.5', quantity: '0.25', amount: '9250.125', side: 'buy', id: '901' },
      { pair: 'BTC_USDT', time: 1700000000600, price: '37001', quantity: '0.5', amount: '18500.5', side: 'sell', id: '902' },
      { pair: 'BTC_USDT', time: 1700000001200, price: '36999', quantity: '1', amount: '36999', id: '4' },
    ];
    const ref = candlesFromTicks(expected, 1_000);
    const got = await closedCandles(p, 'BTC_USDT', 1_000, ref[0]!.time, ref.at(-1)!.time);
    expect(got.map(view)).toEqual(ref.map(view));
    expect((await closedCandles(p, 'ETH_USDT', 5_000, 1700000000000, 1700000000000))[0]).toMatchObject({ close: '2000.1', volume: '3', trades: 1 });
  });

  it('reads a four-column CSV', async () => {
    const path = await file('four.csv', 'pair,time,price,quantity\nXRP_ETH,1570752011620,0.00141342,23\nXRP_ETH,1570752012000,0.00141343,7\n');
    const p = await replay({ file: path }, { PERIODS: '1m' });
    await done(p);
    expect((await closedCandles(p, 'XRP_ETH', 60_000, 1570752000000, 1570752000000))[0]).toMatchObject({
      open: '0.00141342',
      close: '0.00141343',
      volume: '30',
      quoteVolume: '0.04240267',
      trades: 2,
    });
  });
});

describe('replay pace, progress and errors', () => {
  it('marks a replay whose file breaks off (truncated gzip) failed, not done, keeping what it read', async () => {
    const t0 = 1_700_000_000_000;
    const trades = Array.from({ length: 200 }, (_, i) => ({ pair: 'BTC_USDT', time: t0 + i * 10, price: String(100 + (i % 7)), quantity: '1', id: String(i + 1) }));
    const gz = gzipSync(jsonl(trades));
    const path = await file('cut.jsonl.gz', gz.subarray(0, gz.length - 8)); // without its trailer
    const p = await replay({ file: path, batchSize: 10 });
    const status = await waitFor('the replay failed', async () => {
      const s = await p.stats.readSourceStatus();
      return s?.state === 'failed' ? s : undefined;
    });
    expect(status.detail).toMatch(/unexpected end of file/);
    expect(await p.redis.hget(p.keys.clock(), 'done')).toBe('0');
    await waitFor('what was read stored', async () => (await counter(p, 'ticks_ingested_total')) > 0);
  });

  it('follows REPLAY_SPEED by the trades own times, with a progress line and the replaying status', async () => {
    const t0 = 1_700_000_000_000;
    const trades = Array.from({ length: 9 }, (_, i) => ({ pair: 'BTC_USDT', time: t0 + i * 150, price: '100', quantity: '1', id: String(i + 1) }));
    const path = await file('paced.jsonl', jsonl(trades));
    const log = captureLog();
    const source = new ReplaySource({ file: path, speed: 2, progressMs: 100 });
    const started = Date.now();
    const p = await startPipeline(source, { log });
    pipelines.push(p);
    const state = await waitFor('replaying', async () => (await p.stats.readSourceStatus())?.state);
    expect(state).toMatch(/replaying|done/);
    await source.finished;
    const took = Date.now() - started;
    // 1,200 ms of trade time at 2x: about 600 ms.
    expect(took).toBeGreaterThanOrEqual(550);
    expect(took).toBeLessThan(2_000);
    // The line users see (the status, logged by the ingester), and the same with its numbers as fields.
    const line = /replay: \d+ trade\(s\) handed over, \d+% of [\d.]+ kB read, replay time (2023-11-14T22:13:2\d\.\d{3}Z|\(none yet\))$/;
    const shown = log.find(line).filter((e) => e.level === 'info' && /^source replaying: /.test(e.msg));
    expect(shown.length).toBeGreaterThanOrEqual(2);
    expect(log.find(line).filter((e) => e.component === 'replay').at(-1)).toMatchObject({ file: path, trades: expect.any(Number), percent: expect.any(Number) });
    await done(p);
  });

  it('closes buckets while the replay runs, not all after its end (the workers\' schedules follow the wall clock)', async () => {
    // 30 minutes of trade time at 600x: about 3 s. The 1m schedule fires a
    // minute of wall time apart: what closes before the end was asked for
    // by the ingester as the replay clock entered new buckets.
    const t0 = Date.UTC(2024, 0, 1);
    const trades = Array.from({ length: 180 }, (_, i) => ({ pair: 'BTC_USDT', time: t0 + i * 10_000, price: String(100 + (i % 7)), quantity: '1', id: String(i + 1) }));
    const path = await file('closing-while-replaying.jsonl', jsonl(trades));
    const p = await replay({ file: path, speed: 600 }, { PERIODS: '1m,5m', GRACE_MS: '0' });
    const closedWhileReplaying = await waitFor('a 1m candle closed while the source still replays', async () => {
      const [state, closed] = await Promise.all([p.stats.readSourceStatus(), p.redis.hget(p.keys.state('BTC_USDT'), 'c:60000')]);
      if (state?.state === 'done') return 'done first';
      return closed !== null && Number(closed) >= t0 ? 'closed' : undefined;
    });
    expect(closedWhileReplaying).toBe('closed');
    await done(p);
    // And at the end every bucket it touched is closed, exactly.
    const want = candlesFromTicks(trades.map((t) => ({ ...t, amount: t.price })) as Tick[], 60_000);
    expect((await closedCandles(p, 'BTC_USDT', 60_000, t0, t0 + 29 * 60_000)).map(view)).toEqual(want.map(view));
  });

  it('refuses to start on a missing file or one it does not recognise, saying what it expected', async () => {
    await expect(startPipeline(new ReplaySource({ file: join(dir, 'missing.jsonl'), speed: 0 }), { worker: false })).rejects.toThrow(
      /^REPLAY_FILE=.*missing\.jsonl: cannot read it \(ENOENT\)$/,
    );
    const binanceArray = new URL('binance/XRP_ETH-1m.json', SHARED_DATA).pathname; // a JSON array, not JSON lines
    await expect(startPipeline(new ReplaySource({ file: binanceArray, speed: 0 }), { worker: false })).rejects.toThrow(
      /is not a known replay format .*expected JSON lines of trades .* CSV with the header pair,time,price,quantity\[,side,id\], or a recorded Poloniex session/,
    );
  });
});
