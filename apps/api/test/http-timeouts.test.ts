/**
 * Slow clients are cut (guards/http-timeouts.ts): a body trickled a byte a
 * second, headers that never end, a connection that says nothing, an idle
 * keep-alive. With Node's defaults the first held a connection for 312 s.
 * The limits are made small here; the defaults are checked on the server.
 */
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_HTTP_TIMEOUTS, type HttpTimeouts } from '../src/guards/http-timeouts.js';
import { startTestApi, type TestApi } from './helpers.js';
import { slowClient } from './raw-http.js';

const LIMITS: HttpTimeouts = { headersMs: 1_000, requestMs: 2_500, keepAliveMs: 300, idleMs: 1_500, checkEveryMs: 100 };
/** How late a cut may come: Node's check interval, plus a loaded machine's delays. */
const SLACK_MS = 1_000;

const timeoutBody = JSON.stringify({ error: { code: 'request_timeout', message: 'the request took too long to arrive' } });

describe('slow clients', () => {
  let t: TestApi;
  let host: string;
  beforeAll(async () => {
    t = await startTestApi({}, { httpTimeouts: LIMITS });
    host = new URL(t.api.url).host;
  });
  afterAll(() => t.stop());

  it('cuts a body trickled a byte a second at the request timeout, with 408', async () => {
    // A route that reads its body (the board's add), and one that answers
    // without reading it (405): the unread rest of the body is waited for
    // too, and cut alike.
    const [reading, ignoring] = await Promise.all(
      ['/admin/queues/api/queues/close/add', '/pairs'].map((path) =>
        slowClient(t.api.url, `POST ${path} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: 900\r\n\r\n{`, {
          data: ' ',
          everyMs: 1_000,
        }),
      ),
    );
    for (const r of [reading!, ignoring!]) {
      expect(r.closedAfterMs).toBeGreaterThanOrEqual(LIMITS.requestMs - 100);
      expect(r.closedAfterMs).toBeLessThan(LIMITS.requestMs + SLACK_MS);
      expect(r.drips).toBeLessThan(900);
    }
    expect(reading!.received).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(reading!.received.endsWith(`\r\n\r\n${timeoutBody}`)).toBe(true);
    expect(ignoring!.received).toMatch(/^HTTP\/1\.1 405 /);
  });

  it('cuts headers that never end, and a connection that says nothing, at the headers timeout', async () => {
    const results = await Promise.all([
      slowClient(t.api.url, `GET /pairs HTTP/1.1\r\nHost: ${host}\r\nX-Slow: `, { data: 'a', everyMs: 200 }),
      slowClient(t.api.url, ''),
    ]);
    for (const r of results) {
      expect(r.closedAfterMs).toBeGreaterThanOrEqual(LIMITS.headersMs - 100);
      expect(r.closedAfterMs).toBeLessThan(LIMITS.headersMs + SLACK_MS);
      expect(r.received).toBe(
        `HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${timeoutBody.length}\r\nConnection: close\r\n\r\n${timeoutBody}`,
      );
    }
  });

  it('closes a kept-alive connection soon after its answer', async () => {
    const r = await slowClient(t.api.url, `GET /healthz HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
    expect(r.received).toMatch(/^HTTP\/1\.1 200 /);
    // Node waits its keep-alive timeout plus a second of its own margin.
    expect(r.closedAfterMs).toBeGreaterThanOrEqual(LIMITS.keepAliveMs);
    expect(r.closedAfterMs).toBeLessThan(LIMITS.keepAliveMs + 1_000 + SLACK_MS);
  });

  it('leaves a quiet WebSocket open past the idle timeout', async () => {
    const ws = new WebSocket(`${t.api.url.replace('http', 'ws')}/ws`);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    await new Promise((r) => setTimeout(r, LIMITS.idleMs + 500));
    expect(ws.readyState).toBe(WebSocket.OPEN);
    const answer = new Promise<string>((resolve) => ws.once('message', (m: Buffer) => resolve(m.toString())));
    ws.send(JSON.stringify({ op: 'subscribe', pair: 'BTC_USDT', period: '1m' }));
    expect(await answer).toMatch(/BTC_USDT/);
    ws.close();
  });
});

describe('the default limits', () => {
  it('are set on the server', async () => {
    const t = await startTestApi();
    try {
      const s = t.api.server;
      expect({ headers: s.headersTimeout, request: s.requestTimeout, keepAlive: s.keepAliveTimeout, idle: s.timeout }).toEqual({
        headers: DEFAULT_HTTP_TIMEOUTS.headersMs,
        request: DEFAULT_HTTP_TIMEOUTS.requestMs,
        keepAlive: DEFAULT_HTTP_TIMEOUTS.keepAliveMs,
        idle: DEFAULT_HTTP_TIMEOUTS.idleMs,
      });
      expect(DEFAULT_HTTP_TIMEOUTS).toMatchObject({ headersMs: 10_000, requestMs: 30_000, keepAliveMs: 5_000 });
    } finally {
      await t.stop();
    }
  });
});
