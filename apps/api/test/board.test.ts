/** Bull Board at /admin/queues, and who may see it. */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '@candlestack/shared';
import { apiEnv } from '../src/env.js';
import { startApi } from '../src/server.js';
import { startTestApi, type ErrorBody, type TestApi } from './helpers.js';

const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

describe('on a loopback address without credentials', () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await startTestApi();
  });
  afterAll(() => t.stop());

  it('serves the board, open, over the close queue', async () => {
    const page = await t.fetch('/admin/queues');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const api = await t.get<{ queues: { name: string }[] }>('/admin/queues/api/queues');
    expect(api.status).toBe(200);
    expect(api.body.queues.map((q) => q.name)).toEqual(['close']);
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
