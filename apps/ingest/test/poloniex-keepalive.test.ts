/**
 * The one test on the real clock past Poloniex's 30 s idle limit: with its
 * default timing the source's pings keep the session alive, while a client
 * that stays silent beside it is cut by the stand-in at 30 s, as the
 * exchange does.
 */
import { WebSocket } from 'ws';
import { afterAll, describe, expect, it } from 'vitest';
import { counter, sleep, startPipeline, waitFor, type Pipeline } from './support/harness.js';
import { PoloniexStandIn } from './support/poloniex-stand-in.js';
import { PoloniexSource } from '../src/sources/poloniex.js';

let standIn: PoloniexStandIn | undefined;
let pipeline: Pipeline | undefined;

afterAll(async () => {
  await pipeline?.close();
  await standIn?.close();
});

describe('Poloniex keep-alive', () => {
  it('stays connected for 35 s with the default ping interval, while a silent client is cut at 30 s', { timeout: 70_000 }, async () => {
    standIn = await PoloniexStandIn.start(); // the exchange's 30 s idle limit
    pipeline = await startPipeline(new PoloniexSource({ wsUrl: standIn.wsUrl, restUrl: standIn.restUrl, pairs: ['BTC_USDT'] }), { worker: false });
    await waitFor('subscribed', () => standIn!.subscribed('BTC_USDT'));

    const silent = new WebSocket(standIn.wsUrl);
    const silentOpened = Date.now();
    const silentClosed = new Promise<number>((r) => silent.on('close', () => r(Date.now())));
    silent.on('open', () => silent.send('{"event":"subscribe","channel":["trades"],"symbols":["ETH_USDT"]}'));

    await sleep(35_000);
    const cutAfter = (await silentClosed) - silentOpened;
    expect(cutAfter).toBeGreaterThanOrEqual(30_000);
    expect(cutAfter).toBeLessThan(33_000);

    // Still the first connection of the source (the silent one was the second).
    expect(standIn.connections).toBe(2);
    expect(standIn.connected).toBe(1);
    const pings = standIn.received.filter((r) => r.text === '{"event":"ping"}').map((r) => r.at);
    expect(pings.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < pings.length; i++) expect(pings[i]! - pings[i - 1]!).toBeLessThan(20_000);
    expect(pipeline.log.find(/no pong|connection to Poloniex lost/)).toEqual([]);

    // And it still delivers.
    standIn.execute('BTC_USDT', [{ price: '37000', quantity: '0.01' }]);
    await waitFor('the trade ingested', async () => (await counter(pipeline!, 'ticks_ingested_total')) === 1);
    expect((await pipeline.stats.readSourceStatus())?.state).toBe('connected');
  });
});
