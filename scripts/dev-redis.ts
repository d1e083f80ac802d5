/**
 * Redis for `pnpm dev`: does one answer, and if not, a redis-server of our
 * own for the session, its data (an append-only file) under .data/redis/.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, mkdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { Readable } from 'node:stream';
import { Redis } from 'ioredis';
// By path, as in dev.ts: no build of @candlestack/shared is needed.
import { redactText } from '../packages/shared/src/redact.js';

export type Probe =
  | { readonly state: 'up' }
  /** Nothing answered: refused, timed out, unknown host... */
  | { readonly state: 'down'; readonly reason: string }
  /** A server answered, but not PONG (NOAUTH, LOADING, ...): starting another would not help. */
  | { readonly state: 'refused'; readonly reason: string };

/** PINGs the Redis at `url` once, giving up after `timeoutMs`. */
export async function probeRedis(url: string, timeoutMs = 1500): Promise<Probe> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    // One attempt: the caller decides what to do when nothing answers.
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
  });
  // The connection's own error (ECONNREFUSED, ETIMEDOUT...) says more than
  // the "Connection is closed" the promise rejects with.
  let cause: Error | undefined;
  redis.on('error', (err: Error) => (cause ??= err));
  try {
    await redis.connect();
    await redis.ping();
    return { state: 'up' };
  } catch (err) {
    const why = (err as Error).name === 'ReplyError' ? (err as Error) : (cause ?? (err as Error));
    return { state: why.name === 'ReplyError' ? 'refused' : 'down', reason: redactText(why.message || String(err)) };
  } finally {
    redis.disconnect();
  }
}

/** Whether an executable named `command` is on the PATH. */
export function onPath(command: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    if (!dir) return false;
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

export interface OwnRedis {
  readonly url: string;
  /** The server's stdout and stderr, for the caller to print. */
  readonly output: readonly Readable[];
  /** SHUTDOWN (the AOF is fsynced and kept); idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts `redis-server` on 127.0.0.1:`port` with its data in `dir` and waits
 * until it answers; rejects if it exits or stays silent for 10 s.
 */
export async function startRedisServer(dir: string, port = 6379): Promise<OwnRedis> {
  mkdirSync(dir, { recursive: true });
  const url = `redis://127.0.0.1:${port}`;
  const args = [
    '--bind', '127.0.0.1', '--port', String(port), '--dir', dir,
    '--appendonly', 'yes', '--maxmemory-policy', 'noeviction', '--save', '',
    '--loglevel', 'warning',
  ];
  // Its own process group, so the terminal's Ctrl-C does not reach it: we stop
  // it ourselves, after the apps that use it.
  const child = spawn('redis-server', args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<string>((resolve) => {
    child.once('error', (err) => resolve(err.message));
    child.once('exit', (code, signal) => resolve(`exited with ${signal ?? `code ${code}`}`));
  });
  let gone: string | undefined;
  void exited.then((why) => (gone = why));

  let stopping: Promise<void> | undefined;
  const own: OwnRedis = {
    url,
    output: [child.stdout, child.stderr],
    stop: () =>
      (stopping ??= (async () => {
        if (gone) return;
        const redis = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
        redis.on('error', () => {});
        // The server closes the connection as it goes down, so the call never gets a reply.
        await redis.connect().then(() => redis.call('SHUTDOWN')).catch(() => {});
        redis.disconnect();
        const timer = setTimeout(() => child.kill('SIGTERM'), 5_000);
        await exited;
        clearTimeout(timer);
      })()),
  };

  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (gone) throw new Error(`redis-server ${gone}`);
    if ((await probeRedis(url, 500)).state === 'up') return own;
    await new Promise((r) => setTimeout(r, 100));
  }
  await own.stop();
  throw new Error(`redis-server did not answer on ${url} within 10 s`);
}
