/** Bull Board at /admin/queues, and who may see it. */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '@candlestack/shared';
import { apiEnv } from '../src/env.js';
import { startApi } from '../src/server.js';
import { startTestApi, type ErrorBody, type TestApi } from './helpers.js';
import { rawGet } from './raw-http.js';

const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

describe('on a loopback address without credentials', () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await startTestApi();
  });
  afterAll(() => t.stop());

  it('serves the board, open, over the close and audit queues', async () => {
    const page = await t.fetch('/admin/queues');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const api = await t.get<{ queues: { name: string }[] }>('/admin/queues/api/queues');
    expect(api.status).toBe(200);
    expect(api.body.queues.map((q) => q.name)).toEqual(['close', 'audit']);
  });

  it('answers a malformed JSON body with 400, without internals', async () => {
    const res = await t.fetch('/admin/queues/api/queues/close/add', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"name":',
    });
    expect(res.status).toBe(400);
    expect(await res.text()).not.toMatch(/at .*\.js|SyntaxError|Unexpected/);
  });
});

describe('with ADMIN_USER and ADMIN_PASSWORD', () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await startTestApi({ ADMIN_USER: 'admin', ADMIN_PASSWORD: 'correct horse' });
  });
  afterAll(() => t.stop());

  it('asks for them (401 with WWW-Authenticate) and lets the right ones in', async () => {
    for (const headers of [{}, basic('admin', 'wrong'), basic('root', 'correct horse'), basic('admin', 'correct horse!'), { authorization: 'Bearer x' }]) {
      const res = await t.fetch('/admin/queues', { headers });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm="Candlestack admin"/);
      expect(((await res.json()) as ErrorBody).error.code).toBe('unauthorized');
    }
    expect((await t.fetch('/admin/queues', { headers: basic('admin', 'correct horse') })).status).toBe(200);
    expect((await t.fetch('/admin/queues/api/queues', { headers: basic('admin', 'correct horse') })).status).toBe(200);
  });

  it('refuses malformed Authorization headers, and a right password with the wrong user', async () => {
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const headers = [
      basic('Admin', 'correct horse'), // user names are case-sensitive
      basic('', 'correct horse'),
      basic('admin', ''),
      basic('admin:correct horse', ''),
      { authorization: `Basic ${b64('admincorrect horse')}` }, // no colon
      { authorization: `Basic ${b64('admin:correct horse')}===` },
      { authorization: `Basic ${b64('admin:correct horse')}!` },
      { authorization: `Digest ${b64('admin:correct horse')}` },
      { authorization: b64('admin:correct horse') },
      { authorization: 'Basic' },
      { authorization: 'Basic ' },
      { authorization: `Basic ${'A'.repeat(8000)}` },
      { authorization: `Basic ${b64(`admin:correct horse${'\u0000'}`)}` },
      { authorization: `Basic ${b64('admin:correct horse')}, Basic ${b64('admin:correct horse')}` },
    ];
    for (const h of headers) {
      const res = await t.fetch('/admin/queues/api/queues', { headers: h });
      expect(res.status, h.authorization).toBe(401);
      expect(((await res.json()) as ErrorBody).error.code).toBe('unauthorized');
    }
  });

  it("guards the board's API, its static files and its actions, however the path is written", async () => {
    const url = t.api.url;
    for (const target of [
      '/admin/queues/api/queues',
      '/admin/queues/api/queues?activeQueue=close',
      '/admin/queues/api/redis/stats',
      '/admin/queues/static/favicon.ico',
      '/admin/queues/queue/close',
      '/ADMIN/Queues/api/queues',
      '/admin/queues/./api/queues',
      '/admin/x/../queues/api/queues',
      '/admin/queues/api/../api/queues',
    ]) {
      const res = await rawGet(url, target);
      expect([401, 404], target).toContain(res.status);
      expect(res.body, target).not.toMatch(/"queues"|<html/i);
    }
    for (const [method, target] of [
      ['PUT', '/admin/queues/api/queues/close/pause'],
      ['PUT', '/admin/queues/api/queues/close/clean/completed'],
      ['POST', '/admin/queues/api/queues/close/add'],
    ] as const) {
      const res = await rawGet(url, target, method, 'Content-Length: 0\r\n');
      expect(res.status, `${method} ${target}`).toBe(401);
    }
    // Nothing of it was done: the queue is not paused.
    const queues = await t.get<{ queues: { name: string; isPaused: boolean }[] }>('/admin/queues/api/queues', {
      headers: basic('admin', 'correct horse'),
    });
    expect(queues.body.queues[0]).toMatchObject({ name: 'close', isPaused: false });
  });

  it("sets the board page's own CSP once in, and the API's strict one on the 401", async () => {
    const denied = await t.fetch('/admin/queues');
    expect(denied.headers.get('content-security-policy')).toMatch(/^default-src 'none'/);
    const page = await t.fetch('/admin/queues', { headers: basic('admin', 'correct horse') });
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('upgrade-insecure-requests');
  });

  it('guards only the board', async () => {
    expect((await t.fetch('/healthz')).status).toBe(200);
    expect((await t.fetch('/pairs')).status).toBe(200);
  });
});

describe('on a non-loopback address without credentials', () => {
  it('startApi refuses, naming ADMIN_USER and ADMIN_PASSWORD', async () => {
    const config = parseConfig(apiEnv, { HOST: '0.0.0.0', PORT: '0', REDIS_PREFIX: 'never-used' });
    const started = startApi(config);
    await expect(started).rejects.toBeInstanceOf(ConfigError);
    await expect(started).rejects.toThrow(/^refusing to listen on HOST=0\.0\.0\.0: .*ADMIN_USER and ADMIN_PASSWORD/);
  });

  it('the process exits 1 with one line on stderr', async () => {
    const run = (env: Record<string, string>) =>
      new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=development', 'src/main.ts'], {
          cwd: new URL('..', import.meta.url),
          env: { PATH: process.env.PATH, PORT: '0', REDIS_PREFIX: 'never-used', ...env },
        });
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('exit', (code) => resolve({ code, stderr }));
      });
    // (Half a credential is a config error too: see src/env.test.ts.)
    const { code, stderr } = await run({ HOST: '0.0.0.0' });
    expect(code).toBe(1);
    expect(stderr).toMatch(/^refusing to listen on HOST=0\.0\.0\.0: .*ADMIN_USER and ADMIN_PASSWORD[^\n]*\n$/);
  });
});
