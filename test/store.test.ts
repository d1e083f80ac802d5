/**
 * The Lua scripts against the pure fold, in a real Redis: random trades
 * arriving out of order while buckets close (so many arrive late and revise
 * closed candles, flat ones included), duplicates, catch-up, idempotence.
 */
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it, vi } from 'vitest';
import {
  CandleStore,
  Keys,
  candlesFromTicks,
  closeLimits,
  parsePeriods,
  planPeriods,
  type SourceClock,
  type StoredCandle,
  type Tick,
  parseCandles,
  unpackTrades,
  compareTrades,
  TradeBatch,
  HistoryStore,
} from '@candlestack/shared';
import { TEST_REDIS_URL, deletePrefix, testPrefix } from './support/redis.js';

const redis = new Redis(TEST_REDIS_URL);
const prefixes: string[] = [];
afterAll(async () => {
  await Promise.all(prefixes.map((p) => deletePrefix(p)));
  redis.disconnect();
});

function storeFor(periods: string) {
  const prefix = testPrefix('store');
  prefixes.push(prefix);
  const plan = planPeriods(parsePeriods(periods));
  return { store: new CandleStore(redis, new Keys(prefix), plan), plan, keys: new Keys(prefix) };
}

const T0 = Date.UTC(2024, 0, 1, 0, 0, 0);
const replayAt = (time: number, done = false): SourceClock => ({ source: 'replay', replayTime: time, done });
const strip = ({ ot: _a, oi: _b, ct: _c, ci: _d, ...c }: StoredCandle) => c;

function rng(seed: number) {
  let s = seed;
  return () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
}

function makeTicks(n: number, spanMs: number, seed: number, pair = 'A_B'): Tick[] {
  const rnd = rng(seed);
  const out: Tick[] = [];
  for (let i = 0; i < n; i++) {
    // Quiet stretches: some seconds get nothing, so flat candles appear.
    const time = T0 + Math.floor(rnd() ** 3 * spanMs);
    const price = (100 + Math.floor(rnd() * 2000) / 100).toFixed(2).replace(/\.?0+$/, '');
    const quantity = (Math.floor(rnd() * 1e6 + 1) / 1e6).toString();
    out.push({ pair, time, price, quantity, amount: quantity, id: String(50_000 + i) });
  }
  return out;
}

async function allClosed(store: CandleStore, pair: string, ms: number) {
  return (await store.closedCandles(pair, ms, { from: 0, limit: 100_000 })).map(strip);
}

describe('Lua store', () => {
  it('equals the reference for every period when trades arrive late and out of order', async () => {
    const { store, plan } = storeFor('1s,5s,15s,1m');
    const ticks = makeTicks(3000, 400_000, 3);
    const rnd = rng(99);
    // Arrival: mostly in time order, one in five delayed by up to 20 s.
    const arrival = ticks
      .map((t) => ({ t, at: t.time + (rnd() < 0.2 ? Math.floor(rnd() * 20_000) : 0) }))
      .sort((a, b) => a.at - b.at);
    let late = 0;
    let now = 0;
    for (let i = 0; i < arrival.length; i += 50) {
      const chunk = arrival.slice(i, i + 50);
      late += (await store.addTicks('A_B', chunk.map((a) => a.t))).late;
      // The replay's clock: the latest trade time written so far.
      now = Math.max(now, ...chunk.map((a) => a.t.time));
      await store.closePair('A_B', closeLimits(plan, replayAt(now), 500));
    }
    expect(late).toBeGreaterThan(100);
    const last = Math.max(...ticks.map((t) => t.time));
    await store.closePair('A_B', closeLimits(plan, replayAt(last, true), 500));
    for (const { ms } of plan.chain) {
      const expected = candlesFromTicks(ticks, ms).map(strip);
      if (ms === 1000) expect(expected.some((c) => c.trades === 0)).toBe(true);
      expect(await allClosed(store, 'A_B', ms), `period ${ms}`).toEqual(expected);
    }
    expect(await store.formingCandles('A_B', 5000, replayAt(last, true))).toEqual([]);
  });

  it('rolls up at close what was stored before a period was built as trades come: a period added to PERIODS, imported history', async () => {
    // A deployment with 1s and 1m only takes trades; then 5s and 15s are
    // added. The first write of each new period builds it from the bucket
    // after the newest candle stored; the buckets before are rolled up.
    const prefix = testPrefix('store');
    prefixes.push(prefix);
    const keys = new Keys(prefix);
    const before = new CandleStore(redis, keys, planPeriods(parsePeriods('1s,1m')));
    const after = new CandleStore(redis, keys, planPeriods(parsePeriods('1s,5s,15s,1m')));
    const ticks = makeTicks(600, 120_000, 31).sort((a, b) => a.time - b.time);
    const cut = ticks.findIndex((t) => t.time >= T0 + 62_300);
    await before.addTicks('A_B', ticks.slice(0, cut));
    await after.addTicks('A_B', ticks.slice(cut));
    const bf = await redis.hmget(keys.state('A_B'), 'bf:5000', 'bf:15000');
    expect(bf.map(Number)).toEqual([Math.floor(ticks[cut - 1]!.time / 5000) * 5000 + 5000, Math.floor(ticks[cut - 1]!.time / 15_000) * 15_000 + 15_000]);
    const last = ticks.at(-1)!.time;
    await after.closePair('A_B', closeLimits(after.plan, replayAt(last, true), 0));
    for (const ms of [5000, 15_000, 60_000]) expect(await allClosed(after, 'A_B', ms), `period ${ms}`).toEqual(candlesFromTicks(ticks, ms).map(strip));

    // Imported history lands in a longer period's key (1m), not the base's
    // (1s): a live write before the workers rolled the history up still
    // leaves the hours before it to the roll-up.
    const p2 = testPrefix('store');
    prefixes.push(p2);
    const k2 = new Keys(p2);
    const plan2 = planPeriods(parsePeriods('1s,1m,1h'));
    const live = new CandleStore(redis, k2, plan2);
    const history = new HistoryStore(redis, k2, plan2);
    const H = 3_600_000;
    const boundary = T0 + 2 * H + 120_000;
    // The last imported minute is in the hour live data begins in.
    const old = [...makeTicks(400, 2 * H, 32), { pair: 'A_B', time: boundary - 30_000, price: '101', quantity: '2', amount: '202', id: '89999' }];
    await history.begin('A_B', T0, 60_000);
    await history.write('A_B', 60_000, T0, boundary, candlesFromTicks(old, 60_000));
    await history.finish('A_B', 60_000, boundary);
    const fresh = makeTicks(50, 30_000, 33).map((t, i) => ({ ...t, time: boundary + (t.time - T0), id: String(90_000 + i) }));
    await live.addTicks('A_B', fresh);
    expect(Number(await redis.hget(k2.state('A_B'), `bf:${H}`))).toBe(T0 + 2 * H + H);
    await live.closePair('A_B', closeLimits(plan2, replayAt(boundary + 3 * H, true), 0));
    const hours = (await allClosed(live, 'A_B', H)).map(({ origin: _o, ...c }) => c);
    expect(hours).toEqual(candlesFromTicks([...old, ...fresh], H, boundary + 3 * H).map(strip));
  });

  it('counts a trade seen twice once, and a second close changes nothing', async () => {
    const { store, plan, keys } = storeFor('1s,5s');
    const ticks = makeTicks(300, 20_000, 5);
    expect(await store.addTicks('A_B', ticks)).toEqual({ added: 300, duplicates: 0, late: 0, refused: [] });
    expect(await store.addTicks('A_B', ticks.slice(0, 120))).toEqual({ added: 0, duplicates: 120, late: 0, refused: [] });
    const limits = closeLimits(plan, replayAt(Math.max(...ticks.map((t) => t.time)), true), 0);
    const first = await store.closePair('A_B', limits);
    expect(first.closed).toBeGreaterThan(0);
    const snapshot = await redis.zrange(keys.candles('A_B', 5000), '0', '-1');
    const again = await store.closePair('A_B', limits);
    expect(again).toEqual({ closed: 0, revised: 0, events: [] });
    expect(await redis.zrange(keys.candles('A_B', 5000), '0', '-1')).toEqual(snapshot);
    expect(await allClosed(store, 'A_B', 5000)).toEqual(candlesFromTicks(ticks, 5000).map(strip));
    expect(await streamTrades(keys, 'A_B')).toHaveLength(300);
  });

  it('a late trade revises its closed candle, the flat ones after it and the roll-ups', async () => {
    const { store, plan } = storeFor('1s,5s');
    const tick = (s: number, id: number, price: string): Tick => ({ pair: 'A_B', time: T0 + s * 1000 + 100, id: String(id), price, quantity: '1', amount: price });
    await store.addTicks('A_B', [tick(0, 1, '10'), tick(7, 5, '12')]);
    await store.closePair('A_B', closeLimits(plan, replayAt(T0 + 9_999, true), 0));
    // Seconds 1..6 are flat at 10; now a trade at second 2 arrives late.
    const r = await store.addTicks('A_B', [tick(2, 3, '11')]);
    expect(r.late).toBe(1);
    const res = await store.closePair('A_B', closeLimits(plan, replayAt(T0 + 9_999, true), 0), { served: new Set([1000, 5000]) });
    expect(res.revised).toBeGreaterThan(0);
    expect(res.events.some((e) => e.kind === 'revised' && e.periodMs === 1000 && e.candle.time === T0 + 2000)).toBe(true);
    const ones = await allClosed(store, 'A_B', 1000);
    expect(ones.map((c) => [c.close, c.trades])).toEqual([
      ['10', 1], ['10', 0], ['11', 1], ['11', 0], ['11', 0], ['11', 0], ['11', 0], ['12', 1], ['12', 0], ['12', 0],
    ]);
    // A trade earlier than the first one: a new first candle, flat up to the old first.
    await store.addTicks('A_B', [tick(-3, 0, '9')]);
    await store.closePair('A_B', closeLimits(plan, replayAt(T0 + 9_999, true), 0));
    const all = [tick(-3, 0, '9'), tick(0, 1, '10'), tick(2, 3, '11'), tick(7, 5, '12')];
    for (const ms of [1000, 5000]) {
      expect(await allClosed(store, 'A_B', ms)).toEqual(candlesFromTicks(all, ms, Math.floor((T0 + 9_999) / ms) * ms).map(strip));
    }
  });

  it('catches up a long outage in bounded script calls, with no gap', async () => {
    const { store, plan } = storeFor('1s,1m');
    const ticks = [0, 1, 3_000].map((s, i): Tick => ({ pair: 'A_B', time: T0 + s * 1000, id: String(i + 1), price: `${i + 1}`, quantity: '1', amount: '1' }));
    await store.addTicks('A_B', ticks);
    const limits = closeLimits(plan, replayAt(T0 + 3_000_000, true), 0);
    const r = await store.closePair('A_B', limits, { budget: 500 });
    expect(r.closed).toBe(3001 + 51);
    expect(await allClosed(store, 'A_B', 1000)).toEqual(candlesFromTicks(ticks, 1000).map(strip));
    expect(await allClosed(store, 'A_B', 60_000)).toEqual(candlesFromTicks(ticks, 60_000).map(strip));
  });

  it('assembles forming candles of long periods from closed short ones and forming base buckets', async () => {
    const { store, plan } = storeFor('1s,5s,1m');
    const ticks = makeTicks(500, 42_500, 8);
    await store.addTicks('A_B', ticks);
    const now = T0 + 42_500;
    await store.closePair('A_B', closeLimits(plan, replayAt(now), 1000));
    const through = Math.floor(now / 1000) * 1000;
    for (const ms of [1000, 5000, 60_000]) {
      const closed = await allClosed(store, 'A_B', ms);
      const forming = (await store.formingCandles('A_B', ms, replayAt(now))).map(strip);
      expect(forming.length).toBeGreaterThan(0);
      const expected = candlesFromTicks(ticks, ms, Math.floor(through / ms) * ms).map(strip);
      expect([...closed, ...forming], `period ${ms}`).toEqual(expected);
    }
  });
});

/** Every trade in the pair's stream, oldest entry first. */
async function streamTrades(keys: Keys, pair: string) {
  const entries = await redis.xrange(keys.ticks(pair), '-', '+');
  return entries.flatMap(([, f]) => unpackTrades(f[1]!));
}

describe('dedupe of integer and other trade ids', () => {
  it('keeps dense integer ids as a few ranges, joins them when a gap is filled, and other ids one by one', async () => {
    const prefix = testPrefix('store');
    prefixes.push(prefix);
    const keys = new Keys(prefix);
    const store = new CandleStore(redis, keys, planPeriods(parsePeriods('1s')));
    const t = (id: string, i: number): Tick => ({ pair: 'A_B', time: T0 + i, id, price: '1', quantity: '1', amount: '1' });
    const ids = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, k) => t(String(from + k), from + k));
    await store.addTicks('A_B', ids(100, 199));
    await store.addTicks('A_B', ids(300, 399));
    expect(await redis.zrange(keys.seen('A_B'), '0', '-1')).toEqual([`100:199:${T0 + 199}`, `300:399:${T0 + 399}`]);
    // A backfill fills the gap, overlapping what is stored: only the new count.
    expect(await store.addTicks('A_B', ids(150, 350))).toMatchObject({ added: 100, duplicates: 101 });
    expect(await redis.zrange(keys.seen('A_B'), '0', '-1')).toEqual([`100:399:${T0 + 399}`]);
    // Ids that are not plain integers (letters, leading zeros, 16 digits and more) are kept one by one.
    const other = [t('a-1', 1), t('007', 2), t('1234567890123456', 3), t('7', 4)];
    expect(await store.addTicks('A_B', other)).toMatchObject({ added: 4, duplicates: 0 });
    expect(await store.addTicks('A_B', other)).toMatchObject({ added: 0, duplicates: 4 });
    expect((await redis.zrange(keys.ids('A_B'), '0', '-1')).sort()).toEqual(['007', '1234567890123456', 'a-1']);
    // A batch repeating an id counts it once.
    expect(await store.addTicks('A_B', [t('900', 900), t('900', 901)])).toMatchObject({ added: 1, duplicates: 1 });
    expect(await streamTrades(keys, 'A_B')).toHaveLength(100 + 100 + 100 + 4 + 1);
  });
});

describe('checking a batch by its summary', () => {
  // The script checks a batch whose ids are all integers by its runs of
  // ids and its oldest time (TradeBatch.summary()), and trade by trade
  // otherwise. Both must leave Redis exactly alike and answer alike.
  it('stores, refuses and counts exactly as checking trade by trade does, for batches of every kind', async () => {
    const plan = planPeriods(parsePeriods('1s,5s'));
    const pair = 'A_B';
    const stores = [true, false].map(() => {
      const prefix = testPrefix('store');
      prefixes.push(prefix);
      const keys = new Keys(prefix);
      return { keys, store: new CandleStore(redis, keys, plan, { maxLateMs: 20_000 }) };
    });
    const original = TradeBatch.prototype.summary;
    const summaries = vi.spyOn(TradeBatch.prototype, 'summary');
    const rnd = rng(77);
    let usedSummary = 0;
    let nextId = 1000;
    for (let b = 0; b < 120; b++) {
      const clock = T0 + b * 500;
      const n = 1 + Math.floor(rnd() * 30);
      const ticks: Tick[] = [];
      for (let i = 0; i < n; i++) {
        const kind = rnd();
        // Mostly the next ids in order; some old (duplicates or gaps being
        // filled), repeated within the batch, out of order, not integers,
        // older than MAX_LATE, or in buckets already closed.
        const id = kind < 0.7 ? nextId++ : kind < 0.8 ? nextId - 1 - Math.floor(rnd() * 200) : kind < 0.85 ? nextId + 5 + Math.floor(rnd() * 20) : kind < 0.9 && ticks.length > 0 ? ticks[ticks.length - 1]!.id : kind < 0.95 ? `x${Math.floor(rnd() * 50)}` : nextId++;
        const time = kind > 0.97 ? clock - 30_000 : clock - Math.floor(rnd() * 8_000);
        const price = (100 + Math.floor(rnd() * 500) / 100).toString();
        ticks.push({ pair, time, id: String(id), price, quantity: '0.5', amount: String(Number(price) / 2) });
      }
      const answers = [];
      for (const [k, { store }] of stores.entries()) {
        summaries.mockImplementation(function (this: TradeBatch) {
          if (k === 1) return '';
          const s = original.call(this);
          if (s !== '') usedSummary++;
          return s;
        });
        answers.push(await store.addTicks(pair, ticks, { clock }));
        if (b % 10 === 9) await store.closePair(pair, closeLimits(plan, replayAt(clock - 5_000), 0));
      }
      expect(answers[0]).toEqual(answers[1]);
    }
    summaries.mockRestore();
    // Most batches went by their summary, so the comparison means something.
    expect(usedSummary).toBeGreaterThan(40);
    const dump = async (keys: Keys) => {
      const state = await redis.hgetall(keys.state(pair));
      delete state.v;
      return {
        state,
        seen: await redis.zrange(keys.seen(pair), '0', '-1', 'WITHSCORES'),
        ids: await redis.zrange(keys.ids(pair), '0', '-1', 'WITHSCORES'),
        stream: await redis.xrange(keys.ticks(pair), '-', '+'),
        revised: await redis.zrange(keys.revised(pair), '0', '-1', 'WITHSCORES'),
        candles: await Promise.all(plan.periods.map((p) => redis.zrange(keys.candles(pair, p.ms), '0', '-1', 'WITHSCORES'))),
      };
    };
    const [fast, slow] = (await Promise.all(stores.map(({ keys }) => dump(keys)))) as [Awaited<ReturnType<typeof dump>>, Awaited<ReturnType<typeof dump>>];
    expect(fast).toEqual(slow);
    expect(Number(fast.state.ticks_duplicate_total)).toBeGreaterThan(0);
    expect(Number(fast.state.ticks_out_of_window_total)).toBeGreaterThan(0);
    expect(Number(fast.state.ticks_late_total)).toBeGreaterThan(0);
  });
});

describe('CANDLE_RETENTION', () => {
  it('trims closed candles older than the retention, keeping the close flat buckets after them carry', async () => {
    const prefix = testPrefix('store');
    prefixes.push(prefix);
    const keys = new Keys(prefix);
    const plan = planPeriods(parsePeriods('1s,5s'));
    const store = new CandleStore(redis, keys, plan, { maxLateMs: 5_000, candleRetention: new Map([[1000, 12_000], [5000, 20_000]]) });
    // Trades in seconds 0..39, then none: the pair is quiet for 20 s.
    const ticks = makeTicks(400, 40_000, 21);
    await store.addTicks('A_B', ticks, { clock: T0 + 40_000 });
    const end = T0 + 59_999;
    await store.closePair('A_B', closeLimits(plan, replayAt(end, true), 0));
    for (const [ms, keep] of [[1000, 12_000], [5000, 20_000]] as const) {
      const closedThrough = Math.floor(end / ms) * ms;
      const cutoff = closedThrough + ms - keep;
      const all = candlesFromTicks(ticks, ms, closedThrough).map(strip);
      // What is served: the buckets inside the retention, flat ones at the
      // close of the last traded candle, which was before the cutoff.
      expect(await allClosed(store, 'A_B', ms), `${ms}`).toEqual(all.filter((c) => c.time >= cutoff));
      // What is stored: the traded candles inside, and the newest one before.
      const stored = (await redis.zrange(keys.candles('A_B', ms), '0', '-1', 'WITHSCORES')).filter((_, i) => i % 2 === 1).map(Number);
      const traded = all.filter((c) => c.trades > 0).map((c) => c.time);
      const before = traded.filter((t) => t < cutoff);
      expect(stored, `${ms}`).toEqual([...before.slice(-1), ...traded.filter((t) => t >= cutoff)]);
    }
  });
});

describe('closing some periods only', () => {
  it('passes the periods whose limit moved; with revisions pending it closes them all', async () => {
    const prefix = testPrefix('store');
    prefixes.push(prefix);
    const keys = new Keys(prefix);
    const plan = planPeriods(parsePeriods('1s,5s,1m'));
    const store = new CandleStore(redis, keys, plan);
    const ticks = makeTicks(300, 90_000, 41);
    await store.addTicks('A_B', ticks);
    await store.closePair('A_B', closeLimits(plan, replayAt(T0 + 30_000), 0));
    // A tick of the 1s period alone: the 5s and 1m watermarks stay.
    const before = await store.state('A_B');
    await store.closePair('A_B', closeLimits(plan, replayAt(T0 + 33_000), 0), { periods: new Set([1000]) });
    const after = await store.state('A_B');
    expect(after.closedThrough.get(1000)).toBe(T0 + 32_000);
    expect(after.closedThrough.get(5000)).toBe(before.closedThrough.get(5000));
    // A late trade: the next partial call closes every period, re-rolling the 5s candle.
    await store.addTicks('A_B', [{ pair: 'A_B', time: T0 + 12_345, id: '9', price: '555', quantity: '1', amount: '555' }]);
    await store.closePair('A_B', closeLimits(plan, replayAt(T0 + 34_000), 0), { periods: new Set([1000]) });
    expect(await redis.zcard(keys.revised('A_B'))).toBe(0);
    const five = await store.closedCandles('A_B', 5000, { from: T0 + 10_000, limit: 1 });
    expect(five[0]!.high).toBe('555');
    expect((await store.state('A_B')).closedThrough.get(5000)).toBe(T0 + 25_000);
  });
});

describe('closed by the clock', () => {
  it('reads a bucket as closed once its grace time is over, before the worker stores it', async () => {
    const prefix = testPrefix('store');
    prefixes.push(prefix);
    const plan = planPeriods(parsePeriods('1s,5s'));
    const store = new CandleStore(redis, new Keys(prefix), plan);
    const ticks = makeTicks(200, 12_400, 31);
    await store.addTicks('A_B', ticks);
    // Closed by a worker through second 4 (and 5s bucket 0); the clock is at 12.5 s.
    await store.closePair('A_B', closeLimits(plan, replayAt(T0 + 5_999), 0));
    const now = T0 + 12_500;
    const limits = closeLimits(plan, replayAt(now), 500);
    const read = async (ms: number) =>
      parseCandles(await store.read('A_B', ms, { what: 'both', now, limit: 100, closeLimit: limits.get(ms)! })).map((c) => ({ time: c.time - T0, closed: c.closed, trades: c.trades }));
    const ref = (ms: number) => candlesFromTicks(ticks, ms, Math.floor(now / ms) * ms).map((c) => c.trades);
    // 1s: 0-4 stored by the worker; 5-10 not yet and outside the window; 11 closed by the clock; 12 forming.
    const ones = await read(1000);
    expect(ones.map((c) => [c.time, c.closed])).toEqual([[0, true], [1000, true], [2000, true], [3000, true], [4000, true], [11_000, true], [12_000, false]]);
    expect(ones.map((c) => c.trades)).toEqual([...ref(1000).slice(0, 5), ref(1000)[11], ref(1000)[12]]);
    // 5s: bucket 0 stored; 5 (ended at 10 s, grace over) closed by the clock; 10 forming.
    expect(await read(5000)).toEqual([
      { time: 0, closed: true, trades: ref(5000)[0] },
      { time: 5000, closed: true, trades: ref(5000)[1] },
      { time: 10_000, closed: false, trades: ref(5000)[2] },
    ]);
  });
});

describe('tick retention and MAX_LATE', () => {
  function smallStore(opts: { tickRetentionMs?: number; maxLateMs?: number }) {
    const prefix = testPrefix('store');
    prefixes.push(prefix);
    const keys = new Keys(prefix);
    const plan = planPeriods(parsePeriods('1s'));
    return { keys, store: new CandleStore(redis, keys, plan, opts) };
  }
  const tick = (id: number, time = T0 + id * 10): Tick => ({ pair: 'A_B', time, id: String(id), price: '1', quantity: '1', amount: '1' });

  it('trims ticks older than TICK_RETENTION (by trade time) as new ones arrive, and never touches candles', async () => {
    const { keys, store } = smallStore({ tickRetentionMs: 300 });
    // One stream entry per batch: 200 batches of one trade, 10 ms apart.
    for (let i = 0; i < 200; i++) await store.addTicks('A_B', [tick(i)], { clock: T0 + i * 10 });
    expect(await redis.xlen(keys.ticks('A_B'))).toBeLessThan(200 - 300 / 10 + 100);
    await store.addTicks('A_B', [tick(1000)], { clock: T0 + 10_000 });
    // XTRIM's "~" trims whole stream nodes (100 entries): allow a node's worth to remain.
    expect(await redis.xlen(keys.ticks('A_B'))).toBeLessThan(110);
    expect((await streamTrades(keys, 'A_B')).at(-1)).toMatchObject({ id: '1000', time: T0 + 10_000 });
    await store.closePair('A_B', closeLimits(store.plan, replayAt(T0 + 10_000, true), 0));
    const closed = await store.closedCandles('A_B', 1000, { from: 0, limit: 100 });
    expect(closed.reduce((n, c) => n + c.trades, 0)).toBe(201);
  });

  it('remembers trade ids for MAX_LATE by trade time, refuses older trades, and so counts a trade at most once', async () => {
    const { keys, store } = smallStore({ maxLateMs: 60_000 });
    const clock = T0 + 100_000;
    // Exactly at the bound is inside; a millisecond older is refused.
    const r = await store.addTicks('A_B', [tick(1, clock - 60_000), tick(2, clock - 60_001), tick(3, clock)], { clock });
    expect(r).toEqual({ added: 2, duplicates: 0, late: 0, refused: [1] });
    // Integer ids are kept as ranges ("lo:hi:newest time"): 2 was refused, so two.
    expect(await redis.zrange(keys.seen('A_B'), '0', '-1')).toEqual([`1:1:${clock - 60_000}`, `3:3:${clock}`]);
    // The clock moves on: ids older than the new bound are forgotten, and
    // the trades they belong to can no longer come in.
    const later = clock + 30_000;
    expect(await store.addTicks('A_B', [tick(1, clock - 60_000), tick(3, clock)], { clock: later })).toEqual({ added: 0, duplicates: 1, late: 0, refused: [0] });
    expect(await redis.zrange(keys.seen('A_B'), '0', '-1')).toEqual([`3:3:${clock}`]);
    // The bound never goes back, whatever clock a caller passes.
    expect((await store.addTicks('A_B', [tick(1, clock - 60_000)], { clock })).refused).toEqual([0]);
    const state = await redis.hgetall(keys.state('A_B'));
    expect(Number(state.lo)).toBe(later - 60_000);
    expect(Number(state.ticks_ingested_total)).toBe(2);
    expect(Number(state.ticks_duplicate_total)).toBe(1);
    expect(Number(state.ticks_out_of_window_total)).toBe(3);
  });
});

describe('the trades a pair still holds (GET /trades)', () => {
  it('gives every window and limit exactly, oldest first, late trades in their place', async () => {
    const prefix = testPrefix('store');
    prefixes.push(prefix);
    const keys = new Keys(prefix);
    const store = new CandleStore(redis, keys, planPeriods(parsePeriods('1s')), { maxLateMs: 3_600_000 });
    const rnd = rng(7);
    // 3,000 trades over 10 minutes, sent in batches of 1 to 40 as they come;
    // one in 20 is late by up to 5 minutes, so it rides in a later entry.
    const sent: Tick[] = [];
    let t = T0;
    while (sent.length < 3000) {
      const batch: Tick[] = [];
      for (let k = Math.floor(rnd() * 40) + 1; k > 0 && sent.length + batch.length < 3000; k--) {
        t += Math.floor(rnd() * 400);
        const time = rnd() < 0.05 ? Math.max(T0, t - Math.floor(rnd() * 300_000)) : t;
        const id = String(sent.length + batch.length + 1);
        batch.push({ pair: 'A_B', time, id, price: `${100 + (Number(id) % 7)}.5`, quantity: '0.01', amount: '1.005', side: rnd() < 0.5 ? 'buy' : 'sell' });
      }
      await store.addTicks('A_B', batch, { clock: t });
      sent.push(...batch);
    }
    expect(Number(await redis.hget(keys.state('A_B'), 'sl'))).toBeGreaterThan(60_000);
    const all = sent
      .map(({ pair: _p, amount: _a, ...rest }) => rest)
      .sort((a, b) => compareTrades(a, b));
    const span = t - T0;
    const windows: { from?: number; to?: number; limit: number }[] = [
      { limit: 100 },
      { limit: 1000 },
      { from: T0, limit: 1000 },
      { to: T0 + span / 2, limit: 7 },
    ];
    for (let i = 0; i < 40; i++) {
      const a = T0 + Math.floor(rnd() * span);
      const b = a + 1 + Math.floor(rnd() * 120_000);
      const limit = [1, 5, 100, 1000][i % 4]!;
      windows.push(i % 3 === 0 ? { from: a, limit } : i % 3 === 1 ? { from: a, to: b, limit } : { to: b, limit });
    }
    for (const w of windows) {
      const inside = all.filter((x) => (w.from === undefined || x.time >= w.from) && (w.to === undefined || x.time < w.to));
      const want = w.from !== undefined ? inside.slice(0, w.limit) : inside.slice(-w.limit);
      expect(await store.reads.trades('A_B', w), JSON.stringify(w)).toEqual(want);
    }
  });
});
