/**
 * The dashboard in a real browser (Debian's Chromium, driven by
 * playwright-core) against a real pipeline: the simulated market through
 * the ingester, the worker closing 1s and 5s candles, the API serving the
 * page, /pairs, /candles and /ws. It loads the page, watches a candle
 * arrive live, switches pair and period, restarts the API under the open
 * page, and saves a screenshot to test-artifacts/dashboard.png.
 *
 * Chromium is required: without it the test fails and says how to install
 * it (CI installs it), since a silently skipped browser test would let a
 * broken page through. SKIP_BROWSER=1 skips it on purpose (a machine that
 * cannot have Chromium); CHROMIUM_PATH points at another binary.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { Keys, parseConfig } from '@candlestack/shared';
import { SimulatedSource } from '../../ingest/src/sources/simulated.js';
import type { Ingester } from '../../ingest/src/ingester.js';
import type { RunningWorker } from '../../worker/src/worker.js';
import { startIngester, startTestWorker, testEnv } from '../../../test/support/pipeline.js';
import { TEST_REDIS_URL, deletePrefix, testPrefix } from '../../../test/support/redis.js';
import { apiEnv } from '../src/env.js';
import { startApi, type RunningApi } from '../src/server.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SKIP = process.env.SKIP_BROWSER === '1';
const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/', import.meta.url));
const PAIRS = ['BTC_USDT', 'XRP_USDT'];

const prefix = testPrefix('dashboard');
const env = testEnv(prefix, { SOURCE: 'simulated', PAIRS: PAIRS.join(',') });
let ingester: Ingester | undefined;
let worker: RunningWorker | undefined;
let api: RunningApi | undefined;
let browser: Browser | undefined;
let page: Page;
/** Console errors and uncaught exceptions of the page. */
const errors: string[] = [];
/** Requests for history, to tell live updates from reloads. */
let historyRequests = 0;

async function startTestApi(port = 0): Promise<RunningApi> {
  return startApi(parseConfig(apiEnv, { ...env, HOST: '127.0.0.1', PORT: String(port) }), { startupGraceMs: 0 });
}

/** What the page says it shows (data attributes of the chart element, see public/chart-view.js). */
async function shown() {
  // `el` is a DOM element; this project's types are Node's, so only what is read is typed.
  return page.$eval('#chart', (el) => {
    const d = (el as unknown as { dataset: Record<string, string | undefined> }).dataset;
    return { pair: d.pair, period: d.period, bars: Number(d.bars), lastTime: Number(d.lastTime), precision: Number(d.precision) };
  });
}

async function waitShown(what: string, check: (s: Awaited<ReturnType<typeof shown>>) => boolean, timeoutMs = 8_000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const s = await shown();
    if (check(s)) return s;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}; the page shows ${JSON.stringify(s)}`);
    await page.waitForTimeout(100);
  }
}

/** The live feed's own state (the pill itself says more: see dashboard-status.test.ts). */
const connection = () => page.getAttribute('#status', 'data-feed');

describe.skipIf(SKIP)('the dashboard in Chromium', () => {
  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `Chromium is not at ${CHROMIUM}: install it (apt-get install -y chromium), or set CHROMIUM_PATH to a Chromium or Chrome binary; SKIP_BROWSER=1 skips the browser tests`,
      );
    }
    ingester = await startIngester(env, new SimulatedSource({ pairs: PAIRS, seed: 7, rate: 20 }));
    worker = await startTestWorker(env);
    api = await startTestApi();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      // playwright-core never downloads a browser; these keep Chromium from
      // reaching out (updates, sync) and from needing a GPU or a sandbox.
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    page.on('request', (r) => {
      if (new URL(r.url()).pathname.startsWith('/candles/')) historyRequests++;
    });
  });

  afterAll(async () => {
    await browser?.close();
    await api?.close();
    await worker?.close();
    await ingester?.close();
    await deletePrefix(prefix);
  });

  it('loads with the chart drawn, the source named and the feed live', async () => {
    await page.goto(`${api!.url}/`);
    const s = await waitShown('history', (x) => x.bars > 0);
    expect(s).toMatchObject({ pair: 'BTC_USDT', period: '1s' });
    // BTC_USDT is quoted in cents; the price scale must not round that away.
    expect(s.precision).toBeGreaterThanOrEqual(1);

    const box = await page.locator('#chart canvas').first().boundingBox();
    expect(box?.width).toBeGreaterThan(600);
    expect(box?.height).toBeGreaterThan(300);

    expect(await page.getAttribute('#source', 'data-kind')).toBe('simulated');
    await expect.poll(() => page.isVisible('#banner')).toBe(true);
    expect(await page.textContent('#banner')).toMatch(/^Simulated market — not real trades/);

    await expect.poll(connection, { timeout: 5_000 }).toBe('live');
    // A simulated market is never called live.
    await expect.poll(() => page.getAttribute('#status', 'data-state')).toBe('simulated');
    expect(await page.textContent('#status')).toBe('Simulated');
    expect(await page.textContent('#legend [data-field="pair"]')).toBe('BTC_USDT');
    expect(await page.textContent('#legend [data-field="close"]')).toMatch(/^\d+(\.\d+)?$/);
    expect(await page.title()).toMatch(/^BTC_USDT [\d.]+ · 1s — Candlestack$/);
    expect(errors).toEqual([]);
  });

  it('draws a new 1s candle live, without reloading', async () => {
    const before = await shown();
    const requests = historyRequests;
    const after = await waitShown('a new candle', (x) => x.lastTime > before.lastTime, 5_000);
    expect(after.bars).toBeGreaterThan(before.bars);
    expect(after.lastTime % 1000).toBe(0);
    expect(historyRequests).toBe(requests);
    expect(errors).toEqual([]);
  });

  it('reads its history again when the server says candles changed in a gap', async () => {
    const s = await shown();
    const requests = historyRequests;
    const pub = new Redis(TEST_REDIS_URL);
    try {
      // What a worker publishes after a catch-up of thousands of closes.
      await pub.publish(new Keys(prefix).events(), JSON.stringify({ type: 'gap', pair: s.pair, period: s.period, from: 0, to: s.lastTime }));
    } finally {
      pub.disconnect();
    }
    await expect.poll(() => historyRequests, { timeout: 5_000 }).toBeGreaterThan(requests);
    expect((await shown()).bars).toBeGreaterThan(0);
    expect(errors).toEqual([]);
  });

  it('switches pair and period', async () => {
    await page.selectOption('#pair', 'XRP_USDT');
    let s = await waitShown('XRP_USDT 1s', (x) => x.pair === 'XRP_USDT' && x.bars > 0);
    expect(s.period).toBe('1s');
    // Quoted in 0.00001: the scale follows the data's decimals.
    expect(s.precision).toBeGreaterThanOrEqual(4);
    expect(await page.textContent('#legend [data-field="pair"]')).toBe('XRP_USDT');
    expect(Number(await page.textContent('#legend [data-field="close"]'))).toBeLessThan(10);

    await page.selectOption('#period', '5s');
    s = await waitShown('XRP_USDT 5s', (x) => x.period === '5s' && x.bars > 0);
    expect(s.pair).toBe('XRP_USDT');
    expect(s.lastTime % 5000).toBe(0);
    expect(await page.textContent('#legend [data-field="period"]')).toBe('5s');
    expect(new URL(page.url()).search).toBe('?pair=XRP_USDT&period=5s');

    // And back: the feed follows, candles of the previous subscription are not drawn here.
    await page.selectOption('#pair', 'BTC_USDT');
    await page.selectOption('#period', '1s');
    s = await waitShown('BTC_USDT 1s', (x) => x.pair === 'BTC_USDT' && x.period === '1s' && x.bars > 0);
    const last = s.lastTime;
    await waitShown('a new BTC_USDT 1s candle', (x) => x.pair === 'BTC_USDT' && x.lastTime > last, 5_000);
    expect(Number(await page.textContent('#legend [data-field="close"]'))).toBeGreaterThan(1000);
    expect(await connection()).toBe('live');
    expect(errors).toEqual([]);
  });

  it('revises an older, closed candle in place (a late trade) with the real chart library', async () => {
    // A chart of its own beside the page's, fed by hand: the pipeline's
    // revisions cannot be timed from here.
    // A string, not a function: vitest would rewrite a function's import() for Node.
    const r = await page.evaluate<{ bars: [number, number][]; dataset: Record<string, string> }>(`(async () => {
      const { ChartView } = await import('/chart-view.js');
      const box = document.createElement('div');
      const legend = document.querySelector('#legend').cloneNode(true);
      document.body.append(box);
      const c = (time, high, closed) =>
        ({ time, open: '1.5', high, low: '1.25', close: '1.5', volume: '2', quoteVolume: '3', trades: 1, closed });
      const view = new ChartView(box, legend);
      view.reset('TEST_USDT', '1s');
      view.setCandles([c(1000, '1.5', true), c(2000, '1.5', true), c(4000, '1.5', false)], true);
      view.apply(c(1000, '9.00001', true)); // a revision, older than the last bar
      view.apply(c(3000, '2', true)); // a bucket we did not have
      view.apply(c(4000, '1.75', false)); // the forming one moves
      view.apply(c(5000, '1.5', false)); // the next one starts
      const bars = view.candleSeries.data().map((b) => [b.time, b.high]);
      const out = { bars, dataset: { ...box.dataset } };
      view.chart.remove();
      box.remove();
      return out;
    })()`);
    expect(r.bars).toEqual([
      [1, 9.00001],
      [2, 1.5],
      [3, 2],
      [4, 1.75],
      [5, 1.5],
    ]);
    expect(r.dataset).toMatchObject({ pair: 'TEST_USDT', bars: '5', lastTime: '5000', precision: '5' });
    expect(errors).toEqual([]);
  });

  it('shows the outage when the API restarts, then reconnects and fills the gap', async () => {
    const port = Number(new URL(api!.url).port);
    await api!.close();
    api = undefined;
    await expect.poll(connection, { timeout: 5_000 }).toBe('reconnecting');
    expect(await page.getAttribute('#status', 'data-down')).toBe('feed');
    expect(await page.textContent('#status')).toBe('Reconnecting to the server…');
    const down = await shown();
    await page.waitForTimeout(1_500);
    api = await startTestApi(port);
    await expect.poll(connection, { timeout: 10_000 }).toBe('live');
    // History refetched: the candles that closed while the API was down are there.
    const s = await waitShown('the gap filled', (x) => x.lastTime >= down.lastTime + 2_000);
    expect(s.bars).toBeGreaterThanOrEqual(down.bars + 2);
    await waitShown('live candles again', (x) => x.lastTime > s.lastTime, 5_000);

    // A refused connection is logged by Chromium itself; anything else is a bug.
    const unexpected = errors.filter((e) => !/WebSocket connection to .* failed|Failed to load resource|ERR_CONNECTION_REFUSED/.test(e));
    expect(unexpected).toEqual([]);

    await page.mouse.move(5, 5); // off the chart: no crosshair in the picture
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}dashboard.png` });
  });
});
