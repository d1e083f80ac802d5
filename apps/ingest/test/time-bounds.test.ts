/**
 * The time bounds of DESIGN.md to the millisecond, through the real
 * ingester and store, with the wall clock fixed: a trade exactly MAX_LATE
 * behind the source's clock, or exactly 60 s ahead of the wall clock, is
 * taken; one millisecond further is set aside, counted and logged. For a
 * live source the clock is the wall clock; for a replay it is the newest
 * trade time read so far. (The attacker's view, with real processes and
 * absurd dates, is test/faults/time-bounds.test.ts.)
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PushSource } from '../../../test/support/push-source.js';
import { ReplaySource } from '../src/sources/replay.js';
import { counter, startPipeline, waitFor, type Pipeline } from './support/harness.js';

const HOUR = 3_600_000;
const W = Date.UTC(2024, 5, 1, 12); // the fixed wall clock
const pipelines: Pipeline[] = [];
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'candlestack-bounds-'));
});
afterEach(async () => {
  for (const p of pipelines.splice(0)) await p.close();
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const trade = (time: number, id: string) => ({ pair: 'BTC_USDT', time, price: '100', quantity: '1', id });

async function setAside(p: Pipeline): Promise<string[]> {
  return (await p.redis.xrange(p.keys.deadLetter(), '-', '+')).map(([, f]) => f[f.indexOf('reason') + 1]!);
}

describe('time bounds, to the millisecond', () => {
  it('live: MAX_LATE behind and 60 s ahead of the wall clock are inside; a millisecond more is out', async () => {
    const source = new PushSource(['BTC_USDT']);
    const p = await startPipeline(source, { env: { MAX_LATE: '1h' }, worker: false, wallClock: () => W });
    pipelines.push(p);
    await p.ingester.start();
    await source.push([
      trade(W - HOUR, 'at-late-bound'),
      trade(W - HOUR - 1, 'too-late'),
      trade(W + 60_000, 'at-ahead-bound'),
      trade(W + 60_001, 'too-far-ahead'),
    ]);
    await waitFor('the trades written and set aside', async () => (await counter(p, 'ticks_ingested_total')) + (await counter(p, 'ticks_out_of_window_total')) === 4);
    expect(await counter(p, 'ticks_ingested_total')).toBe(2);
    expect(await counter(p, 'ticks_out_of_window_total')).toBe(2);
    const reasons = await setAside(p);
    expect(reasons).toEqual([
      expect.stringMatching(/^trade too-late of BTC_USDT at 2024-06-01T10:59:59.999Z is older than the source's clock \(2024-06-01T12:00:00.000Z\) minus MAX_LATE$/),
      expect.stringMatching(/^trade too-far-ahead of BTC_USDT at 2024-06-01T12:01:00.001Z is more than 60 s ahead of the wall clock$/),
    ]);
    // The store holds the two inside, and its own bound agrees.
    expect(await p.redis.zrange(p.keys.ids('BTC_USDT'), '0', '-1')).toEqual(['at-late-bound', 'at-ahead-bound']);
    expect(Number(await p.redis.hget(p.keys.state('BTC_USDT'), 'lo'))).toBe(W - HOUR);
    expect(p.log.find(/input set aside/)).toHaveLength(2);
  });

  it('takes at most the configured number of pairs: a file never decides how many keys there are', async () => {
    const source = new PushSource(['A_USDT']);
    const p = await startPipeline(source, { worker: false, wallClock: () => W, maxPairs: 2 });
    pipelines.push(p);
    await p.ingester.start();
    await source.push(['A_USDT', 'B_USDT', 'C_USDT', 'A_USDT', 'D_USDT'].map((pair, i) => ({ ...trade(W - 1000, String(i)), pair })));
    await waitFor('written and set aside', async () => (await counter(p, 'ticks_ingested_total')) + (await counter(p, 'ticks_malformed_total')) === 5);
    expect(await counter(p, 'ticks_ingested_total')).toBe(3);
    expect(await p.store.pairs()).toEqual(['A_USDT', 'B_USDT']);
    expect(await setAside(p)).toEqual([
      'pair C_USDT would be one more than the 2 pairs a deployment follows',
      'pair D_USDT would be one more than the 2 pairs a deployment follows',
    ]);
  });

  it("replay: the clock is the newest trade read; MAX_LATE behind it is inside, a millisecond more is out", async () => {
    const T = Date.UTC(2023, 0, 1);
    const lines = [
      trade(T, 'a'),
      trade(T + 2 * HOUR, 'b'),
      trade(T + HOUR, 'at-bound'), // exactly the clock (T + 2h) minus MAX_LATE
      trade(T + HOUR - 1, 'too-late'),
      trade(W + 60_001, 'future'),
      trade(T + 2 * HOUR + 1, 'c'),
    ];
    const file = join(dir, 'bounds.jsonl');
    await writeFile(file, lines.map((l) => JSON.stringify(l)).join('\n'));
    const p = await startPipeline(new ReplaySource({ file, speed: 0 }), { env: { MAX_LATE: '1h' }, wallClock: () => W });
    pipelines.push(p);
    await waitFor('the replay done', async () => (await p.stats.readSourceStatus())?.state === 'done');
    expect(await counter(p, 'ticks_ingested_total')).toBe(4);
    expect(await counter(p, 'ticks_out_of_window_total')).toBe(2);
    const reasons = await setAside(p);
    expect(reasons).toHaveLength(2);
    expect(reasons[0]).toMatch(/^trade too-late .* older than the source's clock \(2023-01-01T02:00:00.000Z\) minus MAX_LATE$/);
    expect(reasons[1]).toMatch(/^trade future .* more than 60 s ahead of the wall clock$/);
    // The replay's clock never took the future trade's time.
    expect(await p.redis.hget(p.keys.clock(), 'time')).toBe(String(T + 2 * HOUR + 1));
  });
});
