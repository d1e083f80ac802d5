/**
 * Imported history on the dashboard (issue 12), in a real browser (Debian's
 * Chromium, driven by playwright-core, as in dashboard.test.ts) against a
 * real API and Redis seeded as the ingester leaves pairs whose history was
 * imported (history-market.ts): the chart marks where live data begins (the
 * marker as the chart library holds it, read back from the chart element's
 * data attributes), says when that candle is incomplete, tells since when
 * the history comes from the exchange and since when it is live, and names
 * an imported candle as the exchange's in the legend.
 *
 * Chromium is required unless SKIP_BROWSER=1 (see dashboard.test.ts).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from './helpers.js';
import { LAST, LIVE_FROM, MIN, T0, seedHistory } from './history-market.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SKIP = process.env.SKIP_BROWSER === '1';
const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/', import.meta.url));

describe.skipIf(SKIP)('imported history on the dashboard, in Chromium', () => {
  let t: TestApi;
  let browser: Browser | undefined;
  let page: Page;
  /** Console errors and uncaught exceptions of the page. */
  const errors: string[] = [];

  /** The chart element's data attributes (see public/chart-view.js). */
  const shown = () =>
    page.$eval('#chart', (el) => {
      const d = (el as unknown as { dataset: Record<string, string | undefined> }).dataset;
      return { pair: d.pair, period: d.period, bars: Number(d.bars), lastTime: Number(d.lastTime), markerTime: d.liveMarkerTime, markerText: d.liveMarkerText };
    });
  /** The history line, '' while hidden. */
  const historyLine = async () => ((await page.isVisible('#history')) ? ((await page.textContent('#history')) ?? '') : '');

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`Chromium is not at ${CHROMIUM}: install it (apt-get install -y chromium), set CHROMIUM_PATH, or SKIP_BROWSER=1 to skip the browser tests`);
    }
    t = await startTestApi();
    await seedHistory(t);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  });

  afterAll(async () => {
    await browser?.close();
    await t?.stop();
  });

  it('marks where live data begins, says the boundary candle is incomplete, and since when history and live run', async () => {
    await page.goto(`${t.api.url}/?pair=BTC_USDT&period=1m`);
    await expect.poll(shown).toMatchObject({ pair: 'BTC_USDT', period: '1m', bars: 180, lastTime: LAST });
    await expect.poll(shown).toMatchObject({ markerTime: String(LIVE_FROM), markerText: 'Live from here (incomplete candle)' });
    expect(await historyLine()).toBe(
      'History imported from the exchange since 2024-01-01 00:00 UTC; live since 2024-01-01 02:02 UTC (that 1m candle is incomplete: the exchange no longer listed all its trades).',
    );
    expect(await page.getAttribute('#history', 'data-boundary')).toBe('incomplete');
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}dashboard-history.png` });
  });

  it("names an imported candle as the exchange's in the legend, and a live one not", async () => {
    // The view shows the newest 90 bars: the left part is imported (before 02:02), the right part live.
    const box = (await page.locator('#chart canvas').first().boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.1, box.y + box.height / 2);
    await expect.poll(() => page.textContent('#legend [data-field="status"]')).toBe("closed · the exchange's candle");
    const hovered = Date.parse(`${(await page.textContent('#legend [data-field="time"]'))!.replace(' UTC', '')}Z`);
    expect(hovered).toBeLessThan(LIVE_FROM);
    await page.mouse.move(box.x + box.width * 0.85, box.y + box.height / 2);
    await expect.poll(() => page.textContent('#legend [data-field="status"]')).toBe('closed');
    await page.mouse.move(0, 0);
  });

  it('puts the marker on the 5m candle holding the boundary', async () => {
    await page.selectOption('#period', '5m');
    await expect.poll(shown).toMatchObject({ pair: 'BTC_USDT', period: '5m', bars: 36, markerTime: String(T0 + 120 * MIN), markerText: 'Live from here (incomplete candle)' });
    expect(await historyLine()).toMatch(/^History imported from the exchange since 2024-01-01 00:00 UTC; live since 2024-01-01 02:02 UTC \(that 1m candle is incomplete/);
  });

  it('says nothing of an incomplete candle when the boundary is exact', async () => {
    await page.selectOption('#pair', 'ETH_USDT');
    await expect.poll(shown).toMatchObject({ pair: 'ETH_USDT', period: '5m', bars: 36, markerTime: String(T0 + 120 * MIN), markerText: 'Live from here' });
    expect(await historyLine()).toBe('History imported from the exchange since 2024-01-01 00:00 UTC; live since 2024-01-01 02:02 UTC.');
    expect(await page.getAttribute('#history', 'data-boundary')).toBe('exact');
  });

  it('says an import is under way, with no marker yet', async () => {
    await page.selectOption('#pair', 'XRP_USDT');
    await expect.poll(shown).toMatchObject({ pair: 'XRP_USDT', markerTime: '', markerText: '' });
    expect(await historyLine()).toBe('Importing history from the exchange since 2024-01-01 00:00 UTC…');
  });

  it('shows neither marker nor line for a pair with no imported history', async () => {
    await page.selectOption('#pair', 'LTC_USDT');
    await expect.poll(shown).toMatchObject({ pair: 'LTC_USDT', markerTime: '', markerText: '' });
    expect(await historyLine()).toBe('');
    expect(errors).toEqual([]);
  });
});
