// @ts-check
/**
 * The chart: candlesticks over a volume histogram (lightweight-charts) and
 * the legend of the hovered or latest candle. It keeps the candles as the
 * API sent them; the chart only gets numbers made from them.
 *
 * What the page shows is also written as data attributes on the chart's
 * element (data-pair, data-period, data-bars, data-first-time,
 * data-last-time, data-precision, data-history, and data-live-marker-time,
 * data-live-marker-text: the "live from here" marker as the chart holds
 * it), for scripts and the browser test to read.
 */
import { CandlestickSeries, ColorType, CrosshairMode, HistogramSeries, createChart, createSeriesMarkers } from './vendor/lightweight-charts.js';
import {
  DOWN_COLOR,
  INCOMPLETE_MARKER_COLOR,
  LIVE_MARKER_COLOR,
  UP_COLOR,
  changeText,
  formatTime,
  indexOfTime,
  isUp,
  liveStart,
  mergeCandle,
  originText,
  periodMs,
  priceFormat,
  pricePrecision,
  toBar,
  toChartTime,
  toVolumeBar,
} from './chart-data.js';

/** @typedef {import('./chart-data.js').Candle} Candle */
/** @typedef {import('./chart-data.js').PairHistory} PairHistory */

/**
 * Live candles pile up (86,400 a day at 1s) and scrolling back adds older
 * ones; past this many the oldest are dropped (live) or no more are loaded.
 */
export const MAX_BARS = 20_000;
const TRIM_TO = 16_000;
/** Bars in view after a switch: wide enough to read, however long the history. */
const VISIBLE_BARS = 90;

/** @param {string} selector @param {ParentNode} [root] @returns {HTMLElement} */
function $(selector, root = document) {
  const el = root.querySelector(selector);
  if (!(el instanceof HTMLElement)) throw new Error(`dashboard: ${selector} is missing from the page`);
  return el;
}

export class ChartView {
  /** @type {Candle[]} */
  #candles = [];
  #pair = '';
  #period = '';
  #precision = 0;
  /** The oldest candle shown is the oldest there is (or all the view holds): no more to load. */
  #atStart = false;
  /** A request for older candles is on its way. */
  #loadingOlder = false;
  /** Time (ms) of the candle under the crosshair; undefined: follow the latest. */
  /** @type {number | undefined} */
  #hovered;
  /** @type {PairHistory | null} The pair's imported history (GET /pairs), null: none. */
  #history = null;
  /** The marker shown, as `time text` ('' for none): set again only when it changes. */
  #markerKey = '';

  /** @param {HTMLElement} container @param {HTMLElement} legend */
  constructor(container, legend) {
    this.container = container;
    this.legend = legend;
    this.chart = createChart(container, {
      autoSize: true,
      layout: {
        // The library's logo injects a <style> element, which the page's CSP
        // (style-src 'self') blocks; the page's footer links to TradingView,
        // which is what the licence asks the logo to do.
        attributionLogo: false,
        background: { type: ColorType.Solid, color: '#0f141a' },
        textColor: '#aab4c0',
        fontFamily: 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif',
        panes: { separatorColor: '#222a33' },
      },
      grid: { vertLines: { color: '#1a2129' }, horzLines: { color: '#1a2129' } },
      crosshair: { mode: CrosshairMode.Normal },
      rightPriceScale: { borderColor: '#2a323c', scaleMargins: { top: 0.08, bottom: 0.28 } },
      timeScale: { borderColor: '#2a323c', timeVisible: true, rightOffset: 4 },
    });
    this.candleSeries = this.chart.addSeries(CandlestickSeries, {
      upColor: UP_COLOR,
      downColor: DOWN_COLOR,
      borderVisible: false,
      wickUpColor: UP_COLOR,
      wickDownColor: DOWN_COLOR,
    });
    // On its own unnamed scale, overlaid on the bottom fifth of the pane.
    this.volumeSeries = this.chart.addSeries(HistogramSeries, {
      priceFormat: { type: 'volume' },
      priceScaleId: '',
      lastValueVisible: false,
      priceLineVisible: false,
    });
    this.volumeSeries.priceScale().applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
    // "Live from here" at the candle where live data begins (imported history before it).
    this.markers = createSeriesMarkers(this.candleSeries, []);
    this.chart.subscribeCrosshairMove((param) => {
      this.#hovered = typeof param.time === 'number' ? param.time * 1000 : undefined;
      this.#renderLegend();
    });
  }

  /** Forgets the data and shows this pair and period (empty until setCandles). @param {string} pair @param {string} period */
  reset(pair, period) {
    this.#pair = pair;
    this.#period = period;
    this.#candles = [];
    this.#precision = 0;
    this.#hovered = undefined;
    this.#atStart = false;
    this.#loadingOlder = false;
    this.#history = null;
    const ms = periodMs(period);
    this.chart.applyOptions({ timeScale: { secondsVisible: ms > 0 && ms < 60_000, timeVisible: ms < 86_400_000 } });
    this.candleSeries.setData([]);
    this.volumeSeries.setData([]);
    this.#changed();
  }

  /**
   * The pair's imported history as GET /pairs tells it (null: none): where
   * the "live from here" marker goes. @param {PairHistory | null} history
   */
  setHistory(history) {
    this.#history = history;
    this.#changed();
  }

  /**
   * All the candles at once (history, or history refetched after a
   * reconnect). @param {Candle[]} candles oldest first @param {boolean} toEnd scroll to the newest
   */
  setCandles(candles, toEnd) {
    this.#candles = candles.slice(-MAX_BARS);
    this.#atStart = false;
    this.#loadingOlder = false;
    this.#redraw();
    if (toEnd) {
      const n = this.#candles.length;
      this.chart.timeScale().setVisibleLogicalRange({ from: n - VISIBLE_BARS, to: n + 3 });
    }
  }

  /** One candle from the live feed: the forming one, a close, or a revision. @param {Candle} candle */
  apply(candle) {
    const first = this.#candles[0];
    // Older than anything shown (a revision out of view): drawn, it would sit
    // beside the oldest bar with the candles between them missing. Scrolling
    // back reads it fresh.
    if (first && candle.time < first.time) return;
    const kind = mergeCandle(this.#candles, candle);
    if (this.#candles.length > MAX_BARS) {
      this.#candles.splice(0, this.#candles.length - TRIM_TO);
      this.#atStart = false;
      this.#redraw();
      return;
    }
    if (kind === 'insert') {
      this.#redraw();
      return;
    }
    // A revision of an older, closed candle is the only update that goes back in time.
    const back = kind === 'revise';
    this.#updatePrecision([candle]);
    this.candleSeries.update(toBar(candle), back);
    this.volumeSeries.update(toVolumeBar(candle), back);
    this.#changed();
  }

  /**
   * Older candles (from GET /candles?to=<oldest shown>) in front of those
   * shown; only those older than the oldest shown are taken, so nothing is
   * drawn twice. The view stays where it is. Returns how many were added.
   * @param {readonly Candle[]} older oldest first
   */
  prepend(older) {
    const first = this.#candles[0];
    const fresh = first ? older.filter((c) => c.time < first.time) : [...older];
    const room = Math.max(0, MAX_BARS - this.#candles.length);
    const take = fresh.slice(Math.max(0, fresh.length - room));
    if (take.length < fresh.length) this.#atStart = true;
    if (take.length === 0) {
      this.#changed();
      return 0;
    }
    this.#candles = [...take, ...this.#candles];
    this.#redraw();
    return take.length;
  }

  /** No older candles to load: the server has none, or the view holds all it may. */
  get atStart() {
    return this.#atStart;
  }

  set atStart(yes) {
    this.#atStart = yes;
    this.#changed();
  }

  get loadingOlder() {
    return this.#loadingOlder;
  }

  set loadingOlder(yes) {
    this.#loadingOlder = yes;
    this.#changed();
  }

  /**
   * Calls `near` whenever the view's left edge comes within `margin` bars
   * of the oldest candle (the user scrolled or zoomed out towards it).
   * @param {number} margin @param {() => void} near
   */
  onNearStart(margin, near) {
    this.chart.timeScale().subscribeVisibleLogicalRangeChange((range) => {
      if (range && this.#candles.length > 0 && range.from < margin) near();
    });
  }

  /** Whether the view's left edge is within `margin` bars of the oldest candle. @param {number} margin */
  nearStart(margin) {
    const range = this.chart.timeScale().getVisibleLogicalRange();
    return range !== null && this.#candles.length > 0 && range.from < margin;
  }

  /** @returns {Candle | undefined} */
  get oldest() {
    return this.#candles[0];
  }

  get size() {
    return this.#candles.length;
  }

  /** @returns {Candle | undefined} */
  get latest() {
    return this.#candles.at(-1);
  }

  #redraw() {
    this.#precision = 0;
    this.#updatePrecision(this.#candles, true);
    this.candleSeries.setData(this.#candles.map(toBar));
    this.volumeSeries.setData(this.#candles.map(toVolumeBar));
    this.#changed();
  }

  /**
   * Widens the price scale's precision to the digits of these candles' prices.
   * @param {readonly Candle[]} candles @param {boolean} [force] apply even if unchanged
   */
  #updatePrecision(candles, force = false) {
    const p = pricePrecision(candles, this.#precision);
    if (p === this.#precision && !force) return;
    this.#precision = p;
    this.candleSeries.applyOptions({ priceFormat: priceFormat(p) });
  }

  /** The marker where live data begins, on its candle once that candle is shown. */
  #updateMarker() {
    const at = liveStart(this.#history, this.#period, this.#candles);
    const key = at ? `${at.time} ${at.text}` : '';
    if (key === this.#markerKey) return;
    this.#markerKey = key;
    this.markers.setMarkers(
      at ? [{ time: toChartTime(at.time), position: 'belowBar', shape: 'arrowUp', color: at.incomplete ? INCOMPLETE_MARKER_COLOR : LIVE_MARKER_COLOR, text: at.text }] : [],
    );
  }

  #changed() {
    this.#updateMarker();
    const d = this.container.dataset;
    d.pair = this.#pair;
    d.period = this.#period;
    d.bars = String(this.#candles.length);
    d.firstTime = String(this.oldest?.time ?? '');
    d.history = this.#loadingOlder ? 'loading' : this.#atStart ? 'complete' : 'more';
    d.lastTime = String(this.latest?.time ?? '');
    d.precision = String(this.#precision);
    // What the chart's marker plugin holds, not what was meant: the test reads it.
    const marker = this.markers.markers()[0];
    d.liveMarkerTime = marker ? String(Number(marker.time) * 1000) : '';
    d.liveMarkerText = marker?.text ?? '';
    this.#renderLegend();
  }

  #renderLegend() {
    const i = this.#hovered === undefined ? -1 : indexOfTime(this.#candles, this.#hovered);
    const c = i >= 0 ? this.#candles[i] : this.latest;
    const set = (/** @type {string} */ field, /** @type {string} */ text) => {
      $(`[data-field="${field}"]`, this.legend).textContent = text;
    };
    set('pair', this.#pair);
    set('period', this.#period);
    set('base', this.#pair.split('_')[0] ?? '');
    this.legend.dataset.empty = String(!c);
    if (!c) return;
    this.legend.dataset.direction = isUp(c) ? 'up' : 'down';
    set('time', formatTime(c.time, periodMs(this.#period) < 60_000));
    const origin = originText(c);
    set('status', `${c.closed ? 'closed' : 'forming'}${origin ? ` · ${origin}` : ''}`);
    set('open', c.open);
    set('high', c.high);
    set('low', c.low);
    set('close', c.close);
    set('change', changeText(c));
    set('volume', c.volume);
    set('trades', String(c.trades));
  }
}

export { $ };
