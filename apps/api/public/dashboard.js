// @ts-check
/**
 * The dashboard page: pickers filled from GET /pairs, history from GET
 * /candles, live candles from /ws. Every URL is relative to the page, so it
 * also works behind a proxy that serves the API under a path.
 */
import { withLive } from './chart-data.js';
import { $, ChartView } from './chart-view.js';
import { LiveFeed, liveUrl } from './live-feed.js';

/** @typedef {import('./chart-data.js').Candle} Candle */
/**
 * @typedef {object} Source what GET /pairs says of the source
 * @property {string} name
 * @property {'live' | 'simulated' | 'replay' | 'unknown'} kind
 * @property {string} label
 * @property {string} state
 * @property {string} detail
 */
/** @typedef {{ pairs: { pair: string, lastTradeTime: number | null }[], periods: string[], source: Source | null }} PairsBody */

const HISTORY_LIMIT = 500;
/** The source's state (connected, disconnected ...) and new pairs show up this often. */
const PAIRS_REFRESH_MS = 15_000;
const RETRY_MS = 3_000;
/** Source states that are nothing to warn about. */
const HEALTHY = new Set(['connected', 'replaying', 'done']);

const ui = {
  pair: /** @type {HTMLSelectElement} */ ($('#pair')),
  period: /** @type {HTMLSelectElement} */ ($('#period')),
  source: $('#source'),
  sourceState: $('#source-state'),
  banner: $('#banner'),
  connection: $('#connection'),
  message: $('#message'),
};

const view = new ChartView($('#chart'), $('#legend'));

/** What is shown; empty until /pairs has answered with at least one pair. */
let pair = '';
let period = '';
/** Bumped at each switch: answers for an earlier pair or period are dropped. */
let generation = 0;
/** Bumped at each history request: only the newest one's answer is used. */
let historyToken = 0;
/** The message shown says the API could not be reached (cleared once it answers). */
let apiUnreachable = false;
/** The message shown says the pair has no candles yet (cleared by the first one). */
let noCandlesYet = false;
/** @type {Candle[] | undefined} Live candles that came while history was loading; undefined when none is. */
let pending;

const feed = new LiveFeed(liveUrl(), {
  onState: showConnection,
  onSubscribed(_pair, _period, again) {
    // Back after a lost connection: whatever closed meanwhile is fetched again.
    if (again) void loadHistory(false);
  },
  onCandle(p, per, candle) {
    if (p !== pair || per !== period) return;
    if (pending) pending.push(candle);
    else {
      view.apply(candle);
      showTitle();
      if (noCandlesYet) showMessage('');
    }
  },
  onGap(p, per) {
    // Candles changed that the server did not send one by one (a catch-up
    // of thousands): read what is shown again.
    if (p === pair && per === period) void loadHistory(false);
  },
  onServerError(message) {
    console.warn('live feed:', message);
    showMessage(`Live feed: ${message}`);
  },
});

/** @param {string} path */
async function getJson(path) {
  const res = await fetch(path, { headers: { accept: 'application/json' } });
  const body = await res.json().catch(() => undefined);
  if (!res.ok) throw new Error(body?.error?.message ?? `${path}: HTTP ${res.status}`);
  return body;
}

/** @param {string} text */
function showMessage(text) {
  noCandlesYet = false;
  apiUnreachable = false;
  ui.message.textContent = text;
  ui.message.hidden = text === '';
}

/** @param {import('./live-feed.js').FeedState} state @param {number} [retryInMs] */
function showConnection(state, retryInMs) {
  ui.connection.dataset.state = state;
  ui.connection.textContent = { connecting: 'Connecting…', live: 'Live', reconnecting: 'Reconnecting…' }[state];
  ui.connection.title =
    state === 'reconnecting' && retryInMs !== undefined
      ? `The live feed is down; next try in ${Math.ceil(retryInMs / 1000)} s`
      : state === 'live'
        ? 'Receiving live candles'
        : 'Opening the live feed';
}

/** The source, in words: a simulated market or a replay must never pass for live trades. @param {Source | null} source */
function showSource(source) {
  const kind = source?.kind ?? 'unknown';
  ui.source.dataset.kind = kind;
  ui.source.textContent = source ? source.label : 'Source unknown: no ingester has reported yet';
  ui.source.title = source ? `SOURCE=${source.name}` : '';
  const unwell = source && !HEALTHY.has(source.state);
  ui.sourceState.hidden = !unwell;
  ui.sourceState.textContent = unwell ? `${source.state}${source.detail ? `: ${source.detail}` : ''}` : '';
  ui.banner.dataset.kind = kind;
  ui.banner.hidden = kind !== 'simulated' && kind !== 'replay';
  ui.banner.textContent =
    kind === 'simulated'
      ? 'Simulated market — not real trades. Prices are random, made up by Candlestack for development.'
      : 'Replay of recorded trades — not live.';
}

function showTitle() {
  const last = view.latest;
  document.title = pair ? `${pair} ${last ? `${last.close} ` : ''}· ${period} — Candlestack` : 'Candlestack';
}

/** Replaces a select's options only when the list changed (not under the user's hand every refresh). @param {HTMLSelectElement} select @param {string[]} values */
function fillSelect(select, values) {
  const now = [...select.options].map((o) => o.value);
  if (now.join('\n') === values.join('\n')) return;
  select.replaceChildren(...values.map((v) => new Option(v, v)));
}

/** The pair and period in the address (?pair=ETH_USDT&period=5m), so a view can be bookmarked or shared. */
function wanted() {
  const q = new URLSearchParams(window.location.search);
  return { pair: q.get('pair') ?? '', period: q.get('period') ?? '' };
}

/** @param {string} p @param {string} per */
function select(p, per) {
  pair = p;
  period = per;
  generation++;
  ui.pair.value = p;
  ui.period.value = per;
  const q = new URLSearchParams({ pair: p, period: per });
  window.history.replaceState(null, '', `?${q}`);
  view.reset(p, per);
  showTitle();
  // Live candles held for a history load of the previous pair or period are not this one's.
  pending = undefined;
  feed.follow(p, per);
  void loadHistory(true);
}

/** History from the API, merged with live candles that arrive meanwhile. @param {boolean} toEnd */
async function loadHistory(toEnd) {
  const gen = generation;
  const token = ++historyToken;
  pending ??= [];
  const path = `candles/${encodeURIComponent(pair)}/${encodeURIComponent(period)}?limit=${HISTORY_LIMIT}`;
  try {
    /** @type {{ candles: Candle[] }} */
    const body = await getJson(path);
    if (gen !== generation || token !== historyToken) return;
    view.setCandles(withLive(body.candles, pending), toEnd);
    pending = undefined;
    showMessage(view.size === 0 ? `No candles yet for ${pair} ${period}.` : '');
    noCandlesYet = view.size === 0;
    showTitle();
  } catch (err) {
    if (gen !== generation || token !== historyToken) return;
    // Keep what is shown and what came live; try again shortly.
    for (const c of pending ?? []) view.apply(c);
    pending = undefined;
    showMessage(`Could not load ${pair} ${period}: ${/** @type {Error} */ (err).message}. Retrying…`);
    setTimeout(() => {
      if (gen === generation && token === historyToken) void loadHistory(false);
    }, RETRY_MS);
  }
}

/** GET /pairs: the pickers and the source; the first answer with a pair starts the chart. */
async function refreshPairs() {
  let next = PAIRS_REFRESH_MS;
  try {
    /** @type {PairsBody} */
    const body = await getJson('pairs');
    if (apiUnreachable) showMessage('');
    apiUnreachable = false;
    showSource(body.source);
    const pairs = body.pairs.map((p) => p.pair);
    fillSelect(ui.pair, pairs);
    fillSelect(ui.period, body.periods);
    if (pairs.length === 0 || body.periods.length === 0) {
      showMessage('No pairs yet: is the ingester running?');
      next = RETRY_MS;
    } else if (!pair) {
      const want = wanted();
      const firstPeriod = /** @type {string} */ (body.periods[0]);
      select(pairs.includes(want.pair) ? want.pair : /** @type {string} */ (pairs[0]), body.periods.includes(want.period) ? want.period : firstPeriod);
    } else {
      // Options were rebuilt: keep showing what is shown.
      ui.pair.value = pair;
      ui.period.value = period;
    }
  } catch (err) {
    showMessage(`Could not reach the API: ${/** @type {Error} */ (err).message}. Retrying…`);
    apiUnreachable = true;
    next = RETRY_MS;
  }
  setTimeout(() => void refreshPairs(), next);
}

ui.pair.addEventListener('change', () => select(ui.pair.value, period));
ui.period.addEventListener('change', () => select(pair, ui.period.value));

showConnection('connecting');
feed.start();
void refreshPairs();
