/**
 * When the writer sends, and when a finite source may read on, against the
 * test Redis. The store is the real one; a gate in front of its writes
 * holds a flush in flight for as long as a test needs.
 */
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { Keys, Stats, TickStore, TradeBatch, canonical, parsePeriods, planPeriods, type AddOptions, type AddResult, type Tick } from '@candlestack/shared';
import { TEST_REDIS_URL, deletePrefix, testPrefix } from '../../../test/support/redis.js';
import { sleep } from '../../../test/support/wait.js';
import { DeadLetters } from '../src/dead-letters.js';
import { TickWriter, type TickWriterOptions } from '../src/tick-writer.js';
import { captureLog, waitFor } from './support/harness.js';

const redis = new Redis(TEST_REDIS_URL);
const prefixes: string[] = [];
afterAll(async () => {
  for (const p of prefixes) await deletePrefix(p);
  redis.disconnect();
});

/** The real store; its writes wait while the gate is shut. */
class GatedStore extends TickStore {
  private open = true;
  private waiting: (() => void)[] = [];
  started = 0;

  shut(): void {
    this.open = false;
  }

  release(): void {
    this.open = true;
    for (const w of this.waiting.splice(0)) w();
  }

  override async addBatch(pair: string, batch: TradeBatch, opts: AddOptions = {}): Promise<AddResult> {
    this.started++;
    if (!this.open) await new Promise<void>((r) => this.waiting.push(r));
    return super.addBatch(pair, batch, opts);
  }
}

const T0 = Date.now() - 60_000;
const tick = (i: number): Tick => {
  const price = canonical(`${100 + (i % 7)}.5`);
  return { pair: `P${i % 3}_USDT`, time: T0 + i, price, quantity: '1', amount: price, side: 'buy', id: String(1 + Math.floor(i / 3)) };
};

function writer(opts: Partial<TickWriterOptions>) {
  const prefix = testPrefix('tick-writer');
  prefixes.push(prefix);
  const keys = new Keys(prefix);
  const store = new GatedStore(redis, keys, planPeriods(parsePeriods('1s,1m')), { tickRetentionMs: 86_400_000, maxLateMs: 86_400_000 });
  const stats = new Stats(redis, keys);
  const log = captureLog();
  const w = new TickWriter(store, stats, new DeadLetters(redis, keys, 'replay', log.logger), log.logger, {
    maxBuffer: 1_000,
    batchSize: 500,
    flushMs: 60_000,
    flushAt: 100,
    ...opts,
  });
  const ingested = async () => Number((await stats.read()).ticks_ingested_total ?? 0);
  return { w, store, ingested };
}

describe('TickWriter', () => {
  it('sends as soon as flushAt trades wait, though a flushMs wait was set while fewer did', async () => {
    const { w, ingested, store } = writer({});
    let i = 0;
    for (; i < 10; i++) w.add(tick(i), T0);
    w.schedule(); // ten wait: a flushMs (60 s) wait begins
    await sleep(200);
    expect(store.started).toBe(0);
    for (; i < 120; i++) w.add(tick(i), T0);
    w.schedule();
    await waitFor('the 120 trades written long before the 60 s wait', async () => (await ingested()) === 120);
    await w.close();
  });

  it('lets a waiting finite source read on once a flush has taken the batch, not when the flush ends; holds it back at half the bound', async () => {
    const { w, store, ingested } = writer({ flushMs: 0 });
    store.shut();
    let i = 0;
    // Half the bound (500) waiting: the source waits for room.
    for (; i < 500; i++) w.add(tick(i), T0);
    let roomed = false;
    const first = w.room().then(() => (roomed = true));
    await sleep(50);
    expect(roomed).toBe(false);
    w.schedule();
    await waitFor('the flush in flight', () => store.started > 0);
    await first;
    expect(w.buffered).toBe(0);
    expect(await ingested()).toBe(0);
    // While the flush is still held, the source fills half the bound again and waits.
    for (; i < 1_000; i++) w.add(tick(i), T0);
    let held = true;
    const second = w.room().then(() => (held = false));
    await sleep(50);
    expect(held).toBe(true);
    store.release();
    await second;
    await w.drain();
    expect(await ingested()).toBe(1_000);
    await w.close();
  });
});
