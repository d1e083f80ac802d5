/**
 * A replay, or the simulated market, is one process's job: a second
 * ingester with the same configuration stands by (reads nothing, reports no
 * status) while the first holds the source lease, and takes over when the
 * first stops, as a restart would (a replay resumes where it was written).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ReplaySource } from '../src/sources/replay.js';
import { SimulatedSource } from '../src/sources/simulated.js';
import { captureLog, counter, sleep, startPipeline, waitFor, type Pipeline } from './support/harness.js';

let dir: string;
const pipelines: Pipeline[] = [];
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'candlestack-source-lease-'));
});
afterEach(async () => {
  // The standby (sharing the prefix) stops before the first deletes the keys.
  for (const p of pipelines.splice(0).reverse()) await p.close();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const standingBy = /^standing by: ingester .* runs the (replay|simulated) source under REDIS_PREFIX=/;

describe('a source that is one process’s job', () => {
  it('replay: a second ingester on the same file and prefix stands by, then takes over without reading anything twice', async () => {
    const t0 = 1_700_000_000_000;
    const trades = Array.from({ length: 3_000 }, (_, i) => ({ pair: i % 2 ? 'AAA_USDT' : 'BBB_USDT', time: t0 + i * 10, price: String(100 + (i % 7)), quantity: '1', id: String(i + 1) }));
    const file = join(dir, 'one.jsonl');
    await writeFile(file, trades.map((t) => JSON.stringify(t)).join('\n') + '\n');

    const first = await startPipeline(new ReplaySource({ file, speed: 0 }), { worker: false });
    pipelines.push(first);
    const log = captureLog();
    const starting = startPipeline(new ReplaySource({ file, speed: 0 }), { worker: false, prefix: first.prefix, log });
    await waitFor('the second to stand by', () => log.find(standingBy).length > 0);
    await waitFor('the replay done', async () => (await first.stats.readSourceStatus())?.state === 'done');
    expect(await counter(first, 'ticks_ingested_total')).toBe(trades.length);
    expect(await counter(first, 'ticks_duplicate_total')).toBe(0);
    expect(log.find(/^replaying/)).toEqual([]);

    // The first stops: the second takes the lease and resumes at the end of the file.
    await first.ingester.close();
    const second = await starting;
    pipelines.push(second);
    expect(log.find(/^took the source lease/)).toHaveLength(1);
    await waitFor('the second done', async () => (await second.stats.readSourceStatus())?.state === 'done');
    expect(log.find(/resuming the replay of one\.jsonl/)).toHaveLength(1);
    expect(await counter(first, 'ticks_ingested_total')).toBe(trades.length);
    expect(await counter(first, 'ticks_duplicate_total')).toBe(0);
  });

  it('simulated: the second stands by without touching the status, and follows the market once the first stops', async () => {
    const pairs = ['BTC_USDT', 'ETH_USDT'];
    const first = await startPipeline(new SimulatedSource({ pairs, seed: 3, rate: 50 }), { worker: false });
    pipelines.push(first);
    const log = captureLog();
    const starting = startPipeline(new SimulatedSource({ pairs, seed: 3, rate: 50 }), { worker: false, prefix: first.prefix, log });
    await waitFor('the second to stand by', () => log.find(standingBy).length > 0);
    await waitFor('trades', async () => (await counter(first, 'ticks_ingested_total')) > 0);
    expect((await first.stats.readSourceStatus())?.state).toBe('connected');
    expect(log.find(/^source /)).toEqual([]);

    await first.ingester.close();
    const second = await starting;
    pipelines.push(second);
    const before = await counter(first, 'ticks_ingested_total');
    await waitFor('the second storing trades', async () => (await counter(first, 'ticks_ingested_total')) > before);
    expect((await second.stats.readSourceStatus())?.state).toBe('connected');
    expect(await counter(first, 'ticks_duplicate_total')).toBe(0);
  });

  it('a holder that finds another ingester holding its lease (it stalled past it) stops its source', async () => {
    const p = await startPipeline(new SimulatedSource({ pairs: ['BTC_USDT'], seed: 5, rate: 50 }), { worker: false, leaseTiming: { leaseMs: 600, tickMs: 150 } });
    pipelines.push(p);
    await waitFor('trades', async () => (await counter(p, 'ticks_ingested_total')) > 0);
    await p.redis.set(p.keys.sourceLease(), 'a-standby-that-took-over', 'PX', 60_000);
    await waitFor('the source stopped', () => p.ingester.sourceState === 'failed');
    expect(p.log.find(/^another ingester holds the source lease now/)).toHaveLength(1);
    // The status is the new holder's to report: left as it was.
    expect((await p.stats.readSourceStatus())?.state).toBe('connected');
    await p.ingester.writer.drain();
    const stored = await counter(p, 'ticks_ingested_total');
    await sleep(300);
    expect(await counter(p, 'ticks_ingested_total')).toBe(stored);
    // Its clean stop leaves the other's lease alone.
    await p.ingester.close();
    expect(await p.redis.get(p.keys.sourceLease())).toBe('a-standby-that-took-over');
  });
});
