/**
 * Candlestack on a Redis Cluster of the test's own (3 masters, 3 replicas,
 * real redis-server processes): the three apps as real processes replay the
 * same file on the cluster and on the shared single Redis, and the API
 * serves the same candles from both. Then every key the run wrote is walked
 * on every master: each carries a hash tag, a pair's keys sit in its pair's
 * slot, a queue's keys in one slot, and no master ever answered CROSSSLOT
 * (so no script or transaction touched keys of two slots).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { AUDIT_QUEUE, CLOSE_QUEUE, Keys, candlesFromTicks, closeRedis, createRedis, deletePrefixKeys, enqueueClose, openCloseQueue, type Tick } from '@candlestack/shared';
import { AppProcess } from './support/processes.js';
import { PrivateCluster, freePort } from './support/redis-server.js';
import { TEST_REDIS_URL, deletePrefix, testPrefix } from './support/redis.js';
import { syntheticTicks } from './support/synthetic.js';
import { waitFor } from './support/wait.js';

const PAIRS = ['AAA_USDT', 'BBB_USDT', 'CCC_USDT', 'DDD_USDT', 'EEE_USDT', 'FFF_USDT'];
const PERIODS = ['1m', '5m', '15m'];
const PERIOD_MS: Record<string, number> = { '1m': 60_000, '5m': 300_000, '15m': 900_000 };
const T0 = Date.UTC(2024, 4, 1);
const SPAN = 60 * 60_000;

let cluster: PrivateCluster;
const dir = mkdtempSync(join(tmpdir(), 'candlestack-cluster-test-'));
const procs: AppProcess[] = [];
const singlePrefix = testPrefix('cluster-single');
const clusterPrefix = testPrefix('cluster');
/** The run on the cluster, for the failover after it. */
let run: { api: string; candles: Record<string, unknown>; expected: Map<string, number> } | undefined;

beforeAll(async () => {
  cluster = await PrivateCluster.start();
}, 60_000);

afterAll(async () => {
  await Promise.all(procs.map((p) => p.kill()));
  await cluster?.destroy();
  await deletePrefix(singlePrefix);
  rmSync(dir, { recursive: true, force: true });
});

/** The three apps on one Redis (REDIS_URL) or the cluster (REDIS_CLUSTER_NODES), replaying `file`. */
async function startApps(redis: Record<string, string>, prefix: string, file: string): Promise<string> {
  const port = await freePort();
  const env = { ...redis, REDIS_PREFIX: prefix, PERIODS: PERIODS.join(','), GRACE_MS: '0', SOURCE: 'replay', REPLAY_FILE: file, REPLAY_SPEED: '0' };
  const apps = [AppProcess.start('worker', env), AppProcess.start('api', { ...env, PORT: String(port) }), AppProcess.start('ingest', env)];
  procs.push(...apps);
  return `http://127.0.0.1:${port}`;
}

async function getJson(url: string): Promise<unknown> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: ${r.status} ${await r.text()}`);
  return r.json();
}

/** Every candle of every pair and period, once the replay's last bucket is closed everywhere. */
async function allCandles(api: string, expected: Map<string, number>): Promise<Record<string, unknown>> {
  return waitFor(
    async () => {
      const out: Record<string, unknown> = {};
      for (const pair of PAIRS) {
        for (const period of PERIODS) {
          const body = (await getJson(`${api}/candles/${pair}/${period}?from=${T0}&limit=5000`)) as { candles: { closed: boolean }[] };
          if (body.candles.length !== expected.get(`${pair} ${period}`) || body.candles.some((c) => !c.closed)) return false;
          out[`${pair} ${period}`] = body.candles;
        }
      }
      return out;
    },
    `every candle closed at ${api}`,
    40_000,
  );
}

/**
 * Subscribes over the API's WebSocket to the first pair's 1m candles, then
 * publishes a `gap` event on the deployment's channel from a cluster client
 * of the test's own (again, until it arrives): the message the socket gets.
 */
async function liveEventArrives(api: string, channel: string): Promise<Record<string, unknown>> {
  const ws = new WebSocket(`${api.replace('http', 'ws')}/ws`);
  const messages: Record<string, unknown>[] = [];
  ws.on('message', (data: Buffer) => messages.push(JSON.parse(data.toString()) as Record<string, unknown>));
  const publisher = createRedis({ REDIS_URL: 'redis://unused', REDIS_CLUSTER_NODES: cluster.nodes }, 'bullmq');
  try {
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    ws.send(JSON.stringify({ op: 'subscribe', pair: PAIRS[0], period: '1m' }));
    await waitFor(() => messages.some((m) => m.type === 'subscribed'), 'subscribed');
    const event = { type: 'gap', pair: PAIRS[0], period: '1m', from: T0, to: T0 + 60_000 };
    return await waitFor(
      async () => {
        await publisher.publish(channel, JSON.stringify(event));
        await new Promise((r) => setTimeout(r, 200));
        return messages.find((m) => m.type === 'gap');
      },
      'the live event',
      15_000,
    );
  } finally {
    ws.close();
    await closeRedis(publisher);
  }
}

describe('on a Redis Cluster', () => {
  it('a command client fails at once when the cluster is away, instead of queueing without bound', async () => {
    const nowhere = `127.0.0.1:${await freePort()}`;
    const client = createRedis({ REDIS_URL: 'redis://unused', REDIS_CLUSTER_NODES: nowhere }, 'command');
    try {
      const started = Date.now();
      await expect(client.get('x')).rejects.toThrow(/enableOfflineQueue|Connection is closed|isn't ready/);
      expect(Date.now() - started).toBeLessThan(1_000);
    } finally {
      client.disconnect();
    }
  });

  it("connects to a cluster that asks for a password with REDIS_URL's credentials", async () => {
    const locked = await PrivateCluster.start(3, 0, { password: 's3cret pass' });
    const env = { REDIS_URL: `redis://:${encodeURIComponent('s3cret pass')}@127.0.0.1:6379`, REDIS_CLUSTER_NODES: locked.nodes };
    const clients = [createRedis(env, 'command'), createRedis(env, 'bullmq')];
    try {
      for (const [i, client] of clients.entries()) {
        await waitFor(() => client.status === 'ready', 'the cluster client, authenticated');
        // Keys on every master: each node's connection authenticated.
        for (let k = 0; k < 30; k++) await client.set(`pw:{${i}-${k}}`, String(k));
        expect(await client.get(`pw:{${i}-29}`)).toBe('29');
      }
      expect(new Set((await locked.keys('pw:*')).map((k) => k.port)).size).toBe(3);
    } finally {
      for (const c of clients) await closeRedis(c);
      await locked.destroy();
    }
  });

  it('deletes a prefix on every master', async () => {
    const client = createRedis({ REDIS_URL: 'redis://unused', REDIS_CLUSTER_NODES: cluster.nodes }, 'command') as Cluster;
    try {
      await waitFor(() => client.status === 'ready', 'the cluster client');
      const prefix = testPrefix('cluster-delete');
      const keys = Array.from({ length: 200 }, (_, i) => `${prefix}:k:{${i}}`);
      for (const k of keys) await client.set(k, '1');
      await client.set(`${prefix}-other:{1}`, 'kept');
      const before = await cluster.keys(`${prefix}:*`);
      expect(before).toHaveLength(200);
      expect(new Set(before.map((k) => k.port)).size).toBe(3);
      await deletePrefixKeys(client, prefix);
      expect(await cluster.keys(`${prefix}:*`)).toHaveLength(0);
      expect(await client.get(`${prefix}-other:{1}`)).toBe('kept');
      await client.del(`${prefix}-other:{1}`);
    } finally {
      await closeRedis(client);
    }
  });

  it('replays a file into the same candles as on one Redis; every key in its slot, no CROSSSLOT', async () => {
    const ticks = new Map<string, Tick[]>(PAIRS.map((pair, i) => [pair, syntheticTicks(pair, T0, SPAN, 400, i + 1)]));
    const lines = [...ticks.values()].flat().sort((a, b) => a.time - b.time);
    const json = (t: Tick) => JSON.stringify({ pair: t.pair, time: t.time, price: t.price, quantity: t.quantity, side: t.side, id: t.id });
    // Every path that writes: trades in order, then a line that cannot be
    // read (a dead letter), trades seen before (deduplicated) and trades of
    // early buckets arriving last (revisions, if their candles are closed by
    // then: it depends on when the worker runs).
    const early = lines.filter((_, i) => i % 97 === 0);
    const inOrder = lines.filter((_, i) => i % 97 !== 0);
    const text = [...inOrder.map(json), 'not a trade', ...inOrder.slice(0, 20).map(json), ...early.map(json)];
    const file = join(dir, 'trades.jsonl');
    writeFileSync(file, text.join('\n') + '\n');
    // With the replay over, every bucket from the pair's first trade to the
    // file's end is closed, flat ones included.
    const end = lines.at(-1)!.time;
    const expected = new Map<string, number>();
    for (const [pair, ts] of ticks) {
      for (const period of PERIODS) expected.set(`${pair} ${period}`, candlesFromTicks(ts, PERIOD_MS[period]!, Math.floor(end / PERIOD_MS[period]!) * PERIOD_MS[period]!).length);
    }

    const [onCluster, onOne] = await Promise.all([
      startApps({ REDIS_CLUSTER_NODES: cluster.nodes }, clusterPrefix, file),
      startApps({ REDIS_URL: TEST_REDIS_URL }, singlePrefix, file),
    ]);
    const [fromCluster, fromOne] = await Promise.all([allCandles(onCluster, expected), allCandles(onOne, expected)]);
    expect(fromCluster).toEqual(fromOne);
    run = { api: onCluster, candles: fromCluster, expected };
    for (const pair of PAIRS.slice(0, 2)) {
      expect(await getJson(`${onCluster}/trades/${pair}?from=${T0}&limit=1000`)).toEqual(await getJson(`${onOne}/trades/${pair}?from=${T0}&limit=1000`));
    }
    for (const api of [onCluster, onOne]) {
      const stats = await (await fetch(`${api}/metrics`)).text();
      expect(stats, api).toMatch(/^candlestack_ticks_malformed_total 1$/m);
      expect(stats, api).toMatch(/^candlestack_ticks_duplicate_total 20$/m);
    }
    const pairs = (await getJson(`${onCluster}/pairs`)) as { pairs: { pair: string }[] };
    expect(pairs.pairs.map((p) => p.pair).sort()).toEqual(PAIRS);
    expect((await fetch(`${onCluster}/readyz`)).status).toBe(200);

    // Every key the run wrote, on every master.
    const keys = await cluster.keys(`${clusterPrefix}:*`);
    const tagOf = (key: string) => /\{([^}]*)\}/.exec(key)?.[1];
    expect(keys.filter((k) => tagOf(k.key) === undefined).map((k) => k.key), 'keys without a hash tag').toEqual([]);
    const bySlot = new Map<string, Set<number>>();
    for (const { key, slot } of keys) bySlot.set(tagOf(key)!, (bySlot.get(tagOf(key)!) ?? new Set()).add(slot));
    // A pair's data, the deployment's own keys, the close queue and the audit's (AUDIT is on by default), each under its tag, and nothing else.
    expect([...bySlot.keys()].sort()).toEqual([...PAIRS, CLOSE_QUEUE, AUDIT_QUEUE, 'global'].sort());
    for (const [tag, slots] of bySlot) {
      expect([...slots], tag).toEqual([await cluster.slotOf(`{${tag}}`)]);
    }
    const pairKeys = keys.filter((k) => PAIRS.includes(tagOf(k.key)!));
    expect(pairKeys.length).toBeGreaterThanOrEqual(PAIRS.length * 5);
    // The pairs are spread over the masters, so the cluster shares the work.
    expect(new Set(pairKeys.map((k) => k.port)).size).toBeGreaterThan(1);
    // BullMQ's keys (job schedulers, jobs, events) all under the queue's tag.
    expect(keys.filter((k) => k.key.startsWith(`${clusterPrefix}:bull:{${CLOSE_QUEUE}}:${CLOSE_QUEUE}:`)).length).toBeGreaterThan(3);

    // A command whose keys span slots is refused by the cluster, and counted.
    expect((await cluster.errorStats()).get('CROSSSLOT')).toBeUndefined();
    for (const p of procs) {
      expect(p.lines.filter((l) => /CROSSSLOT|"level":(50|60)/.test(l)), `${p.app} logged errors`).toEqual([]);
    }
  }, 90_000);

  it("survives the close queue's master failing over to its replica, like a Redis restart", async () => {
    if (!run) throw new Error('needs the replay above');
    const { api } = run;
    const master = await cluster.masterOf(await cluster.slotOf(`{${CLOSE_QUEUE}}`));
    await cluster.waitReplicated(master);
    await cluster.kill(master);
    const slot = await cluster.slotOf(`{${CLOSE_QUEUE}}`);
    await waitFor(async () => (await cluster.masterOf(slot)) !== master, 'a replica to take over', 20_000);
    await cluster.waitOk();

    // The queue works: a close run queued now through the contract is run by the worker.
    const bull = createRedis({ REDIS_URL: 'redis://unused', REDIS_CLUSTER_NODES: cluster.nodes }, 'bullmq');
    const queue = openCloseQueue(bull, new Keys(clusterPrefix));
    try {
      const before = await queue.getCompletedCount();
      await enqueueClose(queue, 'after the failover');
      await waitFor(async () => (await queue.getCompletedCount()) > before, 'a close run after the failover', 20_000);
    } finally {
      await queue.close();
      await closeRedis(bull);
    }
    // Nothing was lost (the replicas had it all), the API answers and is ready again.
    expect(await allCandles(api, run.expected)).toEqual(run.candles);
    await waitFor(async () => (await fetch(`${api}/readyz`)).status === 200, 'the API ready again', 20_000);
    // The live feed still hears the deployment's events (PUBLISH reaches every node's subscribers).
    expect(await liveEventArrives(api, new Keys(clusterPrefix).events())).toMatchObject({ type: 'gap', pair: PAIRS[0], period: '1m' });
    for (const p of procs) expect(p.running, `${p.app} still running`).toBe(true);
  }, 60_000);
});
