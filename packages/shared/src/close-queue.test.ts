import { describe, expect, it } from 'vitest';
import { CLOSE_SHARDS, CloseJobError, closeJobSchema, closeShardOf, closeShards, parseCloseJob } from './close-queue.js';
import { Keys } from './keys.js';

describe('the close queue contract', () => {
  it('takes a run over every period or over one period chain', () => {
    expect(parseCloseJob({})).toEqual({});
    expect(parseCloseJob({ periodMs: 60_000 })).toEqual({ periodMs: 60_000 });
    expect(parseCloseJob({ shard: { index: 1, of: 4 } })).toEqual({ shard: { index: 1, of: 4 } });
  });
  it('refuses anything else, saying what is wrong', () => {
    for (const bad of [null, 'all', { all: true }, { periodMs: -1 }, { periodMs: 1.5 }, { periodMs: '60000' }, { shard: { index: 4, of: 4 } }, { shard: { index: 0, of: 0 } }, { shard: 1 }]) {
      expect(() => parseCloseJob(bad), JSON.stringify(bad)).toThrow(CloseJobError);
    }
    expect(() => parseCloseJob({ all: true })).toThrow(/not a close job: .*all/);
    expect(closeJobSchema.safeParse({ periodMs: 0 }).success).toBe(false);
  });
  it("keeps a queue's keys under one hash tag, inside the deployment's prefix", () => {
    expect(new Keys('cs').bullPrefix('close')).toBe('cs:bull:{close}');
  });
  it('splits the pairs into shards of about equal size, the same in every process', () => {
    expect(closeShards()).toHaveLength(CLOSE_SHARDS);
    expect(closeShards().map((s) => s.index)).toEqual([...Array(CLOSE_SHARDS).keys()]);
    // FNV-1a: fixed values, so every worker of every version agrees.
    expect(closeShardOf('BTC_USDT', 4)).toBe(closeShardOf('BTC_USDT', 4));
    expect([closeShardOf('BTC_USDT', 1000), closeShardOf('ETH_USDT', 1000)]).toEqual([fnv('BTC_USDT') % 1000, fnv('ETH_USDT') % 1000]);
    const sizes = new Array<number>(4).fill(0);
    for (let i = 0; i < 2000; i++) sizes[closeShardOf(`P${i}_USDT`, 4)]!++;
    for (const n of sizes) expect(n).toBeGreaterThan(400);
  });
});

/** FNV-1a 32, written out with BigInt as a reference. */
function fnv(text: string): number {
  let h = 0x811c9dc5n;
  for (const c of Buffer.from(text)) h = ((h ^ BigInt(c)) * 0x01000193n) % 2n ** 32n;
  return Number(h);
}
