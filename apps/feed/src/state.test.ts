import { describe, expect, it } from 'vitest';
import type { Candle } from '@candlestack/shared';
import { FeedState, supersedes } from './state.js';

const c = (time: number, trades: number, closed = false, close = String(100 + trades)): Candle => ({
  time,
  open: '100',
  high: close,
  low: '100',
  close,
  volume: String(trades),
  quoteVolume: '0',
  trades,
  closed,
});

const times = (s: FeedState, pair = 'AAA_USDT') => s.view().find((p) => p.pair === pair)?.candles?.map((x) => [x.time, x.trades, x.closed]);

function loaded(count = 3): FeedState {
  const s = new FeedState(count);
  s.addPairs(['AAA_USDT']);
  s.history('AAA_USDT', [c(1, 5, true), c(2, 6, true), c(3, 1)]);
  return s;
}

describe('supersedes', () => {
  it('takes more trades, and a close, as newer; never reopens a closed candle', () => {
    expect(supersedes(c(1, 2), c(1, 3))).toBe(true);
    expect(supersedes(c(1, 3), c(1, 2))).toBe(false);
    expect(supersedes(c(1, 3), c(1, 3, true))).toBe(true);
    expect(supersedes(c(1, 3, true), c(1, 3))).toBe(false);
    // A revision of a closed candle (a late trade) is closed again, with more trades.
    expect(supersedes(c(1, 3, true), c(1, 4, true))).toBe(true);
    // A flat candle revised by a late trade before it keeps 0 trades but changes price.
    expect(supersedes(c(1, 0, true, '100'), c(1, 0, true, '101'))).toBe(true);
  });
});

describe('FeedState', () => {
  it('is loading until the history is in, then shows it oldest first', () => {
    const s = new FeedState(3);
    s.addPairs(['AAA_USDT']);
    expect(s.view()).toEqual([{ pair: 'AAA_USDT', candles: undefined }]);
    expect(s.history('AAA_USDT', [c(1, 5, true), c(2, 1)]).map((x) => x.time)).toEqual([1, 2]);
    expect(times(s)).toEqual([
      [1, 5, true],
      [2, 1, false],
    ]);
  });

  it('reports a push that changes a candle, and nothing for a repeat or a stale one', () => {
    const s = loaded();
    expect(s.candle('AAA_USDT', c(3, 2))).toEqual([c(3, 2)]);
    expect(s.candle('AAA_USDT', c(3, 2))).toEqual([]);
    expect(s.candle('AAA_USDT', c(3, 1))).toEqual([]);
    expect(s.candle('AAA_USDT', c(3, 4, true))).toEqual([c(3, 4, true)]);
    // The forming state that raced the close arrives late: the close stands.
    expect(s.candle('AAA_USDT', c(3, 4))).toEqual([]);
    expect(times(s)?.at(-1)).toEqual([3, 4, true]);
  });

  it('keeps the newest `count` candles: a new bucket pushes the oldest out', () => {
    const s = loaded();
    s.candle('AAA_USDT', c(4, 1));
    expect(times(s)?.map(([t]) => t)).toEqual([2, 3, 4]);
    // A revision of a candle already off the table is not brought back.
    expect(s.candle('AAA_USDT', c(1, 9, true))).toEqual([]);
    expect(times(s)?.map(([t]) => t)).toEqual([2, 3, 4]);
  });

  it('shows pushes during a reconnect at once, and reports them with the new history, in time order', () => {
    const s = loaded();
    s.beginSession();
    // The server sends the forming candle before the history's HTTP answer is back.
    expect(s.candle('AAA_USDT', c(4, 3))).toEqual([]);
    expect(times(s)?.at(-1)).toEqual([4, 3, false]);
    // That history was read a moment earlier than the push: the push still wins.
    const reported = s.history('AAA_USDT', [c(2, 6, true), c(3, 2, true), c(4, 1)]);
    expect(reported.map((x) => [x.time, x.trades, x.closed])).toEqual([
      [3, 2, true],
      [4, 3, false],
    ]);
    expect(times(s)).toEqual([
      [2, 6, true],
      [3, 2, true],
      [4, 3, false],
    ]);
  });

  it('takes a reconnect history as the truth, even when it has fewer trades (the API restarted on other data)', () => {
    const s = loaded();
    s.beginSession();
    s.history('AAA_USDT', [c(7, 1, true), c(8, 0)]);
    expect(times(s)).toEqual([
      [7, 1, true],
      [8, 0, false],
    ]);
  });

  it('ignores pairs it does not follow, and adds new ones', () => {
    const s = loaded();
    expect(s.candle('ZZZ_USDT', c(1, 1))).toEqual([]);
    s.addPairs(['AAA_USDT', 'BBB_USDT']);
    expect(s.view().map((p) => [p.pair, p.candles?.length])).toEqual([
      ['AAA_USDT', 3],
      ['BBB_USDT', undefined],
    ]);
  });

  it('clears a server problem once the connection is live again', () => {
    const s = loaded();
    s.setProblem('unknown pair X');
    s.setStatus({ kind: 'reconnecting', attempt: 1, retryAt: 0, reason: 'x' });
    expect(s.problem).toBe('unknown pair X');
    s.setStatus({ kind: 'live' });
    expect(s.problem).toBeUndefined();
  });
});
