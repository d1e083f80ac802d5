/**
 * The HTTP guards against a started API: security headers, the rate limit,
 * request size limits, answers to what Node's parser refuses, and error
 * bodies that never show internals.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RequestHandler } from 'express';
import { freePort } from '../../../test/support/redis-server.js';
import { startTestApi, type ErrorBody, type TestApi } from './helpers.js';
import { rawGet, rawRequest } from './raw-http.js';

const isErrorBody = (b: unknown, code: string) => expect((b as ErrorBody).error).toEqual({ code, message: expect.any(String) });

describe('security headers', () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await startTestApi();
  });
  afterAll(() => t.stop());

  it("are on every answer, errors included, with a CSP that lets a JSON answer load and frame nothing", async () => {
    for (const path of ['/pairs', '/healthz', '/nope', '/candles/BTC_USDT/7m']) {
      const res = await t.fetch(path);
      await res.arrayBuffer();
      const h = res.headers;
      expect(h.get('content-security-policy'), path).toBe("default-src 'none';base-uri 'none';form-action 'none';frame-ancestors 'none'");
      expect(h.get('x-content-type-options'), path).toBe('nosniff');
      expect(h.get('x-frame-options'), path).toBe('DENY');
      expect(h.get('referrer-policy'), path).toBe('no-referrer');
      expect(h.get('strict-transport-security'), path).toMatch(/^max-age=\d+/);
      expect(h.get('cross-origin-resource-policy'), path).toBe('same-origin');
      expect(h.get('x-powered-by'), path).toBeNull();
    }
  });
});

describe('the rate limit', () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await startTestApi({ RATE_LIMIT: '5' });
  });
  afterAll(() => t.stop());

  it('answers past RATE_LIMIT requests a minute with 429, Retry-After and the JSON error', async () => {
    for (let i = 0; i < 5; i++) {
      const res = await t.get('/pairs');
      expect(res.status).toBe(200);
      expect(res.headers.get('ratelimit')).toMatch(/limit=5, remaining=\d+, reset=\d+/);
    }
    const over = await t.get<ErrorBody>('/candles/BTC_USDT/1m');
    expect(over.status).toBe(429);
    const retry = Number(over.headers.get('retry-after'));
    expect(retry).toBeGreaterThan(0);
    expect(retry).toBeLessThanOrEqual(60);
    isErrorBody(over.body, 'rate_limited');
    expect(over.body.error.message).toMatch(/more than 5 requests in a minute/);
    // Whatever the route, the 404 and the dashboard included.
    expect((await t.fetch('/nope')).status).toBe(429);
    expect((await t.fetch('/')).status).toBe(429);
  });

  it('never limits the probes and the scrape', async () => {
    for (let i = 0; i < 20; i++) {
      for (const path of ['/healthz', '/readyz', '/metrics']) {
        const res = await t.fetch(path);
        await res.arrayBuffer();
        expect(res.status, path).not.toBe(429);
        expect(res.headers.get('ratelimit'), path).toBeNull();
      }
    }
  });

  it('is off with RATE_LIMIT=0', async () => {
    const off = await startTestApi({ RATE_LIMIT: '0' });
    try {
      for (let i = 0; i < 30; i++) {
        const res = await off.fetch('/pairs');
        await res.arrayBuffer();
        expect(res.status).toBe(200);
        expect(res.headers.get('ratelimit')).toBeNull();
      }
    } finally {
      await off.stop();
    }
  });

  // Two clients behind one proxy (the test's requests all come from 127.0.0.1, the "proxy").
  const twoClients = async (env: Record<string, string>) => {
    const api = await startTestApi({ RATE_LIMIT: '3', ...env });
    try {
      const from = async (client: string) => {
        const res = await api.fetch('/pairs', { headers: { 'X-Forwarded-For': client } });
        await res.arrayBuffer();
        return res.status;
      };
      const a = [await from('203.0.113.7'), await from('203.0.113.7'), await from('203.0.113.7')];
      return { a, b: await from('198.51.100.9'), aAgain: await from('203.0.113.7') };
    } finally {
      await api.stop();
    }
  };

  it('counts each client behind a trusted proxy on its own (TRUST_PROXY)', async () => {
    for (const trust of ['1', 'loopback', '127.0.0.1/8']) {
      expect(await twoClients({ TRUST_PROXY: trust }), trust).toEqual({ a: [200, 200, 200], b: 200, aAgain: 429 });
    }
  });

  it('ignores X-Forwarded-For from a peer not trusted: one budget for all', async () => {
    expect(await twoClients({})).toEqual({ a: [200, 200, 200], b: 429, aAgain: 429 });
    // A proxy is trusted, but not this peer.
    expect(await twoClients({ TRUST_PROXY: '10.0.0.0/8' })).toEqual({ a: [200, 200, 200], b: 429, aAgain: 429 });
  });
});

/**
 * A request with a body, by http.request (fetch() refuses a body on GET):
 * a string goes with its Content-Length, a list of chunks goes chunked.
 */
function send(url: string, opts: http.RequestOptions, body?: string | string[]): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const length = typeof body === 'string' ? { 'content-length': Buffer.byteLength(body) } : {};
    const req = http.request(url, { ...opts, headers: { ...opts.headers, ...length } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    for (const chunk of [body ?? []].flat()) req.write(chunk);
    req.end();
  });
}

describe('request size limits', () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await startTestApi();
  });
  afterAll(() => t.stop());

  it('refuses a body over 1 KiB with 413, on any route, and closes the connection', async () => {
    for (const [method, path] of [['POST', '/pairs'], ['GET', '/candles/BTC_USDT/1m'], ['PUT', '/nope'], ['POST', '/admin/queues/api/queues/close/add']]) {
      const res = await send(`${t.api.url}${path}`, { method, headers: { 'content-type': 'application/json' } }, 'x'.repeat(1025));
      expect(res.status, `${method} ${path}`).toBe(413);
      expect(res.headers.connection).toBe('close');
      isErrorBody(JSON.parse(res.body), 'payload_too_large');
    }
    // Up to the limit, a body is only ignored: the route answers as usual.
    expect((await send(`${t.api.url}/pairs`, { method: 'GET' }, 'x'.repeat(1024))).status).toBe(200);
    expect((await send(`${t.api.url}/pairs`, { method: 'POST' }, 'x'.repeat(1024))).status).toBe(405);
  });

  it('refuses a body of unknown length (chunked) with 411', async () => {
    const res = await send(`${t.api.url}/pairs`, { method: 'POST' }, ['a', 'b']);
    expect(res.status).toBe(411);
    isErrorBody(JSON.parse(res.body), 'length_required');
  });

  it('refuses a URL over 8 KiB with 414', async () => {
    const res = await t.get<ErrorBody>(`/candles/BTC_USDT/1m?from=${'1'.repeat(8200)}`);
    expect(res.status).toBe(414);
    isErrorBody(res.body, 'uri_too_long');
    expect((await t.fetch(`/candles/BTC_USDT/1m?x=${'1'.repeat(8000)}`)).status).toBe(400);
  });

  it("answers what Node's parser refuses with the JSON error too", async () => {
    const url = t.api.url;
    const huge = await rawGet(url, '/pairs', 'GET', `X-Big: ${'a'.repeat(20_000)}\r\n`);
    expect(huge.status).toBe(431);
    isErrorBody(JSON.parse(huge.body), 'headers_too_large');
    for (const request of ['BREW /pairs HTTP/1.1\r\n\r\n', 'GET /pairs HTTP/9.9\r\n\r\n', 'GET /pa irs x HTTP/1.1\r\n\r\n', '\x00\x01\x02\r\n\r\n']) {
      const res = await rawRequest(url, request);
      expect(res.status, JSON.stringify(request)).toBe(400);
      isErrorBody(JSON.parse(res.body), 'bad_request');
    }
    // Still serving.
    expect((await t.fetch('/healthz')).status).toBe(200);
  });

  it('answers what Express never sees in JSON: no Host, CONNECT, a refused WebSocket handshake', async () => {
    const url = t.api.url;
    const host = `Host: ${new URL(url).host}\r\n`;
    const cases: [string, number, string][] = [
      ['GET /pairs HTTP/1.1\r\nConnection: close\r\n\r\n', 400, 'bad_request'],
      [`CONNECT ${new URL(url).host} HTTP/1.1\r\n${host}\r\n`, 405, 'method_not_allowed'],
      [`CONNECT /pairs HTTP/1.1\r\n${host}\r\n`, 405, 'method_not_allowed'],
      // Found by fuzz.test.ts: this target made the upgrade listener throw, which ended the process.
      [`GET //%ff/../x HTTP/1.1\r\n${host}Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n`, 404, 'not_found'],
      [`GET /ws HTTP/1.1\r\n${host}Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n`, 400, 'bad_request'],
      [`POST /ws HTTP/1.1\r\n${host}Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n`, 405, 'method_not_allowed'],
    ];
    for (const [request, status, code] of cases) {
      const res = await rawRequest(url, request);
      expect(res.status, request).toBe(status);
      isErrorBody(JSON.parse(res.body), code);
    }
    expect((await t.fetch('/healthz')).status).toBe(200);
  });
});

describe('error bodies', () => {
  // A test-only route, through the dashboard slot that startApi offers tests:
  // nothing like it ships. Each throws something with internals in it.
  const internals = 'connect ECONNREFUSED redis://:hunter2@10.9.8.7:6379 in /srv/candlestack/apps/api/dist/secret.js:42';
  const thrower: RequestHandler = (req, _res, next) => {
    if (req.path === '/test-boom') throw new Error(internals);
    if (req.path === '/test-boom-async') return Promise.reject(Object.assign(new TypeError(internals), { status: 500, expose: true }));
    if (req.path === '/test-boom-4xx') throw Object.assign(new Error(internals), { status: 400 });
    next();
  };
  let t: TestApi;
  beforeAll(async () => {
    t = await startTestApi({}, { dashboard: thrower });
  });
  afterAll(() => t.stop());

  it('a failure inside the API is a 500 with a generic message: no message, stack or path of ours', async () => {
    for (const path of ['/test-boom', '/test-boom-async']) {
      const res = await t.fetch(path);
      expect(res.status, path).toBe(500);
      expect(await res.json()).toEqual({ error: { code: 'internal', message: 'internal error' } });
    }
    const bad = await t.fetch('/test-boom-4xx');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: { code: 'bad_request', message: 'bad request' } });
  });

  it('with Redis unreachable, a 503 that names neither its address nor its password', async () => {
    const down = await startTestApi({ REDIS_URL: `redis://:hunter2@127.0.0.1:${await freePort()}` });
    try {
      // The board's API too, at once: BullMQ's own connection would hold its calls until Redis returns.
      for (const path of ['/pairs', '/candles/BTC_USDT/1m', '/readyz', '/admin/queues/api/queues']) {
        const res = await down.fetch(path, { signal: AbortSignal.timeout(5_000) });
        const text = await res.text();
        expect(res.status, path).toBe(503);
        expect(text, path).not.toMatch(/hunter2|127\.0\.0\.1|ECONNREFUSED|\bat \S+:\d+/);
      }
      const res = await down.get<ErrorBody>('/pairs');
      isErrorBody(res.body, 'unavailable');
    } finally {
      await down.stop();
    }
  });
});
