/**
 * GET /candles answers kept by data version (read-cache.ts): after every
 * kind of write a read could see, the next answer is a new read's, never
 * the kept one; while nothing changed, the kept bytes and their ETag. And
 * the cache stays within its bounds.
 */
import { get as httpGet } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeLimits, sourceNow, type Tick } from '@candlestack/shared';
import { ReadCache } from '../src/read-cache.js';
import { startTestApi, type TestApi } from './helpers.js';
import { CLOCK, MIN, NOW, PAIR, T0, seedMarket } from './market.js';

let t: TestApi;
beforeAll(async () => {
  t = await startTestApi();
  await seedMarket(t);
});
afterAll(() => t.stop());

const tick = (id: number, time: number, price: string): Tick => ({ pair: PAIR, time, price, quantity: '0.5', amount: '1', side: 'buy', id: String(id) });

/** The answer as the API gives it, and as a read straight from Redis gives it now. */
async function both(path: string, periodMs: number) {
  const res = await t.fetch(path);
  const body = await res.text();
  const closeLimit = closeLimits(t.store.plan, CLOCK, t.config.GRACE_MS).get(periodMs)!;
  const text = await t.store.read(PAIR, periodMs, { what: 'both', now: sourceNow(CLOCK), limit: 100, closeLimit });
  return { body, etag: res.headers.get('etag'), fresh: `{"pair":"${PAIR}","period":"${periodMs === MIN ? '1m' : '5m'}","candles":[${text}]}` };
}

function conditional(path: string, etag: string): Promise<number> {
  // Not fetch(): a conditional fetch() adds "Cache-Control: no-cache", which rightly forbids a 304.
  return new Promise((resolve, reject) => {
    httpGet(`${t.api.url}${path}`, { headers: { 'If-None-Match': etag } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', reject);
  });
}

describe('GET /candles kept by data version', () => {
  it('gives the kept bytes while nothing changed, and a new read after each write a read can see', async () => {
    const path = `/candles/${PAIR}/1m`;
    const a = await both(path, MIN);
    expect(a.body).toBe(a.fresh);
    const again = await both(path, MIN);
    expect(again.body).toBe(a.body);
    expect(again.etag).toBe(a.etag);
    expect(await conditional(path, a.etag!)).toBe(304);
    const v0 = await t.store.reads.version(PAIR);
    // The first version is the server's time in µs, not 1.
    expect(Number(v0)).toBeGreaterThan(Date.UTC(2024, 0, 1) * 1000);

    // A trade in the forming minute.
    await t.store.addTicks(PAIR, [tick(9001, NOW - 500, '41000.5')]);
    const b = await both(path, MIN);
    expect(b.body).toBe(b.fresh);
    expect(b.body).not.toBe(a.body);
    expect(b.body).toContain('"low":"41000.5"');
    expect(b.etag).not.toBe(a.etag);
    expect(await conditional(path, a.etag!)).toBe(200);

    // A late trade in a closed minute, then the close that re-rolls it: the 5m answer changes too.
    const p5 = `/candles/${PAIR}/5m`;
    const c5 = await both(p5, 5 * MIN);
    await t.store.addTicks(PAIR, [tick(9002, T0 + 5 * MIN + 100, '99999')]);
    await t.store.closePair(PAIR, closeLimits(t.store.plan, CLOCK, t.config.GRACE_MS));
    const d5 = await both(p5, 5 * MIN);
    expect(d5.body).toBe(d5.fresh);
    expect(d5.body).not.toBe(c5.body);
    expect(d5.body).toContain('"high":"99999"');
    const d = await both(path, MIN);
    expect(d.body).toBe(d.fresh);
    expect(d.body).toContain('"high":"99999"');
    expect(BigInt(await t.store.reads.version(PAIR))).toBeGreaterThan(BigInt(v0));
  });

  it('never reuses an answer across a pair whose state was deleted and written again', async () => {
    const path = `/candles/${PAIR}/1m?limit=3`;
    const before = await (await t.fetch(path)).text();
    const v = BigInt(await t.store.reads.version(PAIR));
    for (const k of await t.redis.keys(`${t.prefix}:*{${PAIR}}*`)) await t.redis.del(k);
    await t.store.addTicks(PAIR, [tick(1, NOW - 1000, '7')]);
    expect(BigInt(await t.store.reads.version(PAIR))).toBeGreaterThan(v);
    const after = await (await t.fetch(path)).text();
    expect(after).not.toBe(before);
    expect(after).toContain('"close":"7"');
  });
});

describe('ReadCache', () => {
  it('keeps at most its entries and bytes, dropping the least recently used', () => {
    const c = new ReadCache(3, 1000);
    for (const k of ['a', 'b', 'c']) c.set(k, '1', Buffer.alloc(100));
    c.get('a'); // a is now the most recently used
    c.set('d', '1', Buffer.alloc(100));
    expect(c.size).toBe(3);
    expect(c.get('b')).toBeUndefined();
    expect(c.get('a')).toBeDefined();
    // Bytes: 240 each, at most 1000 in all.
    for (const k of ['e', 'f', 'g', 'h', 'i']) c.set(k, '1', Buffer.alloc(240));
    expect(c.byteSize).toBeLessThanOrEqual(1000);
    // An answer too big to keep is given, not kept.
    const big = c.set('big', '1', Buffer.alloc(600));
    expect(big.body.length).toBe(600);
    expect(c.get('big')).toBeUndefined();
  });
});
