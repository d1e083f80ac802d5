/**
 * The board's doors as a browser meets them (Debian's Chromium, driven by
 * playwright-core, as in dashboard.test.ts): the board's own buttons still
 * act, since its fetch() calls carry its own Origin; a page of another site
 * (a classic form POST, a no-cors fetch) cannot add a job; and a page whose
 * name resolves to 127.0.0.1 (DNS rebinding, simulated with Chromium's
 * host resolver rules) gets nothing from the open board.
 *
 * Chromium is required unless SKIP_BROWSER=1 (see dashboard.test.ts).
 */
import { existsSync } from 'node:fs';
import type { Queue } from 'bullmq';
import { chromium, type Browser, type BrowserContext, type Page, type Request } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openCloseQueue } from '@candlestack/shared';
import { startTestApi, type TestApi } from './helpers.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SKIP = process.env.SKIP_BROWSER === '1';
/** A name of another site, which Chromium resolves to 127.0.0.1 (see launch). */
const EVIL = 'evil.example';

describe.skipIf(SKIP)('the open board in Chromium', () => {
  let t: TestApi;
  let queue: Queue;
  let browser: Browser | undefined;
  let context: BrowserContext;
  let page: Page;
  /** Status of each non-GET request the browser made to the API: "PUT /admin/... 200". */
  const answers: string[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`Chromium is not at ${CHROMIUM}: install it (apt-get install -y chromium), set CHROMIUM_PATH, or SKIP_BROWSER=1 to skip the browser tests`);
    }
    t = await startTestApi();
    queue = openCloseQueue(t.redis, t.keys, { watchOnly: true });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        // What a rebinding attacker achieves with its own DNS server.
        `--host-resolver-rules=MAP ${EVIL} 127.0.0.1`,
        // Chromium's Local Network Access would stop a public page's
        // requests to 127.0.0.1 itself (or ask the user); Firefox and Safari
        // have no such check, and a user may allow it. Off, so that what
        // stops them here is the API.
        '--disable-features=LocalNetworkAccessChecks,LocalNetworkAccessChecksWebSockets,BlockInsecurePrivateNetworkRequests,PrivateNetworkAccessSendPreflights',
      ],
    });
    context = await browser.newContext();
    page = await context.newPage();
    page.on('response', (r) => {
      const req = r.request();
      if (req.method() !== 'GET') answers.push(`${req.method()} ${new URL(r.url()).pathname} ${r.status()}`);
    });
  });
  afterAll(async () => {
    await browser?.close();
    await queue?.close();
    await t?.stop();
  });
  beforeEach(async () => {
    answers.length = 0;
    await queue.obliterate({ force: true });
  });

  it("pauses the queue from the board's own menu (its requests carry its Origin)", async () => {
    const origins: (string | undefined)[] = [];
    const record = (r: Request) => {
      if (r.method() === 'PUT') void r.allHeaders().then((h) => origins.push(h.origin));
    };
    page.on('request', record);
    await page.goto(`${t.api.boardUrl}/queue/close`);
    // The queue's actions menu (the ⋮ by its tabs), Pause, then Confirm.
    await page.locator('button[aria-haspopup="menu"]').last().click();
    await page.getByRole('menuitem', { name: 'Pause' }).click();
    await page.getByRole('button', { name: 'Confirm' }).click();
    await expect.poll(() => answers).toContain('PUT /admin/queues/api/queues/close/pause 200');
    await expect.poll(() => origins).toEqual([t.api.url]);
    expect(await queue.isPaused()).toBe(true);
    page.off('request', record);
    await queue.resume();
  });

  it('adds nothing when a page of another site posts to it', async () => {
    const target = `${t.api.boardUrl}/api/queues/close/add`;
    // Each POST the browser sent, once it is over: answered, or its answer
    // kept from the page (helmet's Cross-Origin-Resource-Policy), which
    // means the API received it all the same.
    let settled = 0;
    const done = (r: { method(): string; url(): string }) => {
      if (r.method() === 'POST' && r.url() === target) settled++;
    };
    page.on('requestfinished', done);
    page.on('requestfailed', done);
    // The attacker's page, served as http://evil.example by the test: a
    // classic form POST (text/plain, so a JSON body) and a no-cors fetch,
    // neither of which a browser preflights.
    await page.route(`http://${EVIL}/`, (route) =>
      route.fulfill({
        contentType: 'text/html',
        body: `<!doctype html><body>
          <iframe name="sink"></iframe>
          <form id="f" method="POST" action="${target}" enctype="text/plain" target="sink">
            <input name='{"name":"by form","x":"' value='"}'>
          </form>
          <script>
            document.getElementById('f').submit();
            fetch(${JSON.stringify(target)}, { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body: '{"name":"by fetch"}' });
          </script>`,
      }),
    );
    await page.goto(`http://${EVIL}/`);
    await expect.poll(() => settled).toBe(2);
    expect(await queue.getJobs()).toEqual([]);
    page.off('requestfinished', done);
    page.off('requestfailed', done);
  });

  it('gives nothing to a page whose name was rebound to 127.0.0.1', async () => {
    const url = `http://${EVIL}:${new URL(t.api.url).port}`;
    const res = await page.goto(`${url}/admin/queues`);
    expect(res?.status()).toBe(403);
    expect(await res?.json()).toMatchObject({ error: { code: 'forbidden_host' } });
    // The attacker's page came from its own server under that name (here:
    // from the test); its requests now reach 127.0.0.1, same-origin with
    // the page, so only the Host name stops them.
    await page.route(`${url}/attack`, (route) => route.fulfill({ contentType: 'text/html', body: '<!doctype html><p>hello</p>' }));
    await page.goto(`${url}/attack`);
    const status = await page.evaluate(async () => (await fetch('/admin/queues/api/queues/close/pause', { method: 'PUT' })).status);
    expect(status).toBe(403);
    expect(await queue.isPaused()).toBe(false);
    // The same server under its own name still answers.
    expect((await page.goto(t.api.boardUrl))?.status()).toBe(200);
  });
});
