/**
 * Poloniex's wire formats, from the recordings in shared/data/poloniex/: the
 * messages of a real v3 session and real REST trade responses parse to the
 * right ticks (quantity is the base volume, amount the quote volume,
 * createTime the trade time).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { toTick } from '@candlestack/shared';
import { SHARED_DATA } from '../../../test/support/binance.js';
import { parseMarkets, parseRestTrades, parseWsMessage, subscribeRequest } from '../src/sources/poloniex-messages.js';

const session = readFileSync(new URL('poloniex/poloniex-v3-ws-2022-08-21.log', SHARED_DATA), 'utf8').split('\n');
/** The JSON of the recorded line `n` (1-based), without its `<time>: ` or `<url> <- <time>: ` prefix. */
const payload = (n: number) => session[n - 1]!.replace(/^(\S+ <- )?\d+(\.\d+)?: /, '');

describe('Poloniex v3 WebSocket messages (recorded 2022-08-21)', () => {
  it('the subscribe request is the one the recorded client sent', () => {
    const sent = JSON.parse(payload(2)) as { symbols: string[] };
    expect(subscribeRequest(sent.symbols)).toBe(payload(2));
  });

  it('reads the recorded ack', () => {
    expect(parseWsMessage(payload(4))).toEqual({
      kind: 'subscribed',
      channel: 'trades',
      symbols: ['BCH_USDT', 'EFI_USDT', 'USDJ_USDT', 'DYP_USDT', 'SOL_USDT', 'MDT_BTC', 'GRT_USDT', 'GF_USDT', 'BCH_BTC', 'ZEC_USDT', 'BTC_USDT'],
    });
  });

  it('parses the six recorded trades messages to exact ticks', () => {
    const ticks = session
      .map((line) => line.replace(/^\d+(\.\d+)?: /, ''))
      .filter((json) => json.startsWith('{"channel":"trades"'))
      .flatMap((json) => {
        const m = parseWsMessage(json);
        if (m.kind !== 'trades') throw new Error(`not trades: ${json}`);
        expect(m.rejected).toEqual([]);
        return m.trades.map(toTick);
      });
    expect(ticks).toEqual([
      { pair: 'BTC_USDT', time: 1661123520381, price: '21614.59', quantity: '0.01149', amount: '248.3516391', side: 'sell', id: '60184114' },
      { pair: 'BCH_USDT', time: 1661123528797, price: '120.17', quantity: '0.270684', amount: '32.52809628', side: 'sell', id: '60040539' },
      { pair: 'BTC_USDT', time: 1661123528888, price: '21615.95', quantity: '0.006021', amount: '130.14963495', side: 'buy', id: '60184115' },
      { pair: 'USDJ_USDT', time: 1661123533608, price: '0.9997', quantity: '8.1987', amount: '8.19624039', side: 'sell', id: '60013780' },
      { pair: 'BTC_USDT', time: 1661123533894, price: '21614.46', quantity: '0.000328', amount: '7.08954288', side: 'buy', id: '60184116' },
      { pair: 'BTC_USDT', time: 1661123542635, price: '21602.42', quantity: '0.002305', amount: '49.7935781', side: 'buy', id: '60184117' },
    ]);
  });

  it('sets book messages, pongs and errors apart from trades', () => {
    expect(parseWsMessage(payload(5))).toMatchObject({ kind: 'subscribed', channel: 'book_lv2' }); // the source sets aside acks of other channels
    expect(parseWsMessage(payload(6))).toEqual({ kind: 'unexpected', reason: 'channel "book_lv2" not subscribed' });
    expect(parseWsMessage('{"event":"pong"}')).toEqual({ kind: 'pong' });
    expect(parseWsMessage('{"event":"error","message":"Subscription failed (generic)"}')).toEqual({ kind: 'error', message: 'Subscription failed (generic)' });
  });
});

describe('Poloniex v3 REST responses (recorded)', () => {
  const recorded = JSON.parse(readFileSync(new URL('poloniex/rest-v3-btc_usdt.json', SHARED_DATA), 'utf8')) as Record<
    string,
    { GET: { queryString: string; data: unknown }[] }
  >;
  const responses = recorded['/markets/BTC_USDT/trades']!.GET;

  it('GET /markets/{symbol}/trades: newest first, upper-case takerSide, read oldest first', () => {
    const body = responses.find((r) => r.queryString === 'limit=1000')!.data;
    const { trades, rejected } = parseRestTrades('BTC_USDT', body);
    expect(rejected).toEqual([]);
    const ticks = trades.map(toTick);
    expect(ticks).toHaveLength(5);
    expect(ticks.at(-1)).toEqual({ pair: 'BTC_USDT', time: 1743970367435, price: '79525.15', quantity: '0.000203', amount: '16.14360545', side: 'buy', id: '128015795' });
    expect(ticks[ticks.length - 2]).toMatchObject({ id: '128015794', side: 'sell', quantity: '0.00004', amount: '3.1860672' });
    // Oldest first, ids consecutive.
    expect(ticks.map((t) => Number(t.id))).toEqual([128015791, 128015792, 128015793, 128015794, 128015795]);
  });

  it('every recorded trade response parses, each trade valid', () => {
    for (const r of responses) {
      const { trades, rejected } = parseRestTrades('BTC_USDT', r.data);
      expect(rejected).toEqual([]);
      for (const t of trades) expect(() => toTick(t)).not.toThrow();
    }
  });

  it('GET /markets: tradable when the state says NORMAL', () => {
    expect(parseMarkets([{ symbol: 'BTC_USDT', state: 'NORMAL' }, { symbol: 'OLD_USDT', state: 'PAUSE' }, { symbol: 'NEW_USDT' }])).toEqual([
      { symbol: 'BTC_USDT', tradable: true, state: 'NORMAL' },
      { symbol: 'OLD_USDT', tradable: false, state: 'PAUSE' },
      { symbol: 'NEW_USDT', tradable: true },
    ]);
  });
});
