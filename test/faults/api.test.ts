/**
 * The API killed with SIGKILL and started again on the same port, as real
 * processes: its WebSocket clients (here the terminal feed, piped) see the
 * connection die without a close frame, reconnect by themselves and get new
 * candles; the rest of the pipeline never notices. (The dashboard's own
 * recovery after an API restart is checked in a real browser by
 * apps/api/test/dashboard.test.ts.)
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { AppProcess } from '../support/processes.js';
import { TEST_REDIS_URL, deletePrefix, testPrefix } from '../support/redis.js';
import { freePort } from '../support/redis-server.js';
import { waitFor } from '../support/wait.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const prefix = testPrefix('fault-api');
const procs: AppProcess[] = [];
let feedKill: (() => void) | undefined;
afterAll(async () => {
  feedKill?.();
  await Promise.all(procs.map((p) => p.kill()));
  await deletePrefix(prefix);
});

describe('API killed with SIGKILL', () => {
  it('its WebSocket clients reconnect by themselves and get new candles', async () => {
    const port = await freePort();
    const env = { REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: prefix, PERIODS: '1s,5s', GRACE_MS: '300', PORT: String(port), SOURCE: 'simulated', PAIRS: 'BTC_USDT' };
    const url = `http://127.0.0.1:${port}`;
    procs.push(AppProcess.start('ingest', env), AppProcess.start('worker', env));
    let api = AppProcess.start('api', env);
    procs.push(api);
    await waitFor(async () => (await fetch(`${url}/healthz`)).ok, 'the API');

    const feed = spawn(process.execPath, ['--import', 'tsx', '--conditions=development', 'apps/feed/src/main.ts', '1s', '2'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', API_URL: url },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    feedKill = () => feed.kill('SIGKILL');
    let out = '';
    feed.stdout.on('data', (d: Buffer) => (out += d.toString()));
    feed.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const closedLines = () => out.split('\n').filter((l) => /^BTC_USDT 1s .* closed$/.test(l));
    await waitFor(() => closedLines().length >= 2, 'closed candles in the feed', 20_000);

    await api.kill('SIGKILL');
    await waitFor(() => /reconnecting/i.test(out), 'the feed to notice', 10_000);
    const before = closedLines().length;
    const lastBefore = closedLines().at(-1)!;

    api = AppProcess.start('api', env);
    procs.push(api);
    await waitFor(() => closedLines().length >= before + 2, 'new closed candles after the restart', 20_000);
    const after = closedLines().slice(before);
    // Newer buckets than before the kill, in order.
    const time = (l: string) => Date.parse(l.split(' ')[2]!);
    expect(time(after.at(-1)!)).toBeGreaterThan(time(lastBefore));
    expect(feed.exitCode).toBeNull();
    for (const p of procs.slice(0, 2)) expect(p.running).toBe(true);
  }, 60_000);
});
