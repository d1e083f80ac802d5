/**
 * No secret reaches a log: the API runs as its own process, at the most
 * verbose level, with board credentials and a Redis password, and is asked
 * everything (a failed and a successful login included) while Redis refuses
 * or ignores that password. Its whole stdout and stderr are then searched
 * for the secrets, as text and as the base64 that carries them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppProcess } from '../../../test/support/processes.js';
import { freePort } from '../../../test/support/redis-server.js';
import { TEST_REDIS_URL, deletePrefix, testPrefix } from '../../../test/support/redis.js';
import { waitFor } from '../../../test/support/wait.js';

const SECRET = 's3cret';
const ADMIN = { user: 'admin', password: `${SECRET}-pw` };
const REDIS_PASSWORD = `${SECRET}-redis`;
const b64 = (s: string) => Buffer.from(s).toString('base64');
/** Every user:password pair sent in an Authorization header below. */
const sentCredentials: string[] = [];
const basic = (user: string, password: string) => {
  sentCredentials.push(`${user}:${password}`);
  return { authorization: `Basic ${b64(`${user}:${password}`)}` };
};

/** Drives one API process through its routes, good and bad. */
async function exercise(url: string): Promise<void> {
  const get = async (path: string, init?: RequestInit) => {
    // A request left waiting would fail here, not as a test timeout.
    const res = await fetch(`${url}${path}`, { ...init, signal: AbortSignal.timeout(5_000) });
    await res.arrayBuffer();
    return res.status;
  };
  for (const path of ['/healthz', '/readyz', '/pairs', '/candles/BTC_USDT/1m', '/candles/BTC_USDT/7m', '/metrics', '/nope', '/admin/queues']) await get(path);
  expect(await get('/admin/queues', { headers: basic('root', ADMIN.password) })).toBe(401);
  expect(await get('/admin/queues/api/queues', { headers: basic(ADMIN.user, `${ADMIN.password}!`) })).toBe(401);
  expect(await get('/admin/queues', { headers: basic(ADMIN.user, ADMIN.password) })).toBe(200);
  await get('/admin/queues/api/queues', { headers: basic(ADMIN.user, ADMIN.password) });
  await get('/admin/queues/api/queues/close/add', {
    method: 'POST',
    headers: { ...basic(ADMIN.user, ADMIN.password), 'content-type': 'application/json' },
    body: '{"name":',
  });
  await get('/pairs', { method: 'POST', body: 'x'.repeat(2000), headers: basic(ADMIN.user, ADMIN.password) });
  const ws = new WebSocket(`${url.replace('http', 'ws')}/ws`, { headers: basic(ADMIN.user, ADMIN.password) });
  await new Promise<void>((resolve) => {
    ws.on('open', () => ws.send(JSON.stringify({ op: 'subscribe', pair: 'BTC_USDT', period: '1m' })));
    ws.on('message', () => ws.close());
    ws.on('close', () => resolve());
    ws.on('error', () => resolve());
  });
}

async function runApi(redisUrl: string): Promise<string> {
  const prefix = testPrefix('secrets');
  const api = AppProcess.start('api', {
    REDIS_URL: redisUrl,
    REDIS_PREFIX: prefix,
    HOST: '127.0.0.1',
    PORT: '0',
    ADMIN_USER: ADMIN.user,
    ADMIN_PASSWORD: ADMIN.password,
    LOG_LEVEL: 'trace',
  });
  try {
    const started = await api.waitForLog((l) => typeof l.url === 'string' && String(l.msg).startsWith('API at'), 'the start line');
    await exercise(started.url as string);
    // Let the Redis clients retry and log a few times.
    await new Promise((r) => setTimeout(r, 1500));
  } finally {
    await api.stop();
    await deletePrefix(prefix);
  }
  return api.lines.join('\n');
}

function expectNoSecret(output: string): void {
  expect(output.length).toBeGreaterThan(0);
  const forbidden = [SECRET, b64(SECRET), ...sentCredentials.map(b64), b64(`:${REDIS_PASSWORD}`)];
  for (const f of forbidden) {
    const at = output.indexOf(f);
    expect(at, `${f} in the logs: …${output.slice(Math.max(0, at - 200), at + 100)}…`).toBe(-1);
  }
}

describe('secrets in the logs', () => {
  let redis: ChildProcess;
  let port: number;
  beforeAll(async () => {
    // A Redis of this test's own that wants another password: AUTH fails.
    port = await freePort();
    redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--requirepass', 'another-password'], {
      stdio: 'ignore',
    });
    const listening = () =>
      new Promise<boolean>((resolve) => {
        const socket = connect(port, '127.0.0.1', () => {
          socket.end();
          resolve(true);
        });
        socket.on('error', () => resolve(false));
      });
    await waitFor(listening    , 'redis-server to listen');
  });
  afterAll(() => {
    redis?.kill('SIGTERM');
  });

  it('none, with a Redis that needs no password (the one given is ignored)', async () => {
    const url = new URL(TEST_REDIS_URL);
    url.password = REDIS_PASSWORD;
    expectNoSecret(await runApi(url.href));
  });

  it('none, with a Redis that refuses the password', async () => {
    expectNoSecret(await runApi(`redis://default:${REDIS_PASSWORD}@127.0.0.1:${port}`));
  });
});
