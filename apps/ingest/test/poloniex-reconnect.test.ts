/**
 * Live source against the stand-in when the connection fails: drops with and
 * without a close frame, refused connections, missing pongs, idle cuts, REST
 * errors and hangs, gaps longer than the exchange lists, restarts. Candles
 * must come out complete, duplicates must count once, losses must show.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { candlesFromTicks } from '@candlestack/shared';
import { closedCandles, counter, prng, sleep, startPipeline, ticksOf, tradeSpecs, view, waitFor, type Pipeline } from './support/harness.js';
import { liveSource } from './support/live.js';
import { PoloniexStandIn, type WireTrade } from './support/poloniex-stand-in.js';

let standIn: PoloniexStandIn;
const pipelines: Pipeline[] = [];
const BTC = { price: 37_000, priceDecimals: 2, qtyDecimals: 6 };

beforeAll(async () => {
  standIn = await PoloniexStandIn.start();
});
afterEach(async () => {
  // In order: a restarted ingester sharing a prefix stops before the first one deletes the keys.
  for (const p of pipelines.splice(0)) await p.close();
  standIn.answerPings = true;
  standIn.resendOnSubscribe = 0;
});
afterAll(async () => {
  await standIn.close();
});

async function start(pairs = ['BTC_USDT', 'ETH_USDT'], extra = {}): Promise<Pipeline> {
  const p = await startPipeline(liveSource(standIn, pairs, extra));
  pipelines.push(p);
  await waitFor('subscribed', () => pairs.every((s) => standIn.subscribed(s)));
  // The start-up backfill of each pair has run (nothing stored yet: it only learns the newest id).
  await waitFor('start-up backfill', () => p.log.find(/nothing stored yet/).length >= pairs.length);
  return p;
}

const ingested = (p: Pipeline, n: number) => waitFor(`${n} trades ingested`, async () => (await counter(p, 'ticks_ingested_total')) >= n);

/** Candles of `trades` (one pair) are in the store, closed, exactly as the reference fold says. */
async function expectCandles(p: Pipeline, pair: string, trades: readonly WireTrade[]): Promise<void> {
  const ticks = ticksOf(trades);
  for (const ms of [1_000, 5_000]) {
    const expected = candlesFromTicks(ticks, ms);
    const got = await closedCandles(p, pair, ms, expected[0]!.time, expected.at(-1)!.time);
    expect(got.map(view), `${pair} ${ms} ms`).toEqual(expected.map(view));
  }
}

describe('Poloniex live source: drops and gaps', () => {
  it('fills a drop from REST (close frame, then none, then refused): candles complete, each drop announced', async () => {
    const p = await start(['BTC_USDT']);
    const rand = prng(3);
    const t0 = Date.now() - 6_000;
    const all: WireTrade[] = [];
    const live = (from: number, to: number, n = 6) => all.push(...standIn.execute('BTC_USDT', tradeSpecs(rand, n, from, to, BTC)));
    const unheard = (from: number, to: number, n = 5) => all.push(...standIn.execute('BTC_USDT', tradeSpecs(rand, n, from, to, BTC), { broadcast: false }));

    live(t0, t0 + 1_000);
    await ingested(p, all.length);
    // 1. A close frame; trades executed before the client is back (nobody hears them).
    const connections = standIn.connections;
    standIn.drop({ closeFrame: true });
    unheard(t0 + 1_000, t0 + 2_000);
    await waitFor('reconnected', () => standIn.connections > connections && standIn.subscribed('BTC_USDT'));
    live(t0 + 2_000, t0 + 2_500, 3);
    await ingested(p, all.length);
    // 2. No close frame.
    standIn.drop({ closeFrame: false });
    unheard(t0 + 2_500, t0 + 3_000);
    await waitFor('reconnected', () => standIn.connections > connections + 1 && standIn.subscribed('BTC_USDT'));
    await ingested(p, all.length);
    // 3. Refused for a while: several failed attempts, then back.
    await standIn.refuse(true);
    unheard(t0 + 3_000, t0 + 4_000);
    await waitFor('a refused attempt', () => p.log.find(/cannot reach Poloniex .*ECONNREFUSED.*SOURCE=simulated/).length > 0);
    expect((await p.stats.readSourceStatus())?.state).toBe('disconnected');
    unheard(t0 + 4_000, t0 + 5_000);
    await standIn.refuse(false);
    await waitFor('reconnected', () => standIn.subscribed('BTC_USDT'));
    live(t0 + 5_000, Date.now(), 4);

    await ingested(p, all.length);
    await expectCandles(p, 'BTC_USDT', all);
    expect(await counter(p, 'ticks_ingested_total')).toBe(all.length);
    expect(p.log.find(/^source disconnected: connection to Poloniex lost \(code 1001 "going away"\)/).length).toBe(1);
    expect(p.log.find(/^source disconnected: connection to Poloniex lost \(code 1006, no close frame\)/).length).toBeGreaterThanOrEqual(1);
    expect(p.log.find(/^source disconnected:/).length).toBeGreaterThanOrEqual(3);
    expect(p.log.find(/backfilled \d+ trade\(s\) of BTC_USDT from REST/).length).toBeGreaterThanOrEqual(3);
    await waitFor('connected again', async () => (await p.stats.readSourceStatus())?.state === 'connected');
    // Each reconnect subscribed again, with the very same request.
    const subs = standIn.received.filter((r) => r.text.includes('"subscribe"')).map((r) => r.text);
    expect(new Set(subs.slice(-4))).toEqual(new Set(['{"event":"subscribe","channel":["trades"],"symbols":["BTC_USDT"]}']));
  });

  it('counts trades seen twice (resent over the WebSocket, and in both REST and the WebSocket) once', async () => {
    const p = await start(['BTC_USDT']);
    const rand = prng(5);
    const now = Date.now();
    const all = standIn.execute('BTC_USDT', tradeSpecs(rand, 8, now - 4_000, now - 3_000, BTC));
    await ingested(p, all.length);
    // After the reconnect the exchange resends its last 5 trades: 2 heard
    // before the drop, 3 executed during it (which REST also lists).
    standIn.resendOnSubscribe = 5;
    standIn.drop({ closeFrame: false });
    all.push(...standIn.execute('BTC_USDT', tradeSpecs(rand, 3, now - 3_000, now - 2_000, BTC), { broadcast: false }));
    await waitFor('5 duplicates', async () => (await counter(p, 'ticks_duplicate_total')) >= 5);
    all.push(...standIn.execute('BTC_USDT', tradeSpecs(rand, 4, now - 2_000, now, BTC)));
    await ingested(p, all.length);
    await expectCandles(p, 'BTC_USDT', all);
    expect(await counter(p, 'ticks_ingested_total')).toBe(all.length);
    expect(await counter(p, 'ticks_duplicate_total')).toBe(5);
  });

  it('treats a missing pong as a dead connection, and the idle cut of a client that never pings as a drop', async () => {
    standIn.answerPings = false;
    const p = await start(['BTC_USDT']);
    await waitFor('a pong timeout', () => p.log.find(/no pong within 400 ms/).length > 0);
    await waitFor('a new connection', () => standIn.connections >= 2 && standIn.subscribed('BTC_USDT'));
    standIn.answerPings = true;

    // Pings off: the stand-in (idle limit 400 ms here) cuts the session, as Poloniex would at 30 s.
    const quiet = await PoloniexStandIn.start({ idleMs: 400 });
    try {
      const q = await startPipeline(liveSource(quiet, ['BTC_USDT'], { pingIntervalMs: 600_000 }));
      pipelines.push(q);
      await waitFor('an idle cut', () => q.log.find(/connection to Poloniex lost \(code 1006, no close frame\)/).length > 0);
      await waitFor('reconnected', () => quiet.connections >= 2 && quiet.subscribed('BTC_USDT'));
      await q.close();
    } finally {
      await quiet.close();
    }
  });

  it('retries REST errors, bad bodies and hangs with backoff, never crashing, until the gap is filled', async () => {
    const p = await start(['BTC_USDT']);
    const rand = prng(9);
    const now = Date.now();
    const all = standIn.execute('BTC_USDT', tradeSpecs(rand, 5, now - 4_000, now - 3_500, BTC));
    await ingested(p, all.length);
    standIn.failRest('http-500', 'html-503', 'hang', 'not-a-list', 'http-500');
    standIn.drop({ closeFrame: false });
    all.push(...standIn.execute('BTC_USDT', tradeSpecs(rand, 7, now - 3_500, now - 1_000, BTC), { broadcast: false }));
    await ingested(p, all.length);
    await expectCandles(p, 'BTC_USDT', all);
    const failures = p.log.find(/backfill of BTC_USDT from REST failed/).map((e) => String(e.err));
    expect(failures).toHaveLength(5);
    expect(failures[0]).toMatch(/HTTP 500: System error/);
    expect(failures[1]).toMatch(/HTTP 503, body is not JSON/);
    expect(failures[2]).toMatch(/no answer within 500 ms/);
    expect(failures[3]).toMatch(/the body is not a list/);
    expect(await counter(p, 'ticks_malformed_total')).toBe(1); // the body that is not a list, set aside
    expect((await p.stats.readSourceStatus())?.state).toBe('connected');
  });

  it('detects a gap longer than the 1000 trades Poloniex lists: counted, logged, reported, never hidden', async () => {
    const p = await start(['BTC_USDT']);
    const rand = prng(13);
    const now = Date.now();
    const before = standIn.execute('BTC_USDT', tradeSpecs(rand, 5, now - 5_000, now - 4_500, BTC));
    await ingested(p, before.length);
    await standIn.refuse(true);
    const missed = standIn.execute('BTC_USDT', tradeSpecs(rand, 1_500, now - 4_500, now - 1_000, BTC), { broadcast: false });
    await standIn.refuse(false);
    await waitFor('gap reported', async () => (await p.stats.readSourceStatus())?.gaps === 500);
    await ingested(p, before.length + 1_000);
    const listed = missed.slice(-1_000);
    expect(p.log.find(/500 trade\(s\) of BTC_USDT missed/)).toHaveLength(1);
    const gapLog = p.log.find(/trade\(s\) of BTC_USDT missed/)[0]!;
    expect(gapLog.detail).toBe(`trade ids ${missed[0]!.id} to ${missed[499]!.id} of BTC_USDT are older than the 1000 trades Poloniex lists (no paging): lost`);
    // What the exchange still lists is stored: the candles of the listed trades' buckets are theirs.
    const after = standIn.execute('BTC_USDT', tradeSpecs(rand, 3, now - 1_000, now, BTC));
    await ingested(p, before.length + 1_000 + after.length);
    const lastListedBucket = Math.floor(listed[0]!.createTime / 1000) * 1000 + 1000;
    const expected = candlesFromTicks(ticksOf([...listed, ...after]), 1000).filter((c) => c.time >= lastListedBucket);
    const got = await closedCandles(p, 'BTC_USDT', 1_000, expected[0]!.time, expected.at(-1)!.time);
    expect(got.map(view)).toEqual(expected.map(view));
    // Another drop with nothing missed reports nothing more.
    standIn.drop({ closeFrame: false });
    await waitFor('reconnected', () => standIn.subscribed('BTC_USDT'));
    await sleep(300);
    expect((await p.stats.readSourceStatus())?.gaps).toBe(500);
    await waitFor('the gap counted in the metric', async () => (await counter(p, 'trades_missed_total')) === 500);
  });

  it('backfills what was executed while the ingester was stopped, from what Redis holds', async () => {
    const first = await start(['BTC_USDT']);
    const rand = prng(17);
    const now = Date.now();
    const all = standIn.execute('BTC_USDT', tradeSpecs(rand, 6, now - 5_000, now - 4_000, BTC));
    await ingested(first, all.length);
    await first.ingester.close();
    all.push(...standIn.execute('BTC_USDT', tradeSpecs(rand, 6, now - 4_000, now - 2_000, BTC), { broadcast: false }));
    // A new ingester on the same prefix: its start-up backfill resumes after the last stored id.
    const second = await startPipeline(liveSource(standIn, ['BTC_USDT']), { prefix: first.prefix, worker: false });
    pipelines.unshift(second);
    await ingested(first, all.length);
    all.push(...standIn.execute('BTC_USDT', tradeSpecs(rand, 3, now - 2_000, now, BTC)));
    await ingested(first, all.length);
    await expectCandles(first, 'BTC_USDT', all);
    expect(await counter(first, 'ticks_duplicate_total')).toBe(0);
    expect(second.log.find(/backfilled 6 trade\(s\) of BTC_USDT from REST/)).toHaveLength(1);
  });
});
