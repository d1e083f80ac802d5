/**
 * What the dashboard tells its user, in a real browser (Debian's Chromium,
 * driven by playwright-core, as in dashboard.test.ts) against a real API and
 * Redis: the status pill follows the source's state as the ingester reports
 * it in Redis (written here by hand: no ingester runs, so nothing else
 * writes it), a simulated market is said once, scrolling back loads older
 * candles window by window, and an unknown pair or period in the address is
 * said, not silently replaced.
 *
 * The market: 1,300 one-minute BTC_USDT candles stored through the shared
 * store, so the page's first window (500) leaves two older ones to load.
 *
 * Chromium is required unless SKIP_BROWSER=1 (see dashboard.test.ts).
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonical, closeLimits, decimal, type SourceClock, type SourceStatus, type Tick } from '@candlestack/shared';
import { startTestApi, type TestApi } from './helpers.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SKIP = process.env.SKIP_BROWSER === '1';
const PAIR = 'BTC_USDT';
const MIN = 60_000;
const T0 = Date.UTC(2024, 0, 1);
/** Minutes of market: the page loads 500 at first, then 500 and 300 as it is scrolled back. */
const MINUTES = 1300;

function ticks(): Tick[] {
  const out: Tick[] = [];
  for (let m = 0; m < MINUTES; m++) {
    const price = canonical(`${42000 + ((m * 37) % 500)}.${m % 10}5`);
    const quantity = '0.012';
    out.push({ pair: PAIR, time: T0 + m * MIN + 1000, price, quantity, amount: decimal.mul(price, quantity), side: 'buy', id: String(10_000 + m) });
  }
  return out;
}

describe.skipIf(SKIP)('what the dashboard tells its user, in Chromium', () => {
  let t: TestApi;
  let browser: Browser | undefined;
  let page: Page;
  /** Console errors and uncaught exceptions of the page. */
  const errors: string[] = [];
  /** The `to` of each request for older candles, in order. */
  const olderRequests: number[] = [];

  /** What the ingester would report. */
  async function report(status: Omit<SourceStatus, 'heartbeat' | 'gaps'>, heartbeat = Date.now()): Promise<void> {
    await t.redis.hset(t.keys.sourceStatus(), { ...status, gaps: 0, heartbeat });
  }

  /** The chart element's data attributes (see public/chart-view.js). */
  const shown = () =>
    page.$eval('#chart', (el) => {
      const d = (el as unknown as { dataset: Record<string, string | undefined> }).dataset;
      return { pair: d.pair, period: d.period, bars: Number(d.bars), firstTime: Number(d.firstTime), history: d.history };
    });
  const pill = async () => ({
    state: await page.getAttribute('#status', 'data-state'),
    down: await page.getAttribute('#status', 'data-down'),
    text: await page.textContent('#status'),
  });
  /** Visible text only (innerText skips what is hidden). A string, so the test needs no DOM types. */
  const visibleText = () => page.evaluate<string>('document.body.innerText');

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`Chromium is not at ${CHROMIUM}: install it (apt-get install -y chromium), set CHROMIUM_PATH, or SKIP_BROWSER=1 to skip the browser tests`);
    }
    t = await startTestApi();
    const all = ticks();
    await t.store.registerPairs([PAIR, 'ETH_USDT']);
    await t.store.addTicks(PAIR, all);
    const now = all.at(-1)!.time;
    const clock: SourceClock = { source: 'replay', replayTime: now, done: false };
    await t.redis.hset(t.keys.clock(), { source: 'replay', time: now, done: 0 });
    await t.store.closePair(PAIR, closeLimits(t.store.plan, clock, t.config.GRACE_MS));

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    page.on('request', (r) => {
      const url = new URL(r.url());
      if (url.pathname.startsWith('/candles/') && url.searchParams.has('to')) olderRequests.push(Number(url.searchParams.get('to')));
    });
  });

  afterAll(async () => {
    await browser?.close();
    await t?.stop();
  });

  it('says the source is down, not live, while Poloniex is unreachable', async () => {
    await report({ source: 'poloniex', state: 'disconnected', detail: 'Poloniex unreachable: connect ECONNREFUSED' });
    await page.goto(`${t.api.url}/`);
    await expect.poll(shown).toMatchObject({ pair: PAIR, period: '1m', bars: 500 });
    // The feed is open: what is down is the source, and the pill says so.
    await expect.poll(() => page.getAttribute('#status', 'data-feed')).toBe('live');
    expect(await pill()).toEqual({ state: 'reconnecting', down: 'source', text: 'Reconnecting to Poloniex…' });
    expect(await page.textContent('#status-detail')).toBe('Poloniex unreachable: connect ECONNREFUSED');
    expect(await page.isVisible('#status-detail')).toBe(true);
    expect(await page.textContent('#source')).toBe('Poloniex: live trades from the exchange');
    expect(await page.isVisible('#banner')).toBe(false);
    expect(await visibleText()).not.toMatch(/\bLive\b/);
  });

  it('says Live once the source is connected again', async () => {
    await report({ source: 'poloniex', state: 'connected', detail: 'subscribed to 2 pairs' });
    await expect.poll(pill, { timeout: 15_000 }).toEqual({ state: 'live', down: '', text: 'Live' });
    expect(await page.isVisible('#status-detail')).toBe(false);
  });

  it('says so when the ingester stops reporting', async () => {
    await report({ source: 'poloniex', state: 'connected', detail: '' }, Date.now() - 60_000);
    await expect.poll(pill, { timeout: 15_000 }).toEqual({ state: 'silent', down: 'source', text: 'Ingester silent' });
    expect(await page.textContent('#status-detail')).toMatch(/^The ingester last reported \d+ s ago/);
  });

  it('says Replaying, then Replay finished, with the replay named once', async () => {
    await report({ source: 'replay', state: 'replaying', detail: 'replaying trades.jsonl' });
    await expect.poll(pill, { timeout: 15_000 }).toEqual({ state: 'replaying', down: '', text: 'Replaying' });
    expect(await page.textContent('#banner')).toBe('Replay of recorded trades — not live.');
    expect(await page.isVisible('#source')).toBe(false);

    await report({ source: 'replay', state: 'done', detail: 'replay finished: every bucket it touched is closed' });
    await expect.poll(pill, { timeout: 15_000 }).toEqual({ state: 'replay-done', down: '', text: 'Replay finished' });
    expect(await visibleText()).not.toMatch(/\bLive\b/);
    expect((await visibleText()).match(/replay of recorded trades/gi)).toHaveLength(1);
  });

  it('says Simulated, and says it is a simulated market once', async () => {
    await report({ source: 'simulated', state: 'connected', detail: 'simulated market (seed 1, 20 trades/s per pair)' });
    await expect.poll(pill, { timeout: 15_000 }).toEqual({ state: 'simulated', down: '', text: 'Simulated' });
    expect(await page.isVisible('#banner')).toBe(true);
    expect(await page.isVisible('#source')).toBe(false);
    const text = await visibleText();
    expect(text.match(/simulated market/gi)).toHaveLength(1);
    expect(text).not.toMatch(/\bLive\b/);
    expect(errors).toEqual([]);
  });

  it('loads older candles as the chart is scrolled back, until there are none', async () => {
    expect(olderRequests).toEqual([]);
    const first = await shown();
    expect(first).toMatchObject({ bars: 500, firstTime: T0 + 800 * MIN, history: 'more' });

    // Drag the chart to the right, as a user would, until it has all 1,300.
    const box = (await page.locator('#chart').boundingBox())!;
    const y = box.y + box.height / 2;
    for (let i = 0; i < 80; i++) {
      const s = await shown();
      if (s.history === 'complete' && s.bars === MINUTES) break;
      if (s.history === 'loading') {
        await expect.poll(async () => (await shown()).history).not.toBe('loading');
        continue;
      }
      await page.mouse.move(box.x + 200, y);
      await page.mouse.down();
      await page.mouse.move(box.x + box.width - 200, y, { steps: 8 });
      await page.mouse.up();
    }
    expect(await shown()).toMatchObject({ bars: MINUTES, firstTime: T0, history: 'complete' });
    // One request per window, each before the oldest candle then shown
    // (`to` is exclusive), none twice; the last window was short, so none after it.
    expect(olderRequests).toEqual([T0 + 800 * MIN, T0 + 300 * MIN]);
    expect(errors).toEqual([]);
  });

  it('puts older candles in front, in order, once each, and keeps the view where it was', async () => {
    // A chart of its own, fed by hand (as dashboard.test.ts does). A string,
    // not a function: vitest would rewrite a function's import() for Node.
    const r = await page.evaluate<{ before: unknown; after: unknown; times: number[]; added: number[]; history: string }>(`(async () => {
      const { ChartView } = await import('/chart-view.js');
      const box = document.createElement('div');
      box.style.width = '800px';
      box.style.height = '400px';
      const legend = document.querySelector('#legend').cloneNode(true);
      document.body.append(box);
      const c = (m) => ({ time: m * 60000, open: '1', high: '2', low: '0.5', close: '1.5', volume: '1', quoteVolume: '1', trades: 1, closed: true });
      const range = (a, b) => Array.from({ length: b - a }, (_, i) => c(a + i));
      // The chart sizes itself and applies a new range at its next frames.
      const frames = () => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
      const view = new ChartView(box, legend);
      view.reset('TEST_USDT', '1m');
      view.setCandles(range(100, 200), true);
      await frames();
      view.chart.timeScale().setVisibleRange({ from: 120 * 60, to: 150 * 60 });
      await frames();
      const before = view.chart.timeScale().getVisibleRange();
      // Overlapping the oldest shown (110 to 130): only what is older is taken.
      const added = [view.prepend(range(50, 130)), view.prepend([])];
      await frames();
      const after = view.chart.timeScale().getVisibleRange();
      const times = view.candleSeries.data().map((b) => b.time);
      const out = { before, after, times, added, history: box.dataset.history };
      view.chart.remove();
      box.remove();
      return out;
    })()`);
    expect(r.added).toEqual([50, 0]);
    expect(r.times).toEqual(Array.from({ length: 150 }, (_, i) => (50 + i) * 60));
    expect(r.after).toEqual(r.before);
    expect(r.history).toBe('more');
    expect(errors).toEqual([]);
  });

  it('says when the pair or period in the address is unknown, and what it shows instead', async () => {
    await page.goto(`${t.api.url}/?pair=XYZ_ABC&period=1m`);
    await expect.poll(() => page.isVisible('#notice')).toBe(true);
    const s = await shown();
    expect(s.pair).toMatch(/^(BTC|ETH)_USDT$/);
    expect(await page.textContent('#notice')).toBe(`Unknown pair XYZ_ABC; showing ${s.pair}.`);

    await page.goto(`${t.api.url}/?pair=btc-usdt&period=7m`);
    await expect.poll(() => page.isVisible('#notice')).toBe(true);
    expect(await page.textContent('#notice')).toBe('Unknown period 7m; showing 1m (periods: 1m, 5m).');
    // Another spelling of a pair served is that pair.
    await expect.poll(shown).toMatchObject({ pair: PAIR, period: '1m' });
    expect(new URL(page.url()).search).toBe('?pair=BTC_USDT&period=1m');

    // The user's own pick ends the note.
    await page.selectOption('#period', '5m');
    await expect.poll(() => page.isVisible('#notice')).toBe(false);

    await page.goto(`${t.api.url}/?pair=BTC_USDT&period=5m`);
    await expect.poll(shown).toMatchObject({ pair: PAIR, period: '5m' });
    expect(await page.isVisible('#notice')).toBe(false);
    expect(errors).toEqual([]);
  });
});
