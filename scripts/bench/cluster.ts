/**
 * The spread over a Redis Cluster (issue 10): a cluster of the bench's own
 * (3 masters, 3 replicas, the tests' PrivateCluster), a replay of many
 * trades over 1,000 pairs through the production build of the ingester and
 * the worker with REDIS_CLUSTER_NODES, until every 1h candle is closed.
 * Then, per master: the pairs whose keys it holds and those keys (SCAN on
 * the master itself), the trades it stored (each pair's own
 * `ticks_ingested_total`, counted by the add-ticks script with the trades),
 * the script calls it ran (`INFO commandstats`, EVALSHA: trade writes and
 * closes) and its CPU (`INFO cpu`). Each share is judged against a third,
 * within 15% of it (28.3% to 38.3%).
 *
 * Run only with `pnpm bench --cluster` or `--only=cluster`: six more
 * redis-server processes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster } from 'ioredis';
import { AUDIT_QUEUE, CLOSE_QUEUE, Keys } from '@candlestack/shared';
import { PrivateCluster } from '../../test/support/redis-server.js';
import { writeReplayFile } from './e2e.js';
import { BenchApp, waitFor, type BenchContext, type Figure } from './lib.js';

/** Hash tags that are no pair: the deployment's own keys and the BullMQ queues'. */
const NOT_PAIRS = new Set(['global', CLOSE_QUEUE, AUDIT_QUEUE]);

const HOUR = 3_600_000;
/** How far from a third a master's share may be, relative to a third. */
const TOLERANCE = 0.15;

interface MasterReading {
  readonly evalsha: number;
  readonly cpu: number;
}

async function reading(cluster: PrivateCluster, port: number): Promise<MasterReading> {
  return cluster.onNode(port, async (r) => {
    const stats = await r.info('commandstats');
    const cpu = await r.info('cpu');
    return {
      evalsha: Number(/^cmdstat_evalsha:calls=(\d+)/m.exec(stats)?.[1] ?? 0),
      cpu: Number(/used_cpu_user:([\d.]+)/.exec(cpu)![1]) + Number(/used_cpu_sys:([\d.]+)/.exec(cpu)![1]),
    };
  });
}

interface MasterKeys {
  /** Pairs with at least one key here. */
  readonly pairs: Set<string>;
  /** Keys of some pair. */
  readonly pairKeys: number;
  /** Hash tags of the other keys ({global} and the queues': {close}, {audit}). */
  readonly others: Set<string>;
  /** Trades stored here: ticks_ingested_total of its pairs. */
  readonly trades: number;
}

/** Every key of the prefix on one master (SCAN there), by hash tag. */
async function keysOn(cluster: PrivateCluster, port: number, keys: Keys): Promise<MasterKeys> {
  return cluster.onNode(port, async (r) => {
    const pairs = new Set<string>();
    const others = new Set<string>();
    let pairKeys = 0;
    let cursor = '0';
    do {
      const [next, found] = await r.scan(cursor, 'MATCH', `${keys.prefix}:*`, 'COUNT', 1000);
      cursor = next;
      for (const k of found) {
        const tag = /\{([^}]+)\}/.exec(k)?.[1];
        if (tag === undefined) continue;
        if (NOT_PAIRS.has(tag)) others.add(`{${tag}}`);
        else {
          pairs.add(tag);
          pairKeys++;
        }
      }
    } while (cursor !== '0');
    const pipe = r.pipeline();
    for (const p of pairs) pipe.hget(keys.state(p), 'ticks_ingested_total');
    const trades = ((await pipe.exec()) ?? []).reduce((s, [, v]) => s + Number(v ?? 0), 0);
    return { pairs, pairKeys, others, trades };
  });
}

const share = (n: number, total: number, parts: number) => {
  const s = total > 0 ? n / total : 0;
  const ok = Math.abs(s * parts - 1) <= TOLERANCE;
  return { text: `${(100 * s).toFixed(1)}% of ${total.toLocaleString('en-US')}`, ok };
};

export async function clusterSpread(ctx: BenchContext): Promise<Figure[]> {
  const trades = Number(process.env.BENCH_CLUSTER_TRADES ?? (ctx.quick ? 50_000 : 200_000));
  const pairs = Number(process.env.BENCH_PAIRS ?? 1_000);
  const hours = 6;
  const dir = mkdtempSync(join(tmpdir(), 'candlestack-bench-cluster-'));
  const section = 'cluster';
  const keys = new Keys('bench-cluster');
  ctx.progress('cluster: starting 3 masters + 3 replicas (redis-server --cluster-enabled)');
  const cluster = await PrivateCluster.start(3, 1);
  const client = new Cluster(cluster.ports.map((port) => ({ host: '127.0.0.1', port })));
  client.on('error', () => undefined);
  const apps: BenchApp[] = [];
  try {
    const file = join(dir, 'replay.jsonl');
    ctx.progress(`cluster: writing ${trades.toLocaleString('en-US')} trades over ${pairs} pairs, ${hours} h`);
    const { last } = writeReplayFile(file, trades, pairs, hours, 4);
    const lastHour = Math.floor(last / HOUR) * HOUR;
    // Every node before, the masters after: roles settle after the cluster is made.
    const before = new Map(await Promise.all(cluster.ports.map(async (port) => [port, await reading(cluster, port)] as const)));

    ctx.progress('cluster: replay through ingester and worker (production build), REDIS_CLUSTER_NODES, PERIODS=1m,5m,15m,1h');
    const env = {
      REDIS_CLUSTER_NODES: cluster.nodes, REDIS_PREFIX: keys.prefix, PERIODS: '1m,5m,15m,1h', GRACE_MS: '0',
      SOURCE: 'replay', REPLAY_FILE: file, REPLAY_SPEED: '0',
    };
    const t0 = performance.now();
    apps.push(BenchApp.start('worker', env), BenchApp.start('ingest', env));
    await waitFor(async () => (await client.hget(keys.clock(), 'done')) === '1', 'the replay on the cluster', 600_000, 100);
    const pairNames = Array.from({ length: pairs }, (_, p) => `P${p}_USDT`);
    await waitFor(async () => {
      const closed = await Promise.all(pairNames.map((p) => client.hget(keys.state(p), `c:${HOUR}`)));
      return closed.every((c) => c !== null && Number(c) >= lastHour);
    }, 'every 1h candle to close on the cluster', 600_000, 200).catch((err: Error) => {
      throw new Error(`${err.message}; worker said: ${apps[0]!.lines.slice(-5).join(' | ')}`);
    });
    const seconds = (performance.now() - t0) / 1000;
    const masters = (await cluster.masters()).sort((a, b) => a - b);
    const after = await Promise.all(masters.map((m) => reading(cluster, m)));
    const start = masters.map((m) => before.get(m)!);
    if (masters.length !== 3) ctx.progress(`cluster: ${masters.length} masters serve slots, not 3: the shares below are of ${masters.length}`);
    const held = await Promise.all(masters.map((m) => keysOn(cluster, m, keys)));

    const total = {
      pairs: held.reduce((s, h) => s + h.pairs.size, 0),
      pairKeys: held.reduce((s, h) => s + h.pairKeys, 0),
      trades: held.reduce((s, h) => s + h.trades, 0),
      evalsha: masters.reduce((s, _, i) => s + after[i]!.evalsha - start[i]!.evalsha, 0),
      cpu: masters.reduce((s, _, i) => s + after[i]!.cpu - start[i]!.cpu, 0),
    };
    const goal = `⅓ ± ${TOLERANCE * 100}%`;
    const out: Figure[] = [
      {
        section,
        name: `replay of ${trades.toLocaleString('en-US')} trades, ${pairs} pairs, 3 masters + 3 replicas, to closed 1h candles`,
        value: trades / seconds,
        unit: 'trades/s',
        note: `${seconds.toFixed(1)} s; ${total.trades.toLocaleString('en-US')} trades stored${total.trades === trades ? '' : ` (NOT ${trades})`}; every process on the same 2 cores`,
      },
    ];
    masters.forEach((port, i) => {
      const h = held[i]!;
      const calls = after[i]!.evalsha - start[i]!.evalsha;
      const cpu = after[i]!.cpu - start[i]!.cpu;
      const p = share(h.pairs.size, total.pairs, masters.length);
      const k = share(h.pairKeys, total.pairKeys, masters.length);
      const t = share(h.trades, total.trades, masters.length);
      const e = share(calls, total.evalsha, masters.length);
      const c = share(cpu, total.cpu, masters.length);
      const also = h.others.size > 0 ? `; also ${[...h.others].sort().join(' ')}` : '';
      const name = `master ${i + 1} (:${port})`;
      const within = (x: { ok: boolean }) => (x.ok ? 'within' : 'OUTSIDE');
      out.push(
        { section, name: `${name}: pairs held`, value: h.pairs.size, unit: 'pairs', goal, note: `${p.text}, ${within(p)}; ${h.pairKeys.toLocaleString('en-US')} pair keys (${k.text}, ${within(k)})${also}` },
        { section, name: `${name}: trades written`, value: h.trades, unit: 'trades', goal, note: `${t.text}, ${within(t)}` },
        { section, name: `${name}: script calls (EVALSHA: writes and closes)`, value: calls, unit: 'calls', goal, note: `${e.text}, ${within(e)}` },
        { section, name: `${name}: Redis CPU`, value: cpu, unit: 's', note: `${c.text} s` },
      );
    });
    return out;
  } finally {
    await Promise.all(apps.map((a) => a.stop()));
    client.disconnect();
    await cluster.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}
