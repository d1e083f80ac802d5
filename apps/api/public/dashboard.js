// @ts-check
/**
 * The dashboard page: pickers filled from GET /pairs, history from GET
 * /candles (older windows as the user scrolls back), live candles from /ws,
 * and one status pill made of the feed's state and the source's (status.js).
 * Every URL is relative to the page, so it also works behind a proxy that
 * serves the API under a path.
 */
import { historyText, withLive } from './chart-data.js';
import { $, ChartView } from './chart-view.js';
import { LiveFeed, liveUrl } from './live-feed.js';
import { firstView } from './address.js';
import { pillFor } from './status.js';

/** @typedef {import('./chart-data.js').Candle} Candle */
/** @typedef {import('./status.js').Source} Source */
/** @typedef {import('./chart-data.js').PairHistory} PairHistory */
/** @typedef {{ pairs: { pair: string, lastTradeTime: number | null, history: PairHistory | null }[], periods: string[], source: Source | null }} PairsBody */

/** Candles per history request: the newest window, then each older one. */
const HISTORY_LIMIT = 500;
/** Older candles are fetched when the view's left edge is this many bars from the oldest. */
const OLDER_MARGIN = 50;
/** The source's state (connected, disconnected ...) and new pairs show up this often. */
const PAIRS_REFRESH_MS = 5_000;
const RETRY_MS = 3_000;

const ui = {
  pair: /** @type {HTMLSelectElement} */ ($('#pair')),
  period: /** @type {HTMLSelectElement} */ ($('#period')),
  source: $('#source'),
  banner: $('#banner'),
  notice: $('#notice'),
  status: $('#status'),
  statusDetail: $('#status-detail'),
  message: $('#message'),
  history: $('#history'),
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
/** After a failed request for older candles, none before this (ms). */
let olderRetryAt = 0;
/** @type {Map<string, PairHistory | null>} Each pair's imported history, from the latest GET /pairs. */
let histories = new Map();
/** @type {import('./status.js').Observed} What the status pill is made of. */
const observed = { feed: 'connecting', source: undefined, serverNow: Date.now() };

const feed = new LiveFeed(liveUrl(), {
  onState(state, retryInMs) {
    observed.feed = state;
    observed.retryInMs = retryInMs;
    showStatus();
  },
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

/** The body, and the server's clock from the Date header (the browser's may be off). @param {string} path */
async function getJsonAt(path) {
  const res = await fetch(path, { headers: { accept: 'application/json' } });
  const body = await res.json().catch(() => undefined);
  if (!res.ok) throw new Error(body?.error?.message ?? `${path}: HTTP ${res.status}`);
  const date = Date.parse(res.headers.get('date') ?? '');
  return { body, serverNow: Number.isFinite(date) ? date : Date.now() };
}

/** @param {string} path */
async function getJson(path) {
  return (await getJsonAt(path)).body;
}

/** @param {string} text */
function showMessage(text) {
  noCandlesYet = false;
  apiUnreachable = false;
  ui.message.textContent = text;
  ui.message.hidden = text === '';
}

/** The one status: the feed and the source together (status.js). */
function showStatus() {
  const pill = pillFor(observed);
  ui.status.dataset.state = pill.state;
  ui.status.dataset.down = pill.down;
  // The feed's own state, for scripts and tests (the pill may say more).
  ui.status.dataset.feed = observed.feed;
  ui.status.textContent = pill.text;
  ui.status.title = pill.detail || pill.text;
  ui.statusDetail.textContent = pill.detail;
  ui.statusDetail.hidden = pill.detail === '';
}

/**
 * The source, in words, said once: a simulated market or a replay gets the
 * banner (it must never pass for live trades); any other source is named in
 * the header. @param {Source | null} source
 */
function showSource(source) {
  const kind = source?.kind ?? 'unknown';
  const banner = kind === 'simulated' || kind === 'replay';
  ui.source.dataset.kind = kind;
  ui.source.hidden = banner;
  ui.source.textContent = source ? source.label : 'Source unknown: no ingester has reported yet';
  ui.source.title = source ? `SOURCE=${source.name}` : '';
  ui.banner.dataset.kind = kind;
  ui.banner.hidden = !banner;
  ui.banner.textContent =
    kind === 'simulated'
      ? 'Simulated market — not real trades. Prices are random, made up by Candlestack for development.'
      : kind === 'replay'
        ? 'Replay of recorded trades — not live.'
        : '';
}

/**
 * The shown pair's imported history: the chart's "live from here" marker
 * and the line under the chart (since when it comes from the exchange,
 * since when it is live, and whether the first live candle is incomplete).
 */
function showHistory() {
  const history = histories.get(pair) ?? null;
  view.setHistory(history);
  const text = historyText(history);
  ui.history.textContent = text;
  ui.history.hidden = text === '';
  ui.history.dataset.boundary = history?.boundary ?? '';
}

/** A note above the chart that stays until the user picks another view (e.g. an unknown ?pair=). @param {string} text */
function showNotice(text) {
  ui.notice.textContent = text;
  ui.notice.hidden = text === '';
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
  showHistory();
  showTitle();
  // Live candles held for a history load of the previous pair or period are not this one's.
  pending = undefined;
  feed.follow(p, per);
  void loadHistory(true);
}

/** The user picked a view: a note about the address's view is past. @param {string} p @param {string} per */
function pick(p, per) {
  showNotice('');
  select(p, per);
}

/**
 * The newest window of history from the API, merged with live candles that
 * arrive meanwhile. It replaces all that is shown, older candles loaded by
 * scrolling back included: after a reconnect or a gap any of them may have
 * changed. If the user is scrolled back, they load again from there.
 * @param {boolean} toEnd
 */
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
    // Fewer than asked for: there are no older ones.
    if (body.candles.length < HISTORY_LIMIT) view.atStart = true;
    pending = undefined;
    showMessage(view.size === 0 ? `No candles yet for ${pair} ${period}.` : '');
    noCandlesYet = view.size === 0;
    showTitle();
    // Scrolled back when a refetch dropped the older candles: they load again.
    if (view.nearStart(OLDER_MARGIN)) void loadOlder();
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

/**
 * The window before the oldest candle shown (`to` is exclusive), when the
 * user scrolls near it: one request at a time, none once the server has no
 * older candles, none kept if the view changed meanwhile.
 */
async function loadOlder() {
  const oldest = view.oldest;
  if (!oldest || view.atStart || view.loadingOlder || pending || Date.now() < olderRetryAt) return;
  const gen = generation;
  const token = historyToken;
  const current = () => gen === generation && token === historyToken;
  view.loadingOlder = true;
  const path = `candles/${encodeURIComponent(pair)}/${encodeURIComponent(period)}?to=${oldest.time}&limit=${HISTORY_LIMIT}`;
  let again = false;
  try {
    /** @type {{ candles: Candle[] }} */
    const body = await getJson(path);
    if (!current()) return;
    view.prepend(body.candles);
    if (body.candles.length < HISTORY_LIMIT) view.atStart = true;
    again = true;
  } catch (err) {
    if (!current()) return;
    console.warn('older candles:', /** @type {Error} */ (err).message);
    // Not at every scroll event meanwhile: this timer (or a scroll after it) tries again.
    olderRetryAt = Date.now() + RETRY_MS;
    setTimeout(() => {
      if (current() && view.nearStart(OLDER_MARGIN)) void loadOlder();
    }, RETRY_MS);
  } finally {
    if (current()) view.loadingOlder = false;
  }
  // Zoomed far out, one window may not reach past the margin: the next one.
  if (again && current() && view.nearStart(OLDER_MARGIN)) void loadOlder();
}

/** GET /pairs: the pickers, the source and its state; the first answer with a pair starts the chart. */
async function refreshPairs() {
  let next = PAIRS_REFRESH_MS;
  try {
    const { body: got, serverNow } = await getJsonAt('pairs');
    /** @type {PairsBody} */
    const body = got;
    if (apiUnreachable) showMessage('');
    apiUnreachable = false;
    observed.source = body.source;
    observed.serverNow = serverNow;
    observed.pairsError = undefined;
    showStatus();
    showSource(body.source);
    const pairs = body.pairs.map((p) => p.pair);
    // An API from before issue 12 sends no history: none is shown.
    histories = new Map(body.pairs.map((p) => [p.pair, p.history ?? null]));
    fillSelect(ui.pair, pairs);
    fillSelect(ui.period, body.periods);
    if (pairs.length === 0 || body.periods.length === 0) {
      showMessage('No pairs yet: is the ingester running?');
      next = RETRY_MS;
    } else if (!pair) {
      const first = firstView(pairs, body.periods);
      showNotice(first.notice);
      select(first.pair, first.period);
    } else {
      // Options were rebuilt: keep showing what is shown.
      ui.pair.value = pair;
      ui.period.value = period;
      // An import may have completed meanwhile, or its boundary become known.
      showHistory();
    }
  } catch (err) {
    const why = /** @type {Error} */ (err).message;
    showMessage(`Could not reach the API: ${why}. Retrying…`);
    apiUnreachable = true;
    observed.pairsError = why;
    showStatus();
    next = RETRY_MS;
  }
  setTimeout(() => void refreshPairs(), next);
}

ui.pair.addEventListener('change', () => pick(ui.pair.value, period));
ui.period.addEventListener('change', () => pick(pair, ui.period.value));
view.onNearStart(OLDER_MARGIN, () => void loadOlder());

showStatus();
feed.start();
void refreshPairs();
