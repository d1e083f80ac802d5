/**
 * The feed's screen as lines of text: pure (state and options in, strings
 * out), so what users see is tested without a terminal. Every line is cut
 * to the terminal's width before colour is added, so escape codes never
 * count toward the width and a cut never splits one.
 */
import { decimal, type Candle } from '@candlestack/shared';
import type { SourceInfo } from './messages.js';
import type { ConnectionStatus, PairView } from './state.js';

export interface ScreenView {
  /** The period's label, e.g. "1m". */
  readonly period: string;
  readonly count: number;
  /** The WebSocket URL, shown with the connection state. */
  readonly url: string;
  readonly status: ConnectionStatus;
  readonly source: SourceInfo | null;
  readonly problem: string | undefined;
  readonly pairs: readonly PairView[];
}

export interface ScreenOptions {
  /** Terminal columns and rows. */
  readonly width: number;
  readonly height: number;
  /** False with NO_COLOR: the markers alone tell up from down. */
  readonly color: boolean;
  /** Wall time, for the clock and the retry countdown. */
  readonly now: number;
}

type Style = 'bold' | 'dim' | 'up' | 'down' | 'warn' | 'bad' | 'good';
interface Segment {
  readonly text: string;
  readonly style?: Style | undefined;
}
type Line = readonly Segment[];

const SGR: Record<Style, readonly [string, string]> = {
  bold: ['\x1b[1m', '\x1b[22m'],
  dim: ['\x1b[2m', '\x1b[22m'],
  up: ['\x1b[32m', '\x1b[39m'],
  down: ['\x1b[31m', '\x1b[39m'],
  warn: ['\x1b[33m', '\x1b[39m'],
  bad: ['\x1b[31m', '\x1b[39m'],
  good: ['\x1b[32m', '\x1b[39m'],
};

export const MARKERS = { up: '▲', down: '▼', flat: '=', forming: '*' } as const;

/** Width in terminal columns (the feed only draws one-column characters). */
export const textWidth = (s: string): number => [...s].length;

/** Cuts `s` to `width` columns, marking the cut with "…". */
export function truncate(s: string, width: number): string {
  const chars = [...s];
  if (chars.length <= width) return s;
  return width <= 0 ? '' : `${chars.slice(0, width - 1).join('')}…`;
}

function fit(line: Line, width: number): Line {
  const out: Segment[] = [];
  let left = width;
  const total = line.reduce((n, s) => n + textWidth(s.text), 0);
  const cut = total > width;
  for (const seg of line) {
    const w = textWidth(seg.text);
    if (!cut || w < left) {
      out.push(seg);
      left -= w;
      continue;
    }
    // The segment that reaches the edge: the ellipsis takes the last column.
    if (left > 0) out.push({ text: `${[...seg.text].slice(0, left - 1).join('')}…`, style: seg.style });
    break;
  }
  return out;
}

const paint = (line: Line, color: boolean): string =>
  line.map((s) => (color && s.style && s.text ? `${SGR[s.style][0]}${s.text}${SGR[s.style][1]}` : s.text)).join('');

/** 1704067260000 -> "2024-01-01 00:01:00" (UTC). */
const tableTime = (t: number) => new Date(t).toISOString().slice(0, 19).replace('T', ' ');

/** 1704067260000 -> "2024-01-01T00:01:00Z". */
export const isoTime = (t: number) => `${new Date(t).toISOString().slice(0, 19)}Z`;

export type Direction = 'up' | 'down' | 'flat';

/** Up when it closed above its open (exact decimal comparison), down below, flat at it. */
export function direction(c: Candle): Direction {
  const d = decimal.compare(c.close, c.open);
  return d > 0 ? 'up' : d < 0 ? 'down' : 'flat';
}

/** Right-aligns a column of decimals on their decimal points. */
export function alignDecimals(values: readonly string[]): string[] {
  const parts = values.map((v) => {
    const [int = '', frac] = v.split('.');
    return { int, frac };
  });
  const intW = Math.max(0, ...parts.map((p) => p.int.length));
  const fracW = Math.max(0, ...parts.map((p) => p.frac?.length ?? 0));
  return parts.map(({ int, frac }) => {
    const tail = frac === undefined ? (fracW > 0 ? ' '.repeat(fracW + 1) : '') : `.${frac.padEnd(fracW)}`;
    return int.padStart(intW) + tail;
  });
}

const GAP = '  ';
const PRICE_COLUMNS = ['open', 'high', 'low', 'close'] as const;

/** One pair's table: a title line, a heading, one row per candle (oldest first). */
export function renderTable(pair: PairView): Line[] {
  const title: Line = [{ text: pair.pair, style: 'bold' }];
  if (pair.candles === undefined) return [title, [{ text: '   loading…', style: 'dim' }]];
  if (pair.candles.length === 0) return [title, [{ text: '   no candles yet', style: 'dim' }]];
  const candles = pair.candles;
  const columns = [
    ...PRICE_COLUMNS.map((name) => ({ name, cells: alignDecimals(candles.map((c) => c[name])) })),
    { name: 'volume', cells: alignDecimals(candles.map((c) => c.volume)) },
    { name: 'trades', cells: candles.map((c) => String(c.trades)) },
  ];
  const widths = columns.map((col) => Math.max(col.name.length, ...col.cells.map((s) => s.length)));
  const timeW = tableTime(0).length;
  const heading: Line = [
    {
      text: `   ${'time (UTC)'.padEnd(timeW)}${columns.map((col, i) => GAP + col.name.padStart(widths[i]!)).join('')}`,
      style: 'dim',
    },
  ];
  const rows = candles.map((c, r): Line => {
    const dir = direction(c);
    const style = dir === 'flat' ? undefined : dir;
    const cell = (i: number) => GAP + columns[i]!.cells[r]!.padStart(widths[i]!);
    return [
      { text: `${MARKERS[dir]}${c.closed ? ' ' : MARKERS.forming} `, style },
      { text: tableTime(c.time) },
      { text: [0, 1, 2, 3].map(cell).join(''), style },
      { text: cell(4) + cell(5) },
      { text: c.closed ? '' : `${GAP}forming`, style: 'bold' },
    ];
  });
  return [title, heading, ...rows];
}

/** Where the trades come from, in words, with the source's state when it is not healthy. */
export function sourceText(source: SourceInfo | null): string {
  if (!source) return 'source: unknown (no ingester has reported yet)';
  const state = source.state;
  const trouble = state && !['connected', 'replaying', 'done'].includes(state);
  return `source: ${source.label}${trouble ? ` (${state}${source.detail ? `: ${source.detail}` : ''})` : ''}`;
}

function sourceLine(source: SourceInfo | null): Line {
  // Anything but a live exchange stands out, so simulated prices are never taken for real ones.
  return [{ text: sourceText(source), style: source?.kind === 'live' ? undefined : 'warn' }];
}

/** The connection state in words, e.g. "reconnecting… attempt 2, next try in 4 s (connect ECONNREFUSED)". */
export function statusText(status: ConnectionStatus, url: string, now: number): string {
  switch (status.kind) {
    case 'connecting':
      return `◌ connecting to ${url}…`;
    case 'live':
      return `● live · ${url}`;
    case 'reconnecting': {
      const wait = Math.max(0, Math.ceil((status.retryAt - now) / 1000));
      return `○ reconnecting… attempt ${status.attempt}, next try in ${wait} s (${status.reason})`;
    }
  }
}

/** The whole screen, at most `height` lines of at most `width` columns. */
export function renderScreen(view: ScreenView, opts: ScreenOptions): string[] {
  const clock = new Date(opts.now).toISOString().slice(11, 19);
  const statusStyle: Style = view.status.kind === 'live' ? 'good' : view.status.kind === 'connecting' ? 'warn' : 'bad';
  const lines: Line[] = [
    [
      { text: 'Candlestack feed', style: 'bold' },
      { text: ` · ${view.period} candles, last ${view.count} per pair · ${clock} UTC` },
    ],
    sourceLine(view.source),
    [{ text: statusText(view.status, view.url, opts.now), style: statusStyle }],
  ];
  if (view.problem) lines.push([{ text: `server: ${view.problem}`, style: 'warn' }]);
  lines.push([
    {
      text: `${MARKERS.up} up  ${MARKERS.down} down  ${MARKERS.flat} flat  ${MARKERS.forming} forming · q or Ctrl-C quits`,
      style: 'dim',
    },
  ]);
  if (view.pairs.length === 0) lines.push([], [{ text: 'no pairs yet: waiting for the first trades', style: 'dim' }]);
  for (const pair of view.pairs) lines.push([], ...renderTable(pair));

  let shown = lines;
  if (lines.length > opts.height) {
    const hidden = lines.length - opts.height + 1;
    shown = [...lines.slice(0, opts.height - 1), [{ text: `… ${hidden} more lines: make the terminal taller`, style: 'dim' }]];
  }
  return shown.map((line) => paint(fit(line, opts.width), opts.color));
}

/** The output without a terminal: one line per candle update, no escape codes. */
export function plainLine(pair: string, period: string, c: Candle): string {
  return (
    `${pair} ${period} ${isoTime(c.time)} o=${c.open} h=${c.high} l=${c.low} c=${c.close} ` +
    `v=${c.volume} n=${c.trades} ${c.closed ? 'closed' : 'forming'}`
  );
}
