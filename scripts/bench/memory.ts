/**
 * Redis memory per pair per day, measured, so an operator can size a
 * server: a day of trades of one pair at a few rates, through the store as
 * the ingester writes it (TICK_RETENTION 24h keeps the day's stream), all
 * candles closed, then MEMORY USAGE of every key of the pair. The stream
 * and the dedupe ranges are what a day of retention holds at any time; the
 * candles are what each day adds (CANDLE_RETENTION trims them).
 */
import { CandleStore, Keys, closeLimits, parsePeriods, planPeriods, type Tick } from '@candlestack/shared';
import { BenchRedis, type BenchContext, type Figure } from './lib.js';

const DAY = 86_400_000;

async function pairMemory(redis: BenchRedis, keys: Keys, pair: string, periods: readonly number[]): Promise<{ stream: number; dedupe: number; candles: number }> {
  const usage = async (k: string) => Number((await redis.client.memory('USAGE', k, 'SAMPLES', '0')) ?? 0);
  let candles = 0;
  for (const ms of periods) candles += await usage(keys.candles(pair, ms));
  return { stream: await usage(keys.ticks(pair)), dedupe: (await usage(keys.ids(pair))) + (await usage(keys.seen(pair))), candles: candles + (await usage(keys.state(pair))) };
}

export async function memory(ctx: BenchContext): Promise<Figure[]> {
  if (ctx.quick) return [];
  const redis = await BenchRedis.start({ aof: false });
  const out: Figure[] = [];
  try {
    for (const set of ['1m,5m,10m,15m,30m,1h,4h,1d', '1s,1m,1h,1d']) {
      const plan = planPeriods(parsePeriods(set));
      for (const rate of [0.1, 1, 10]) {
        const prefix = `mem-${set.length}-${rate}`;
        const keys = new Keys(prefix);
        const store = new CandleStore(redis.client, keys, plan, { tickRetentionMs: DAY, maxLateMs: DAY });
        const n = Math.round(rate * 86_400);
        ctx.progress(`memory: PERIODS=${set}, ${rate} trade(s)/s, a day (${n.toLocaleString('en-US')} trades)`);
        const start = Date.UTC(2024, 0, 1);
        let price = 100;
        let batch: Tick[] = [];
        for (let i = 0; i < n; i++) {
          price = Math.max(1, price * (1 + (((i * 7919) % 1000) / 1000 - 0.5) / 500));
          batch.push({ pair: 'M_USDT', time: start + Math.floor((i * DAY) / n), price: price.toFixed(4), quantity: `0.${String(1000 + (i % 9000)).padStart(4, '0')}`, amount: '1.5', side: i % 2 ? 'buy' : 'sell', id: String(10_000_000 + i) });
          if (batch.length === 500 || i === n - 1) {
            await store.addTicks('M_USDT', batch, { clock: batch.at(-1)!.time });
            batch = [];
          }
        }
        await store.closePair('M_USDT', closeLimits(plan, { source: 'replay', replayTime: start + DAY - 1, done: true }, 0), { budget: 5000 });
        const m = await pairMemory(redis, keys, 'M_USDT', plan.chain.map((c) => c.ms));
        const total = m.stream + m.dedupe + m.candles;
        out.push({
          section: 'memory per pair per day',
          name: `PERIODS=${set}, ${rate} trade(s)/s`,
          value: total / 1024 / 1024,
          unit: 'MB',
          note: `stream ${(m.stream / 1024 / 1024).toFixed(2)} MB (${(m.stream / n).toFixed(1)} B/trade), dedupe ${(m.dedupe / 1024).toFixed(1)} kB, candles ${(m.candles / 1024).toFixed(0)} kB`,
        });
        await redis.client.flushall();
      }
    }
    return out;
  } finally {
    await redis.stop();
  }
}
