/**
 * Cross-origin access, HTTP and WebSocket: closed by default (the API's own
 * pages only), opened to the exact origins of CORS_ORIGINS for reading.
 */
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type ErrorBody, type TestApi } from './helpers.js';

const EVIL = 'https://evil.example';
const FRIEND = 'https://charts.example';

/** The outcome of a WebSocket upgrade with these headers: 'open', or the refusal's status and body. */
function upgrade(url: string, headers: Record<string, string>): Promise<'open' | { status: number; body: ErrorBody }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/ws`, { headers });
    ws.on('open', () => {
      ws.close();
      resolve('open');
    });
    ws.on('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as ErrorBody }));
    });
    ws.on('error', reject);
  });
}

const preflight = (origin: string, method = 'GET') => ({
  method: 'OPTIONS',
  headers: { origin, 'access-control-request-method': method },
});

describe('with CORS_ORIGINS unset', () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await startTestApi();
  });
  afterAll(() => t.stop());

  it('never sends Access-Control-Allow-Origin, to a request or a preflight', async () => {
    for (const origin of [EVIL, FRIEND, 'null', new URL(t.api.url).origin]) {
      for (const [path, init] of [['/pairs', { headers: { origin } }], ['/pairs', preflight(origin)], ['/candles/BTC_USDT/1m', preflight(origin)], ['/', preflight(origin)]] as const) {
        const res = await t.fetch(path, init);
        await res.arrayBuffer();
        expect(res.headers.get('access-control-allow-origin'), `${init.method ?? 'GET'} ${path} from ${origin}`).toBeNull();
        expect(res.headers.get('access-control-allow-methods')).toBeNull();
        // A preflight gets the route's answer: OPTIONS is not allowed there.
        if (init.method === 'OPTIONS') expect(res.status).toBe(405);
      }
    }
  });

  it('lets the API’s own pages and non-browser clients open /ws, and refuses other origins with 403', async () => {
    const self = new URL(t.api.url);
    expect(await upgrade(t.api.url, {})).toBe('open');
    expect(await upgrade(t.api.url, { origin: self.origin })).toBe('open');
    // Same host and port whatever the case; the scheme is not compared, as
    // behind a TLS proxy the API cannot know which one the page used.
    expect(await upgrade(t.api.url, { origin: `http://localhost:${self.port}`, host: `LOCALHOST:${self.port}` })).toBe('open');
    for (const origin of [EVIL, FRIEND, 'null', `http://${self.hostname}:1`, `http://${self.hostname}.evil.example:${self.port}`, 'not a url']) {
      const r = await upgrade(t.api.url, { origin });
      expect(r, origin).toEqual({ status: 403, body: { error: { code: 'forbidden_origin', message: expect.stringMatching(/origin/) } } });
    }
  });
});

describe('with CORS_ORIGINS set', () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await startTestApi({ CORS_ORIGINS: `${FRIEND}, http://localhost:5173` });
  });
  afterAll(() => t.stop());

  it('allows GET and HEAD from those origins, exactly, and says the answer varies by Origin', async () => {
    for (const method of ['GET', 'HEAD']) {
      const res = await t.fetch('/pairs', { method, headers: { origin: FRIEND } });
      await res.arrayBuffer();
      expect(res.headers.get('access-control-allow-origin')).toBe(FRIEND);
      expect(res.headers.get('access-control-allow-credentials')).toBeNull();
      expect(res.headers.get('vary')).toMatch(/Origin/);
    }
    for (const origin of [EVIL, `${FRIEND}:443`, 'https://charts.example.evil.example', 'http://charts.example', 'null']) {
      const res = await t.fetch('/pairs', { headers: { origin } });
      await res.arrayBuffer();
      expect(res.headers.get('access-control-allow-origin'), origin).toBeNull();
      expect(res.headers.get('vary')).toMatch(/Origin/);
    }
  });

  it('answers a preflight for GET from those origins, and nothing else', async () => {
    const ok = await t.fetch('/candles/BTC_USDT/1m', preflight('http://localhost:5173'));
    expect(ok.status).toBe(204);
    expect(ok.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
    expect(ok.headers.get('access-control-allow-methods')).toBe('GET, HEAD');
    for (const [origin, method] of [[EVIL, 'GET'], [FRIEND, 'POST'], [FRIEND, 'DELETE']] as const) {
      const res = await t.fetch('/pairs', preflight(origin, method));
      await res.arrayBuffer();
      expect(res.status).toBe(405);
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
    }
  });

  it('never shares the board', async () => {
    for (const init of [{ headers: { origin: FRIEND } }, preflight(FRIEND)]) {
      const res = await t.fetch('/admin/queues/api/queues', init);
      await res.arrayBuffer();
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
    }
  });

  it('lets those origins open /ws, besides its own pages', async () => {
    expect(await upgrade(t.api.url, { origin: FRIEND })).toBe('open');
    expect(await upgrade(t.api.url, { origin: new URL(t.api.url).origin })).toBe('open');
    expect(await upgrade(t.api.url, { origin: EVIL })).toMatchObject({ status: 403 });
  });
});
