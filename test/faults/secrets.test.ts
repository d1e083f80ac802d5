/**
 * The Redis password changed on the server under a running ingester, worker
 * and API (real processes): `CONFIG SET requirepass` and every client
 * connection killed, so each must authenticate again, with a password that
 * no longer works. Before the libraries' errors had listeners, BullMQ
 * printed them with console.error, command and all: `HELLO 3 AUTH default
 * <password>`, 18 times in 8 s from the worker and the ingester. Now: no
 * line of any process holds the password (nor AUTH), each says once that
 * Redis refuses it, none exits, and all recover when the password is back.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { AppProcess } from '../support/processes.js';
import { PrivateRedis, freePort } from '../support/redis-server.js';
import { sleep, waitFor } from '../support/wait.js';

// Characters a URL must escape, so the password travels in two forms.
const OLD = 'old/s3cret@pw:1';
const NEW = 'rotated-pw';
const OUTAGE_MS = 8_000;

const procs: AppProcess[] = [];
let redis: PrivateRedis | undefined;
let admin: Redis | undefined;
const dir = mkdtempSync(join(tmpdir(), 'candlestack-secrets-'));

afterAll(async () => {
  await Promise.all(procs.map((p) => p.kill()));
  admin?.disconnect();
  await redis?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

const isJson = (line: string) => {
  try {
    JSON.parse(line);
    return true;
  } catch {
    return false;
  }
};

/** The parsed lines of `p` from line `from` on. */
const entriesFrom = (p: AppProcess, from: number) => p.lines.slice(from).filter(isJson).map((l) => JSON.parse(l) as Record<string, unknown>);

function expectNoSecret(p: AppProcess): void {
  const output = p.lines.join('\n');
  for (const form of [OLD, encodeURIComponent(OLD), 's3cret', 'AUTH']) {
    const at = output.indexOf(form);
    expect(at, `${p.app} logged ${form}: …${output.slice(Math.max(0, at - 300), at + 100)}…`).toBe(-1);
  }
}

describe('the Redis password rotated under the running apps', () => {
  it('logs no secret, once-ish, keeps every process up, and recovers when the password is back', async () => {
    redis = await PrivateRedis.start();
    admin = new Redis(redis.url);
    await admin.config('SET', 'requirepass', OLD);

    // A short replay, finished before the rotation: the ingester then holds
    // the BullMQ queue it used to close the replay's buckets.
    const start = Date.now() - 60_000;
    const file = join(dir, 'trades.jsonl');
    const trades = Array.from({ length: 50 }, (_, i) => ({ pair: 'AAA_USDT', time: start + i * 100, price: '1.5', quantity: '2', side: 'buy', id: String(i + 1) }));
    writeFileSync(file, trades.map((t) => JSON.stringify(t)).join('\n') + '\n');

    const port = await freePort();
    const env = {
      REDIS_URL: `redis://default:${encodeURIComponent(OLD)}@127.0.0.1:${redis.port}`,
      REDIS_PREFIX: 'fault-secrets',
      PERIODS: '1s,5s',
      GRACE_MS: '300',
      PORT: String(port),
      // Every line the apps can write.
      LOG_LEVEL: 'debug',
    };
    const api = AppProcess.start('api', env);
    const worker = AppProcess.start('worker', env);
    const ingest = AppProcess.start('ingest', { ...env, SOURCE: 'replay', REPLAY_FILE: file, REPLAY_SPEED: '0', PAIRS: 'AAA_USDT' });
    procs.push(api, worker, ingest);
    const url = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await fetch(`${url}/readyz`)).status === 200, 'ready before the rotation', 30_000);
    await ingest.waitForLog((l) => /replay finished/.test(String(l.msg)), 'the replay to finish');
    await worker.waitForLog((l) => typeof l.job === 'string', 'a close job to run');

    // The rotation: the new password, and every connection but this one cut.
    const marks = procs.map((p) => p.lines.length);
    await admin.config('SET', 'requirepass', NEW);
    await admin.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
    await sleep(OUTAGE_MS);

    for (const p of procs) expectNoSecret(p);
    for (const [i, p] of procs.entries()) {
      expect(p.running, `${p.app} still running`).toBe(true);
      const during = p.lines.slice(marks[i]);
      // Everything went through the logger: no console.error dump.
      expect(during.filter((l) => !isJson(l)), `${p.app}: lines that are not the logger's`).toEqual([]);
      // The refusal was said, and not as a flood: one line per client or
      // BullMQ object (measured: 2 or 3 per process), far from the dozens
      // that one line per retry of each connection would give.
      const refused = entriesFrom(p, marks[i]!).filter((l) => /WRONGPASS/.test(String(l.err)));
      expect(refused.length, `${p.app}: ${JSON.stringify(refused)}`).toBeGreaterThanOrEqual(1);
      expect(during.length, `${p.app}: ${during.join('\n')}`).toBeLessThanOrEqual(8);
    }
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(503);

    // The password back: every client authenticates again by itself.
    const restored = procs.map((p) => p.lines.length);
    await admin.config('SET', 'requirepass', OLD);
    await waitFor(async () => (await fetch(`${url}/readyz`)).status === 200, 'ready again', 20_000);
    for (const [i, p] of procs.entries()) {
      await waitFor(() => entriesFrom(p, restored[i]!).some((l) => l.msg === 'redis is back'), `${p.app}: redis is back`);
    }
    // The worker's BullMQ connections too: close jobs run again.
    await waitFor(() => entriesFrom(worker, restored[1]!).some((l) => typeof l.job === 'string'), 'a close job after the rotation', 20_000);

    await Promise.all(procs.map((p) => p.stop()));
    for (const p of procs) {
      expect(p.exitCode, `${p.app} exit code`).toBe(0);
      expectNoSecret(p);
    }
  }, 90_000);
});
