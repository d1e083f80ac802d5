/**
 * Size bounds (issue: "bounded by what we trust"): hostile replay files fed
 * to the real ingester as a process, on a Redis of the test's own, with each
 * process's memory sampled while it works:
 * - pairs of 60,000 and 1,000,000 characters: every line set aside with its
 *   reason, each dead letter cut to a bounded size (these once added 300 MB
 *   to Redis, and reading 400 of them took the API past 2 GB);
 * - a gzip bomb, 1 GiB with no newline in a ~1 MB file, after one good trade:
 *   the trade is written, the line set aside unread (readline once crashed
 *   with a RangeError);
 * - 200,000 distinct malformed lines with a `"` in the pair: each counted and
 *   set aside, a handful of warnings logged (once: 200,000 warnings and a
 *   333 MB set of seen kinds).
 */
import { createWriteStream, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip, gzipSync } from 'node:zlib';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { Keys, Stats } from '@candlestack/shared';
import { AppProcess } from '../support/processes.js';
import { PrivateRedis, freePort } from '../support/redis-server.js';
import { waitFor } from '../support/wait.js';

const MB = 1024 * 1024;
const dir = mkdtempSync(join(tmpdir(), 'candlestack-bombs-'));
const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

async function privateRedis() {
  const server = await PrivateRedis.start();
  const redis = new Redis(server.url);
  cleanups.push(async () => {
    redis.disconnect();
    await server.destroy();
  });
  return { server, redis };
}

const usedMemory = async (redis: Redis) => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);

/** Samples a process's RSS every 100 ms until stopped: its peak. */
function peakRss(p: AppProcess): { stop(): number } {
  let peak = p.rss();
  const t = setInterval(() => {
    try {
      peak = Math.max(peak, p.rss());
    } catch {
      // exited
    }
  }, 100);
  return {
    stop() {
      clearInterval(t);
      return peak;
    },
  };
}

async function replay(redis: Redis, url: string, file: string, extra: Record<string, string> = {}) {
  const prefix = `bomb-${Math.random().toString(36).slice(2, 8)}`;
  const env = { REDIS_URL: url, REDIS_PREFIX: prefix, PERIODS: '1m', SOURCE: 'replay', REPLAY_FILE: file, REPLAY_SPEED: '0', ...extra };
  const ingest = AppProcess.start('ingest', env);
  cleanups.push(() => ingest.kill());
  await waitFor(() => ingest.logs().some((l) => /^replaying /.test(String(l.msg))), 'the replay to start', 20_000);
  const peak = peakRss(ingest);
  const keys = new Keys(prefix);
  await waitFor(async () => (await redis.hget(keys.sourceStatus(), 'state')) === 'done', 'the replay to finish', 120_000);
  return { ingest, env, keys, prefix, peak: peak.stop(), stats: new Stats(redis, keys) };
}

describe('size bombs', () => {
  it('giant pairs: every line set aside with a bounded dead letter; Redis and the API stay small', async () => {
    const { server, redis } = await privateRedis();
    const t0 = Date.UTC(2024, 0, 1);
    const line = (pair: string, i: number) => JSON.stringify({ pair, time: t0 + i, price: '1', quantity: '1', id: String(i) });
    const lines = [
      ...Array.from({ length: 150 }, (_, i) => line(`${'X'.repeat(60_000)}_USDT`, i)),
      ...Array.from({ length: 150 }, (_, i) => line(`${'Y'.repeat(1_000_000)}_USDT`, 150 + i)),
      line('BTC_USDT', 300),
    ];
    const file = join(dir, 'giant-pairs.jsonl.gz');
    writeFileSync(file, gzipSync(lines.join('\n')));
    const before = await usedMemory(redis);
    const r = await replay(redis, server.url, file);
    const s = await r.stats.read();
    expect(s.ticks_malformed_total).toBe(300);
    expect(s.ticks_ingested_total).toBe(1);
    const dead = await redis.xrange(r.keys.deadLetter(), '-', '+');
    expect(dead).toHaveLength(300);
    const sizes = dead.map(([, f]) => f.reduce((n, x) => n + x.length, 0));
    const reasons = dead.map(([, f]) => f[f.indexOf('reason') + 1]!);
    expect(reasons.filter((x) => /^"X{63} is not a pair/.test(x))).toHaveLength(150);
    expect(reasons.filter((x) => /^replay line \d+: longer than 65536 bytes \(100\d{4} bytes\): set aside unread$/.test(x))).toHaveLength(150);
    const after = await usedMemory(redis);

    // Reading them all back through the API: its answer and its memory stay small.
    const port = await freePort();
    const api = AppProcess.start('api', { ...r.env, PORT: String(port) });
    cleanups.push(() => api.kill());
    const url = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await fetch(`${url}/healthz`).catch(() => undefined))?.ok, 'the API');
    const apiBefore = api.rss();
    let body = 0;
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`${url}/admin/dead-letter?limit=400`);
      expect(res.status).toBe(200);
      body = (await res.arrayBuffer()).byteLength;
    }
    const apiAfter = api.rss();
    console.log(
      `giant pairs: dead letter ${Math.max(...sizes)} B at most; Redis +${((after - before) / MB).toFixed(2)} MB; ingester peak RSS ${(r.peak / MB).toFixed(0)} MB; ` +
        `/admin/dead-letter?limit=400 ${(body / 1024).toFixed(0)} kB, API RSS ${(apiBefore / MB).toFixed(0)} -> ${(apiAfter / MB).toFixed(0)} MB`,
    );
    expect(Math.max(...sizes)).toBeLessThan(2_000);
    expect(after - before).toBeLessThan(4 * MB);
    expect(r.peak).toBeLessThan(300 * MB);
    expect(body).toBeLessThan(1 * MB);
    expect(apiAfter - apiBefore).toBeLessThan(64 * MB);
  }, 120_000);

  it('a gzip bomb of one 1 GiB line: the good trade before it is written, the line set aside unread', async () => {
    const { server, redis } = await privateRedis();
    const file = join(dir, 'bomb.jsonl.gz');
    const good = `${JSON.stringify({ pair: 'BTC_USDT', time: Date.UTC(2024, 0, 1), price: '42000', quantity: '0.5', id: '1' })}\n`;
    const chunk = Buffer.alloc(MB, 'a');
    let sent = 0;
    const source = Readable.from(
      (function* () {
        yield Buffer.from(good);
        for (; sent < 1024; sent++) yield chunk;
      })(),
    );
    await pipeline(source, createGzip({ level: 9 }), createWriteStream(file));
    const size = statSync(file).size;
    const r = await replay(redis, server.url, file);
    const s = await r.stats.read();
    expect(s.ticks_ingested_total).toBe(1);
    expect(s.ticks_malformed_total).toBe(1);
    const [reason] = (await redis.xrange(r.keys.deadLetter(), '-', '+')).map(([, f]) => f[f.indexOf('reason') + 1]!);
    expect(reason).toBe(`replay line 2: longer than 65536 bytes (${1024 * MB} bytes): set aside unread`);
    expect(r.ingest.running).toBe(true);
    console.log(`gzip bomb: ${(size / MB).toFixed(2)} MB file, 1024 MB line; ingester peak RSS ${(r.peak / MB).toFixed(0)} MB`);
    expect(r.peak).toBeLessThan(300 * MB);
  }, 180_000);

  it('200,000 distinct malformed lines: all counted and set aside, a handful logged, memory bounded', async () => {
    const { server, redis } = await privateRedis();
    const t0 = Date.UTC(2024, 0, 1);
    const lines: string[] = [];
    for (let i = 0; i < 200_000; i++) {
      // A quote inside the pair made each line a "kind" of its own.
      lines.push(JSON.stringify({ pair: `A"${i}_${'"'.repeat(i % 5)}B`, time: t0 + i, price: '1', quantity: '1', id: String(i) }));
    }
    lines.push(JSON.stringify({ pair: 'BTC_USDT', time: t0, price: '1', quantity: '1', id: 'ok' }));
    const file = join(dir, 'flood.jsonl');
    writeFileSync(file, lines.join('\n'));
    const before = await usedMemory(redis);
    const r = await replay(redis, server.url, file, { LOG_LEVEL: 'info' });
    const s = await r.stats.read();
    expect(s.ticks_malformed_total).toBe(200_000);
    expect(s.ticks_ingested_total).toBe(1);
    const warnings = r.ingest.logs().filter((l) => /input set aside/.test(String(l.msg)));
    const logBytes = r.ingest.lines.reduce((n, l) => n + l.length + 1, 0);
    // The dead-letter stream keeps about its last 10,000 entries.
    const kept = await redis.xlen(r.keys.deadLetter());
    const after = await usedMemory(redis);
    console.log(
      `flood: ${warnings.length} warning(s), ${(logBytes / 1024).toFixed(0)} kB of log; ${kept} dead letters kept; Redis +${((after - before) / MB).toFixed(1)} MB; ingester peak RSS ${(r.peak / MB).toFixed(0)} MB`,
    );
    expect(warnings.length).toBeGreaterThanOrEqual(1);
    expect(warnings.length).toBeLessThanOrEqual(40);
    expect(logBytes).toBeLessThan(200 * 1024);
    expect(kept).toBeLessThanOrEqual(11_000);
    expect(after - before).toBeLessThan(20 * MB);
    expect(r.peak).toBeLessThan(400 * MB);
  }, 180_000);
});
