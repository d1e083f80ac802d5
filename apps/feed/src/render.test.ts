import { describe, expect, it } from 'vitest';
import type { Candle } from '@candlestack/shared';
import { alignDecimals, direction, plainLine, renderScreen, statusText, truncate, type ScreenView } from './render.js';

const T0 = Date.parse('2024-01-01T00:01:00Z');
const NOW = Date.parse('2024-01-01T00:03:27Z');

function candle(minute: number, open: string, close: string, extra: Partial<Candle> = {}): Candle {
  return {
    time: T0 + minute * 60_000,
    open,
    high: open > close ? open : close,
    low: open > close ? close : open,
    close,
    volume: '1.5',
    quoteVolume: '100',
    trades: 42,
    closed: true,
    ...extra,
  };
}

const BTC = [
  candle(0, '37012.5', '37020', { high: '37025.25', volume: '1.532', trades: 42 }),
  candle(1, '37020', '37001.1', { volume: '12.5', trades: 130 }),
  candle(2, '37001.1', '37001.1', { volume: '0', trades: 0 }),
  candle(3, '37001.1', '37010', { volume: '0.25', trades: 7, closed: false }),
];

const view = (over: Partial<ScreenView> = {}): ScreenView => ({
  period: '1m',
  count: 4,
  url: 'ws://127.0.0.1:3000/ws',
  status: { kind: 'live' },
  source: { name: 'simulated', kind: 'simulated', label: 'Simulated market: random prices, not real trades', state: 'connected' },
  problem: undefined,
  pairs: [
    { pair: 'BTC_USDT', candles: BTC },
    { pair: 'ETH_USDT', candles: undefined },
  ],
  ...over,
});

const plain = { width: 120, height: 40, color: false, now: NOW };
const ANSI = /\x1b\[[0-9;]*m/g;

describe('renderScreen', () => {
  it('draws the source, the connection and a table per pair', () => {
    expect(renderScreen(view(), plain)).toEqual([
      'Candlestack feed · 1m candles, last 4 per pair · 00:03:27 UTC',
      'source: Simulated market: random prices, not real trades',
      '● live · ws://127.0.0.1:3000/ws',
      '▲ up  ▼ down  = flat  * forming · q or Ctrl-C quits',
      '',
      'BTC_USDT',
      '   time (UTC)              open      high      low    close  volume  trades',
      '▲  2024-01-01 00:01:00  37012.5  37025.25  37012.5  37020     1.532      42',
      '▼  2024-01-01 00:02:00  37020    37020     37001.1  37001.1  12.5       130',
      '=  2024-01-01 00:03:00  37001.1  37001.1   37001.1  37001.1   0           0',
      '▲* 2024-01-01 00:04:00  37001.1  37010     37001.1  37010     0.25        7  forming',
      '',
      'ETH_USDT',
      '   loading…',
    ]);
  });

  it('tells up from down by colour as well as by marker', () => {
    const lines = renderScreen(view(), { ...plain, color: true });
    const row = (time: string) => lines.find((l) => l.includes(time))!;
    expect(row('00:01:00')).toMatch(/^\x1b\[32m▲ {2}\x1b\[39m2024/);
    expect(row('00:01:00')).toContain('\x1b[32m  37012.5 ');
    expect(row('00:02:00')).toMatch(/^\x1b\[31m▼ {2}\x1b\[39m/);
    // Flat: no colour to read, the marker says it.
    expect(row('00:03:00')).toMatch(/^= {2}2024/);
    expect(row('00:04:00')).toMatch(/^\x1b\[32m▲\* \x1b\[39m.*\x1b\[1m {2}forming\x1b\[22m$/);
    // Without the codes, the same text as without colour.
    expect(lines.map((l) => l.replace(ANSI, ''))).toEqual(renderScreen(view(), plain));
  });

  it('writes no escape code at all without colour (NO_COLOR)', () => {
    expect(renderScreen(view(), plain).join('\n')).not.toContain('\x1b');
  });

  it('marks only the candles that are still forming', () => {
    const rows = renderScreen(view(), plain).filter((l) => l.includes('2024-01-01 '));
    expect(rows.map((l) => l.slice(0, 2))).toEqual(['▲ ', '▼ ', '= ', '▲*']);
    expect(rows.map((l) => l.endsWith('forming'))).toEqual([false, false, false, true]);
  });

  it('cuts every line to the terminal width, with an ellipsis', () => {
    for (const width of [20, 45, 60]) {
      const lines = renderScreen(view(), { ...plain, width, color: true });
      for (const line of lines) expect([...line.replace(ANSI, '')].length).toBeLessThanOrEqual(width);
      expect(lines[7]!.replace(ANSI, '')).toMatch(/…$/);
      expect([...lines[7]!.replace(ANSI, '')].length).toBe(width);
      // Colour codes are never cut in half, and every colour is turned off again.
      for (const line of lines) expect(line.replace(ANSI, '')).not.toContain('\x1b');
      for (const line of lines) expect(line.match(/\x1b\[3[123]m/g)?.length ?? 0).toBe(line.match(/\x1b\[39m/g)?.length ?? 0);
    }
  });

  it('fits the terminal height, saying how much is hidden', () => {
    const lines = renderScreen(view(), { ...plain, height: 8 });
    expect(lines).toHaveLength(8);
    expect(lines[7]).toBe('… 7 more lines: make the terminal taller');
  });

  it('shows a reconnect in progress, and what the server objected to', () => {
    const lines = renderScreen(
      view({ status: { kind: 'reconnecting', attempt: 2, retryAt: NOW + 3_500, reason: 'connect ECONNREFUSED' }, problem: 'unknown pair X' }),
      plain,
    );
    expect(lines[2]).toBe('○ reconnecting… attempt 2, next try in 4 s (connect ECONNREFUSED)');
    expect(lines[3]).toBe('server: unknown pair X');
  });

  it('names the source, and says so when it is unknown or in trouble', () => {
    expect(renderScreen(view({ source: null }), plain)[1]).toBe('source: unknown (no ingester has reported yet)');
    const down = { name: 'poloniex', kind: 'live', label: 'Poloniex: live trades from the exchange', state: 'disconnected', detail: 'socket closed' };
    expect(renderScreen(view({ source: down }), plain)[1]).toBe('source: Poloniex: live trades from the exchange (disconnected: socket closed)');
    // A simulated market is in the warning colour; a live exchange is not.
    expect(renderScreen(view(), { ...plain, color: true })[1]).toMatch(/^\x1b\[33msource: Simulated/);
    expect(renderScreen(view({ source: { ...down, state: 'connected' } }), { ...plain, color: true })[1]).not.toContain('\x1b');
  });

  it('says when a pair has no candles, or there are no pairs yet', () => {
    expect(renderScreen(view({ pairs: [{ pair: 'AAA_USDT', candles: [] }] }), plain).slice(-1)).toEqual(['   no candles yet']);
    expect(renderScreen(view({ pairs: [] }), plain).slice(-1)).toEqual(['no pairs yet: waiting for the first trades']);
  });
});

describe('helpers', () => {
  it('compares prices exactly to find the direction', () => {
    expect(direction(candle(0, '1.10', '1.1'))).toBe('flat');
    expect(direction(candle(0, '0.30000000000000001', '0.3'))).toBe('down');
    expect(direction(candle(0, '9', '10'))).toBe('up');
  });

  it('aligns decimals on the point', () => {
    expect(alignDecimals(['37012.5', '37020', '1.25', '0'])).toEqual(['37012.5 ', '37020   ', '    1.25', '    0   ']);
    expect(alignDecimals(['7', '130'])).toEqual(['  7', '130']);
  });

  it('truncates by characters, not bytes', () => {
    expect(truncate('▲▼=abc', 4)).toBe('▲▼=…');
    expect(truncate('abc', 3)).toBe('abc');
    expect(truncate('abc', 0)).toBe('');
  });

  it('counts down to the next reconnect attempt', () => {
    const s = { kind: 'reconnecting', attempt: 1, retryAt: NOW + 900, reason: 'x' } as const;
    expect(statusText(s, 'ws://h/ws', NOW)).toBe('○ reconnecting… attempt 1, next try in 1 s (x)');
    expect(statusText({ kind: 'connecting' }, 'ws://h/ws', NOW)).toBe('◌ connecting to ws://h/ws…');
  });
});

describe('plainLine', () => {
  it('is one line per update, the same fields in words', () => {
    expect(plainLine('BTC_USDT', '1m', BTC[0]!)).toBe(
      'BTC_USDT 1m 2024-01-01T00:01:00Z o=37012.5 h=37025.25 l=37012.5 c=37020 v=1.532 n=42 closed',
    );
    expect(plainLine('BTC_USDT', '1m', BTC[3]!)).toBe(
      'BTC_USDT 1m 2024-01-01T00:04:00Z o=37001.1 h=37010 l=37001.1 c=37010 v=0.25 n=7 forming',
    );
  });
});
