/**
 * A market with history imported from the exchange (issue 12), written into
 * Redis as the ingester and worker leave it: the pair's state with the
 * history fields (hs, hm, hb, hx) and the candle zsets' members in the
 * store's JSON form, the imported ones with `"origin":"exchange"` right
 * after `trades`, the 5m roll-up holding the boundary with
 * `"origin":"mixed"`, the ones built from trades with no origin and their
 * trade ids (`"ot":...`), which the reads cut off.
 *
 * BTC_USDT: 2 h of imported 1m candles from T0, live from 02:02 (so the
 * 02:00 5m bucket is mixed) to 02:59, the boundary bucket incomplete
 * (hx 0). ETH_USDT: the same times, the boundary exact (hx 1). XRP_USDT: an
 * import under way (hs and hm, no hb). LTC_USDT: no history at all. The
 * clock is a replay's, stopped at the last trade: nothing is forming.
 */
import { canonical, encodeStored, rollUp, type StoredCandle } from '@candlestack/shared';
import type { TestApi } from './helpers.js';

export const T0 = Date.UTC(2024, 0, 1);
export const MIN = 60_000;
const FIVE = 5 * MIN;
/** Where live data begins: the start of the boundary 1m bucket. */
export const LIVE_FROM = T0 + 122 * MIN;
/** The last minute stored. */
export const LAST = T0 + 179 * MIN;

type Origin = 'exchange' | 'mixed' | undefined;

/** The member the store keeps: origin right after trades, trade ids after it (only for what was built from trades). */
function member(c: StoredCandle, origin: Origin): string {
  const text = encodeStored(c);
  if (origin === undefined) return text;
  const at = text.indexOf(',"ot":');
  const head = at < 0 ? text.slice(0, -1) : text.slice(0, at);
  const tail = at < 0 ? '}' : text.slice(at);
  return `${head},"origin":"${origin}"${tail}`;
}

function minute(pair: string, t: number): StoredCandle {
  const m = (t - T0) / MIN;
  const base = pair === 'ETH_USDT' ? 2300 : 42_000;
  const open = canonical(`${base + ((m * 37) % 200)}.${m % 10}5`);
  const close = canonical(`${base + ((m * 53) % 200)}.${(m + 3) % 10}5`);
  const high = canonical(`${base + 250}.5`);
  const low = canonical(`${base - 50}.25`);
  const c: StoredCandle = { time: t, open, high, low, close, volume: '1.5', quoteVolume: canonical(`${base * 1.5}`), trades: 3 + (m % 4) };
  // Built from trades: the store keeps the first and last trade's time and id.
  return t >= LIVE_FROM ? { ...c, ot: t + 1000, oi: String(m * 10), ct: t + 50_000, ci: String(m * 10 + 2) } : c;
}

/** The 1m and 5m candles of one pair, each with its origin. */
export function historyCandles(pair: string): { m1: { c: StoredCandle; origin: Origin }[]; m5: { c: StoredCandle; origin: Origin }[] } {
  const m1: { c: StoredCandle; origin: Origin }[] = [];
  for (let t = T0; t <= LAST; t += MIN) m1.push({ c: minute(pair, t), origin: t < LIVE_FROM ? 'exchange' : undefined });
  const m5: { c: StoredCandle; origin: Origin }[] = [];
  for (let b = T0; b <= LAST; b += FIVE) {
    const parts = m1.filter((x) => x.c.time >= b && x.c.time < b + FIVE);
    const exchange = parts.filter((x) => x.origin === 'exchange').length;
    const origin: Origin = exchange === parts.length ? 'exchange' : exchange > 0 ? 'mixed' : undefined;
    const up = rollUp(b, parts.map((x) => x.c));
    const last = parts.at(-1)!.c;
    const first = parts.find((x) => x.origin === undefined)?.c;
    // A roll-up holding candles built from trades keeps their trade ids.
    m5.push({ c: first ? { ...up, ot: first.ot!, oi: first.oi!, ct: last.ct!, ci: last.ci! } : up, origin });
  }
  return { m1, m5 };
}

/** The state and candles of the four pairs (see the top). */
export async function seedHistory(t: TestApi): Promise<void> {
  await t.store.registerPairs(['BTC_USDT', 'ETH_USDT', 'XRP_USDT', 'LTC_USDT']);
  for (const [pair, hx] of [
    ['BTC_USDT', '0'],
    ['ETH_USDT', '1'],
  ] as const) {
    const { m1, m5 } = historyCandles(pair);
    const p = t.redis.multi();
    p.zadd(t.keys.candles(pair, MIN), ...m1.flatMap(({ c, origin }) => [c.time, member(c, origin)]));
    p.zadd(t.keys.candles(pair, FIVE), ...m5.flatMap(({ c, origin }) => [c.time, member(c, origin)]));
    p.hset(t.keys.state(pair), {
      first: T0,
      lt: LAST + 50_000,
      [`c:${MIN}`]: LAST,
      [`c:${FIVE}`]: Math.floor(LAST / FIVE) * FIVE,
      v: '1',
      hs: T0,
      hm: MIN,
      hb: LIVE_FROM,
      hx,
    });
    await p.exec();
  }
  // The source's clock stopped at the last trade (as a replay's), so that
  // no bucket is forming by the wall clock: the candles read are exactly
  // those stored here.
  await t.redis.hset(t.keys.clock(), { source: 'replay', time: LAST + 50_000, done: 0 });
  // An import under way: 40 minutes in, no boundary yet.
  await t.redis.hset(t.keys.state('XRP_USDT'), { hs: T0, hp: T0 + 40 * MIN, hm: MIN });
}
