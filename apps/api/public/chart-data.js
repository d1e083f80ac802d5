// @ts-check
/**
 * Candles as the API sends them (decimal strings, ms times) and as the chart
 * draws them (numbers, seconds). Pure functions, no DOM: the exact strings
 * stay the source of truth (the legend shows them); numbers exist only for
 * drawing.
 */

/**
 * @typedef {object} Candle A candle of the API (docs/api.md).
 * @property {number} time bucket start, ms since the epoch (UTC)
 * @property {string} open
 * @property {string} high
 * @property {string} low
 * @property {string} close
 * @property {string} volume base currency
 * @property {string} quoteVolume quote currency
 * @property {number} trades
 * @property {'exchange' | 'mixed'} [origin] the exchange's own candle (imported history), or a roll-up of both; absent: built from trades
 * @property {boolean} closed false while the bucket is still forming
 */

/**
 * @typedef {object} PairHistory A pair's imported history, as GET /pairs tells it (docs/api.md).
 * @property {number} from start (ms) of the imported history
 * @property {number | null} liveFrom start (ms) of the first bucket of `period` built from trades; null while importing
 * @property {string} period the imported candles' period
 * @property {'exact' | 'incomplete' | 'pending'} boundary the bucket at liveFrom
 * @property {boolean} importing
 */

/** @typedef {import('./vendor/lightweight-charts.js').CandlestickData<import('./vendor/lightweight-charts.js').UTCTimestamp>} CandleBar */
/** @typedef {import('./vendor/lightweight-charts.js').HistogramData<import('./vendor/lightweight-charts.js').UTCTimestamp>} VolumeBar */

export const UP_COLOR = '#26a69a';
export const DOWN_COLOR = '#ef5350';
const UP_VOLUME = 'rgba(38, 166, 154, 0.45)';
const DOWN_VOLUME = 'rgba(239, 83, 80, 0.45)';
/** The exchange's own candles (imported history): the same hues, muted, so live data stands out. */
export const IMPORTED_UP_COLOR = 'rgba(38, 166, 154, 0.45)';
export const IMPORTED_DOWN_COLOR = 'rgba(239, 83, 80, 0.45)';
const IMPORTED_UP_VOLUME = 'rgba(38, 166, 154, 0.2)';
const IMPORTED_DOWN_VOLUME = 'rgba(239, 83, 80, 0.2)';
/** The marker where live data begins. */
export const LIVE_MARKER_COLOR = '#d7dee6';
export const INCOMPLETE_MARKER_COLOR = '#ffd866';

/** Past this, a double no longer holds the digits anyway. */
const MAX_PRECISION = 12;

/**
 * The chart's time: whole seconds (lightweight-charts' UTCTimestamp).
 * @param {number} ms
 */
export const toChartTime = (ms) => /** @type {import('./vendor/lightweight-charts.js').UTCTimestamp} */ (Math.floor(ms / 1000));

/** @param {Candle} c */
export const isUp = (c) => Number(c.close) >= Number(c.open);

/** An imported candle (the exchange's own), drawn muted; a mixed one holds live data and is drawn as live. @param {Candle} c */
export const isImported = (c) => c.origin === 'exchange';

/** @param {Candle} c @returns {CandleBar} */
export function toBar(c) {
  const bar = { time: toChartTime(c.time), open: Number(c.open), high: Number(c.high), low: Number(c.low), close: Number(c.close) };
  if (!isImported(c)) return bar;
  const color = isUp(c) ? IMPORTED_UP_COLOR : IMPORTED_DOWN_COLOR;
  return { ...bar, color, wickColor: color, borderColor: color };
}

/** @param {Candle} c @returns {VolumeBar} */
export function toVolumeBar(c) {
  const color = isImported(c) ? (isUp(c) ? IMPORTED_UP_VOLUME : IMPORTED_DOWN_VOLUME) : isUp(c) ? UP_VOLUME : DOWN_VOLUME;
  return { time: toChartTime(c.time), value: Number(c.volume), color };
}

/** The legend's word for where a candle comes from ('' for one built from trades). @param {Candle} c */
export function originText(c) {
  return c.origin === 'exchange' ? "the exchange's candle" : c.origin === 'mixed' ? "partly the exchange's candles" : '';
}

/**
 * Where live data begins on a chart of `period`: the bucket holding
 * `history.liveFrom`, with the marker's text, or undefined (no history, an
 * import under way, or that candle is not among `candles`).
 * @param {PairHistory | null | undefined} history
 * @param {string} period the chart's period
 * @param {readonly Candle[]} candles oldest first
 * @returns {{ time: number, text: string, incomplete: boolean } | undefined}
 */
export function liveStart(history, period, candles) {
  const ms = periodMs(period);
  if (!history || history.liveFrom === null || ms <= 0) return undefined;
  const time = Math.floor(history.liveFrom / ms) * ms;
  if (indexOfTime(candles, time) < 0) return undefined;
  const incomplete = history.boundary === 'incomplete';
  return { time, text: incomplete ? 'Live from here (incomplete candle)' : 'Live from here', incomplete };
}

/**
 * The page's line about a pair's imported history ('' for none).
 * @param {PairHistory | null | undefined} history
 */
export function historyText(history) {
  if (!history) return '';
  const since = formatTime(history.from, periodMs(history.period) < 60_000);
  if (history.liveFrom === null) return `Importing history from the exchange since ${since}…`;
  const live = formatTime(history.liveFrom, periodMs(history.period) < 60_000);
  const line = `History imported from the exchange since ${since}; live since ${live}`;
  return history.boundary === 'incomplete' ? `${line} (that ${history.period} candle is incomplete: the exchange no longer listed all its trades).` : `${line}.`;
}

/**
 * Digits after the point of a decimal string ("37010.25" → 2). The API's
 * decimals are canonical (no trailing zeros), so the most digits seen over
 * a pair's prices is the precision its prices are quoted in.
 * @param {string} s
 */
export function decimalsOf(s) {
  const dot = s.indexOf('.');
  return dot < 0 ? 0 : s.length - dot - 1;
}

/**
 * The price scale's precision for these candles, never below `atLeast` (so
 * the scale does not flicker when a candle with fewer digits arrives).
 * @param {readonly Candle[]} candles
 * @param {number} [atLeast]
 */
export function pricePrecision(candles, atLeast = 0) {
  let p = atLeast;
  for (const c of candles) {
    p = Math.max(p, decimalsOf(c.open), decimalsOf(c.high), decimalsOf(c.low), decimalsOf(c.close));
  }
  return Math.min(p, MAX_PRECISION);
}

/**
 * The series' priceFormat for a precision: minMove is one unit of the last
 * digit, so a pair quoted in 0.00001 is not rounded to cents.
 * @param {number} precision
 */
export function priceFormat(precision) {
  return { type: /** @type {const} */ ('price'), precision, minMove: Number(`1e-${precision}`) };
}

/**
 * Index of the candle with this time in candles sorted by time, or -1.
 * @param {readonly Candle[]} candles
 * @param {number} time
 */
export function indexOfTime(candles, time) {
  let lo = 0;
  let hi = candles.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const t = /** @type {Candle} */ (candles[mid]).time;
    if (t === time) return mid;
    if (t < time) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/**
 * What merging one candle did, which says how the chart must follow:
 * - append: a newer bucket (series.update)
 * - last: the newest bucket changed (series.update)
 * - revise: an older bucket changed: a revision of a closed candle (series.update with historicalUpdate)
 * - insert: an older bucket we did not have (the whole data again)
 * @typedef {'append' | 'last' | 'revise' | 'insert'} MergeKind
 */

/**
 * Puts `candle` into `candles` (sorted by time, changed in place): a candle
 * with the time of one held replaces it, whatever its age.
 * @param {Candle[]} candles
 * @param {Candle} candle
 * @returns {MergeKind}
 */
export function mergeCandle(candles, candle) {
  const last = candles.at(-1);
  if (!last || candle.time > last.time) {
    candles.push(candle);
    return 'append';
  }
  if (candle.time === last.time) {
    candles[candles.length - 1] = candle;
    return 'last';
  }
  const i = indexOfTime(candles, candle.time);
  if (i >= 0) {
    candles[i] = candle;
    return 'revise';
  }
  const at = candles.findIndex((c) => c.time > candle.time);
  candles.splice(at, 0, candle);
  return 'insert';
}

/**
 * Fresh history from the API, then the live candles that came while it
 * loaded: those are at least as new as the history, so they win.
 * @param {readonly Candle[]} history oldest first
 * @param {readonly Candle[]} live in arrival order
 */
export function withLive(history, live) {
  const out = [...history];
  for (const c of live) mergeCandle(out, c);
  return out;
}

/**
 * A period label's length in ms ("1s", "5m", "4h", "1d"); 0 if unreadable.
 * @param {string} label
 */
export function periodMs(label) {
  const m = /^(\d+)([smhd])$/.exec(label);
  if (!m) return 0;
  const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[/** @type {'s' | 'm' | 'h' | 'd'} */ (m[2])];
  return Number(m[1]) * unit;
}

/**
 * "2024-01-01 00:05:00 UTC" (seconds only for periods under a minute).
 * @param {number} ms
 * @param {boolean} seconds
 */
export function formatTime(ms, seconds) {
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, seconds ? 19 : 16)} UTC`;
}

/**
 * The change from open to close in percent, as text ("+0.12%"), computed
 * for display only.
 * @param {Candle} c
 */
export function changeText(c) {
  const open = Number(c.open);
  if (!(open > 0)) return '';
  const pct = ((Number(c.close) - open) / open) * 100;
  const fixed = pct.toFixed(2);
  // A fall too small to show is no fall: "0.00%", not "-0.00%".
  if (Number(fixed) === 0) return '0.00%';
  return `${pct > 0 ? '+' : ''}${fixed}%`;
}
