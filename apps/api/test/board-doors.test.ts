/**
 * The board's doors against other web pages (guards/admin-doors.ts), over
 * real HTTP: a request that changes something must come from the API's own
 * pages, and an open board (no credentials) answers only to a loopback Host,
 * so a DNS-rebinding page cannot reach it.
 */
import { request } from 'node:http';
import { Writable } from 'node:stream';
import type { Queue } from 'bullmq';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLogger, openCloseQueue } from '@candlestack/shared';
import { startTestApi, type TestApi } from './helpers.js';
import { rawRequest } from './raw-http.js';

interface Answer {
  readonly status: number;
  readonly body: string;
  readonly code: string | undefined;
}

/** One request with exactly these headers (fetch() would not send Host, Origin or Sec-Fetch-Site as given). */
function send(url: string, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, method, path, headers: { ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}), ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        let code: string | undefined;
        try {
          code = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
        } catch {}
        resolve({ status: res.statusCode ?? 0, body: text, code });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const addJob = (name: string) => JSON.stringify({ name, data: { from: 'test' } });
const basic = { authorization: `Basic ${Buffer.from('admin:correct horse').toString('base64')}` };

describe('the open board (loopback, no credentials)', () => {
  let t: TestApi;
  let queue: Queue;
  let self: string;
  const warnings: string[] = [];
  beforeAll(async () => {
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        const line = JSON.parse(chunk.toString()) as { level: number; msg: string };
        if (line.level === 40) warnings.push(line.msg);
        done();
      },
    });
    t = await startTestApi({}, { log: createLogger('api', 'info', stream) });
    self = t.api.url;
    queue = openCloseQueue(t.redis, t.keys, { watchOnly: true });
  });
  afterAll(async () => {
    await queue.close();
    await t.stop();
  });
  beforeEach(async () => {
    await queue.obliterate({ force: true });
  });
  const jobNames = async () => (await queue.getJobs()).map((j) => j.name);

  it('says at start that it is open, and where', () => {
    expect(warnings).toContain(
      `Bull Board at ${t.api.boardUrl} is open to anyone on this machine (no ADMIN_USER/ADMIN_PASSWORD): set them to require a password`,
    );
  });

  it("lets the board's own page act (its Origin), and curl (no Origin)", async () => {
    const path = '/admin/queues/api/queues/close/add';
    const json = { 'content-type': 'application/json' };
    expect((await send(self, 'POST', path, { ...json, origin: self, 'sec-fetch-site': 'same-origin' }, addJob('from the page'))).status).toBe(200);
    expect((await send(self, 'POST', path, json, addJob('from curl'))).status).toBe(200);
    expect((await send(self, 'POST', path, { ...json, 'sec-fetch-site': 'same-origin' }, addJob('no Origin, same-origin'))).status).toBe(200);
    expect((await jobNames()).sort()).toEqual(['from curl', 'from the page', 'no Origin, same-origin']);
    // Pause and resume, as the board's buttons do.
    expect((await send(self, 'PUT', '/admin/queues/api/queues/close/pause', { origin: self })).status).toBe(200);
    expect(await queue.isPaused()).toBe(true);
    expect((await send(self, 'PUT', '/admin/queues/api/queues/close/resume', { origin: self })).status).toBe(200);
    expect(await queue.isPaused()).toBe(false);
  });

  it('refuses every other site, and does nothing of what it asked', async () => {
    const port = new URL(self).port;
    const foreign: Record<string, string>[] = [
      { origin: 'http://evil.example' },
      { origin: 'https://evil.example' },
      { origin: `http://localhost:${port}` }, // another origin, though the same server
      { origin: 'http://127.0.0.1:5173' }, // another local server: same site, not same origin
      { origin: 'null' }, // a sandboxed frame, a file:// page, a redirect
      { origin: self, 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-site' },
      { 'sec-fetch-site': 'none' },
    ];
    for (const headers of foreign) {
      for (const [method, path, body, type] of [
        // The one that was reported: a text/plain POST, which needs no preflight.
        ['POST', '/admin/queues/api/queues/close/add', addJob('evil'), 'text/plain'],
        ['POST', '/admin/queues/api/queues/close/add', addJob('evil'), 'application/json'],
        ['PUT', '/admin/queues/api/queues/close/pause', '', 'text/plain'],
        ['PUT', '/admin/queues/api/queues/close/clean/completed', '', 'text/plain'],
        ['PUT', '/ADMIN/Queues/api/queues/close/pause', '', 'text/plain'],
        ['DELETE', '/admin/queues/api/queues/close', '', 'text/plain'],
        ['PATCH', '/admin/queues/api/queues/close', '{}', 'application/json'],
        ['POST', '/admin/dead-letter', '', 'text/plain'],
      ] as const) {
        const res = await send(self, method, path, { ...headers, 'content-type': type }, body);
        expect(res.status, `${method} ${path} ${JSON.stringify(headers)}`).toBe(403);
        expect(JSON.parse(res.body)).toEqual({
          error: { code: 'forbidden_origin', message: `${method} on the admin pages is allowed only from the API's own pages, not from another site` },
        });
      }
    }
    expect(await jobNames()).toEqual([]);
    expect(await queue.isPaused()).toBe(false);
  });

  it('lets any page read (it cannot see the answer: no CORS on /admin)', async () => {
    const res = await send(self, 'GET', '/admin/queues/api/queues', { origin: 'http://evil.example', 'sec-fetch-site': 'cross-site' });
    expect(res.status).toBe(200);
  });

  it('answers only to a loopback Host name (DNS rebinding)', async () => {
    const port = new URL(self).port;
    for (const host of ['localhost', `localhost:${port}`, `LOCALHOST:${port}`, `127.0.0.1:${port}`, '127.0.0.2', `[::1]:${port}`]) {
      expect((await send(self, 'GET', '/admin/queues/api/queues', { host })).status, host).toBe(200);
    }
    for (const host of [`evil.example:${port}`, 'evil.example', '127.0.0.1.evil.example', `localhost.evil.example:${port}`, '0.0.0.0', '[::2]', `127.0.0.1@evil.example`]) {
      for (const path of ['/admin/queues', '/admin/queues/api/queues', '/admin/queues/static/favicon.ico', '/admin/dead-letter', '/admin/audit', '/Admin/Queues/api/queues']) {
        const res = await send(self, 'GET', path, { host });
        expect(res.status, `${host} ${path}`).toBe(403);
        expect(res.code).toBe('forbidden_host');
      }
    }
    // The page that rebound its name is same-origin with itself: the Host gives it away.
    const rebound = await send(self, 'PUT', '/admin/queues/api/queues/close/pause', { host: `evil.example:${port}`, origin: `http://evil.example:${port}` });
    expect(rebound.status).toBe(403);
    expect(await queue.isPaused()).toBe(false);
    // No Host at all (HTTP/1.0) is no loopback name either.
    const bare = await rawRequest(self, 'GET /admin/queues/api/queues HTTP/1.0\r\n\r\n');
    expect(bare.status).toBe(403);
  });

  it('leaves the rest of the API alone', async () => {
    const port = new URL(self).port;
    expect((await send(self, 'GET', '/pairs', { host: `evil.example:${port}` })).status).toBe(200);
    expect((await send(self, 'GET', '/healthz', { host: `evil.example:${port}`, origin: 'http://evil.example' })).status).toBe(200);
    expect((await send(self, 'POST', '/pairs', { origin: 'http://evil.example', 'content-type': 'text/plain' }, 'x')).status).toBe(405);
  });
});

describe('the board with ADMIN_USER and ADMIN_PASSWORD', () => {
  let t: TestApi;
  let self: string;
  const warnings: string[] = [];
  beforeAll(async () => {
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        const line = JSON.parse(chunk.toString()) as { level: number; msg: string };
        if (line.level >= 40) warnings.push(line.msg);
        done();
      },
    });
    t = await startTestApi({ ADMIN_USER: 'admin', ADMIN_PASSWORD: 'correct horse' }, { log: createLogger('api', 'info', stream) });
    self = t.api.url;
  });
  afterAll(() => t.stop());

  it('says nothing of an open board', () => {
    expect(warnings.filter((w) => /open to anyone/.test(w))).toEqual([]);
  });

  it('answers to any Host name (a proxy, a DNS name): the credentials guard it', async () => {
    expect((await send(self, 'GET', '/admin/queues/api/queues', { host: 'board.example', ...basic })).status).toBe(200);
    expect((await send(self, 'GET', '/admin/queues/api/queues', { host: 'board.example' })).status).toBe(401);
  });

  it('still refuses other sites, even with the credentials (a browser sends them by itself)', async () => {
    const pause = '/admin/queues/api/queues/close/pause';
    const refused = await send(self, 'PUT', pause, { ...basic, origin: 'http://evil.example' });
    expect(refused.status).toBe(403);
    expect(refused.code).toBe('forbidden_origin');
    expect((await send(self, 'PUT', pause, { ...basic, 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    // Behind a proxy, the page's Origin names the Host the proxy passes on.
    expect((await send(self, 'PUT', pause, { ...basic, host: 'board.example', origin: 'https://board.example' })).status).toBe(200);
    expect((await send(self, 'PUT', '/admin/queues/api/queues/close/resume', { ...basic, origin: self })).status).toBe(200);
  });
});
