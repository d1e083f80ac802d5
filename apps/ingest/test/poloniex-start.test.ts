/**
 * Live source against the stand-in: start-up (pair checks, PAIRS=all,
 * offline), the exchange's error events, and malformed frames.
 */
import { createServer } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { candlesFromTicks } from '@candlestack/shared';
import { closedCandles, counter, startPipeline, ticksOf, view, waitFor, type Pipeline } from './support/harness.js';
import { liveSource } from './support/live.js';
import { PoloniexStandIn } from './support/poloniex-stand-in.js';

let standIn: PoloniexStandIn;
const pipelines: Pipeline[] = [];

beforeAll(async () => {
  standIn = await PoloniexStandIn.start();
});
afterEach(async () => {
  for (const p of pipelines.splice(0)) await p.close();
  standIn.marketsDown = false;
  standIn.answerSubscribes = true;
});
afterAll(async () => {
  await standIn.close();
});

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('Poloniex live source: start-up', () => {
  it('refuses to start with a pair GET /markets does not list, naming it', async () => {
    const start = startPipeline(liveSource(standIn, ['BTC_USDT', 'NOPE_USDT']), { worker: false });
    await expect(start).rejects.toThrow(/unknown pair\(s\) in PAIRS: NOPE_USDT: Poloniex does not list it \(GET http:\/\/127\.0\.0\.1:\d+\/markets lists 4 symbols, e\.g\. BTC_USDT/);
  });

  it('without GET /markets, makes the refused subscription a start-up error and logs the error with its request', async () => {
    standIn.marketsDown = true;
    const source = liveSource(standIn, ['BTC_USDT', 'NOPE_USDT']);
    const p = await startPipeline(source, { worker: false, start: false });
    pipelines.push(p);
    await expect(p.ingester.start()).rejects.toThrow(
      'Poloniex refused to subscribe to trades of BTC_USDT, NOPE_USDT: "Subscription failed (generic)". Is every pair in PAIRS listed on Poloniex?',
    );
    const [logged] = p.log.find(/with an error: Subscription failed/);
    expect(logged).toMatchObject({
      level: 'error',
      component: 'poloniex',
      request: '{"event":"subscribe","channel":["trades"],"symbols":["BTC_USDT","NOPE_USDT"]}',
      error: 'Subscription failed (generic)',
    });
    expect(p.log.find(/cannot check PAIRS against GET \/markets/)[0]?.err).toMatch(/HTTP 500: System error/);
    await waitFor('the connection closed', () => standIn.connected === 0);
  });

  it('logs an error event with the request that caused it, and keeps going', async () => {
    const p = await startPipeline(liveSource(standIn, ['BTC_USDT'], { pingIntervalMs: 100 }), { worker: false });
    pipelines.push(p);
    await waitFor('a ping or two', () => standIn.received.filter((r) => r.text === '{"event":"ping"}').length >= 2);
    // An error in answer to the oldest unanswered request: here a ping the exchange did not like.
    const pings = () => standIn.received.filter((r) => r.text === '{"event":"ping"}').length;
    standIn.answerPings = false;
    const answered = pings();
    await waitFor('a ping left unanswered', () => pings() > answered);
    standIn.sendRaw('{"event":"error","message":"Bad request (generic)"}');
    standIn.answerPings = true;
    const logged = await waitFor('the error logged', () => p.log.find(/with an error: Bad request/)[0]);
    expect(logged).toMatchObject({ level: 'error', request: '{"event":"ping"}', error: 'Bad request (generic)' });
    expect((await p.stats.readSourceStatus())?.state).toBe('connected');
  });

  it('PAIRS=all follows every symbol GET /markets lists as NORMAL, in one subscribe request', async () => {
    const p = await startPipeline(liveSource(standIn, 'all'), { worker: false });
    pipelines.push(p);
    expect(p.ingester.pairs).toEqual(['BTC_USDT', 'ETH_USDT', 'SOL_USDT']); // OLD_USDT is paused
    expect(standIn.received.map((r) => r.text)).toContain('{"event":"subscribe","channel":["trades"],"symbols":["BTC_USDT","ETH_USDT","SOL_USDT"]}');
    expect(standIn.restRequests).toContain('/markets');
  });

  it('when Poloniex cannot be reached, starts anyway and says so: disconnected, with SOURCE=simulated as the offline way', async () => {
    const port = await closedPort();
    const p = await startPipeline(liveSource(standIn, ['BTC_USDT'], { wsUrl: `ws://127.0.0.1:${port}/ws/public`, restUrl: `http://127.0.0.1:${port}` }), { worker: false });
    pipelines.push(p);
    const status = await waitFor('status in Redis', async () => {
      const s = await p.stats.readSourceStatus();
      return s?.state === 'disconnected' ? s : undefined;
    });
    expect(status.detail).toMatch(new RegExp(`^cannot reach Poloniex at ws://127.0.0.1:${port}/ws/public \\(connect ECONNREFUSED .*\\); retrying in .*SOURCE=simulated gives an offline market\\.$`));
    expect(p.log.find(/^source disconnected: cannot reach Poloniex.*SOURCE=simulated/)[0]?.level).toBe('warn');
    // It keeps trying, backing off.
    await waitFor('retries', () => p.log.find(/cannot reach Poloniex/, 'msg').filter((e) => e.level === 'debug').length >= 3);
  });

  it('reconnects when the subscription is never acknowledged', async () => {
    standIn.answerSubscribes = false;
    const p = await startPipeline(liveSource(standIn, ['BTC_USDT'], { startTimeoutMs: 200 }), { worker: false });
    pipelines.push(p);
    await waitFor('an ack timeout', () => p.log.find(/no subscription ack within 1000 ms/).length > 0);
    standIn.answerSubscribes = true;
    await waitFor('connected', async () => (await p.stats.readSourceStatus())?.state === 'connected');
  });
});

describe('Poloniex live source: malformed input', () => {
  it('counts, logs once and sets aside malformed or unexpected frames, without dropping the connection or corrupting a candle', async () => {
    const p = await startPipeline(liveSource(standIn, ['BTC_USDT', 'ETH_USDT']));
    pipelines.push(p);
    await waitFor('subscribed', () => standIn.subscribed('BTC_USDT'));
    const connections = standIn.connections;
    const now = Date.now();
    const good = standIn.execute('BTC_USDT', [
      { price: '37000.5', quantity: '0.1', createTime: now - 3_000 },
      { price: '37001', quantity: '0.2', createTime: now - 2_500 },
    ]);
    const [mixed] = standIn.execute('BTC_USDT', [{ price: '36999', quantity: '0.3', side: 'sell', createTime: now - 2_000 }], { broadcast: false });
    const bad = [
      'garbage{',
      '[1,2,3]',
      '{"event":"weird"}',
      '{"channel":"book_lv2","data":[]}',
      '{"channel":"trades","data":"nope"}',
      // A trade with a bad quantity and a wild id: set aside, and its id must not move the backfill's anchor.
      JSON.stringify({ channel: 'trades', data: [{ symbol: 'BTC_USDT', amount: '1', quantity: 'abc', takerSide: 'buy', createTime: now, price: '1', id: '99999999999', ts: now }] }),
      // A symbol never subscribed.
      JSON.stringify({ channel: 'trades', data: [{ symbol: 'SOL_USDT', amount: '60', quantity: '1', takerSide: 'buy', createTime: now, price: '60', id: '1', ts: now }] }),
      // Seconds, not ms.
      JSON.stringify({ channel: 'trades', data: [{ ...mixed!, createTime: 1661123520, id: '1' }] }),
      // One bad element next to a good trade: the good one is kept.
      JSON.stringify({ channel: 'trades', data: [42, mixed] }),
    ];
    for (const frame of bad) standIn.sendRaw(frame);
    const later = standIn.execute('BTC_USDT', [{ price: '37002', quantity: '0.4', createTime: now - 1_500 }]);
    const all = [...good, mixed!, ...later];
    await waitFor('all good trades', async () => (await counter(p, 'ticks_ingested_total')) >= all.length);
    await waitFor('all bad input counted', async () => (await counter(p, 'ticks_malformed_total')) >= 9);
    expect(await counter(p, 'ticks_malformed_total')).toBe(9);
    expect(await p.redis.xlen(p.keys.deadLetter())).toBe(9);
    const reasons = (await p.redis.xrange(p.keys.deadLetter(), '-', '+')).map(([, f]) => f[f.indexOf('reason') + 1]);
    expect(reasons).toEqual([
      'Poloniex frame: frame is not JSON',
      'Poloniex frame: frame is not a JSON object',
      'Poloniex frame: event "weird" not expected',
      'Poloniex frame: channel "book_lv2" not subscribed',
      'Poloniex frame: trades message without a data list',
      'quantity: not a decimal: "abc"',
      'Poloniex trade of SOL_USDT, a pair not subscribed',
      'time 1661123520 is not a time in ms between 2000 and 2100',
      'Poloniex trade: trade is not a JSON object',
    ]);
    expect(standIn.connections).toBe(connections);
    expect((await p.stats.readSourceStatus())?.state).toBe('connected');
    // Logged once per kind of problem, with a sample.
    const warned = p.log.find(/input set aside/);
    expect(warned.length).toBeLessThanOrEqual(9);
    expect(warned[0]).toMatchObject({ reason: 'Poloniex frame: frame is not JSON', sample: 'garbage{' });

    const ticks = ticksOf(all);
    const expected = candlesFromTicks(ticks, 1_000);
    const got = await closedCandles(p, 'BTC_USDT', 1_000, expected[0]!.time, expected.at(-1)!.time);
    expect(got.map(view)).toEqual(expected.map(view));

    // The wild id did not move the anchor: a drop is still filled from the real last id.
    standIn.drop({ closeFrame: false });
    const during = standIn.execute('BTC_USDT', [{ price: '37003', quantity: '0.5', createTime: now - 1_000 }], { broadcast: false });
    await waitFor('the drop filled', async () => (await counter(p, 'ticks_ingested_total')) >= all.length + during.length);
  });
});
