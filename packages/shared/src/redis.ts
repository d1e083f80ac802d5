/**
 * The one place Redis clients are made.
 */
import { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import { redactText, redactUrl } from './redact.js';

export type RedisClient = Redis | Cluster;

export interface RedisConfig {
  readonly REDIS_URL: string;
  readonly REDIS_CLUSTER_NODES?: string | undefined;
}

export type ClientRole =
  /**
   * For BullMQ: it blocks on commands and must never see them fail while
   * reconnecting, so `maxRetriesPerRequest: null` (BullMQ refuses to run
   * otherwise) and the offline queue stays on.
   */
  | 'bullmq'
  /**
   * For our own commands: when Redis is away they fail at once
   * (`enableOfflineQueue: false`) instead of piling up in memory, so the
   * ingester buffers within its own bound and the API answers 503.
   */
  | 'command';

/** `REDIS_CLUSTER_NODES` ("host:port,host:port") as ioredis wants the startup nodes. */
export function clusterNodes(text: string): { host: string; port: number }[] {
  return text.split(',').map((hp) => {
    const i = hp.lastIndexOf(':');
    return { host: hp.slice(0, i), port: Number(hp.slice(i + 1)) };
  });
}

/**
 * Reconnect forever, backing off to at most 2 s between tries: Redis going
 * away is survived, and it is noticed again within seconds when it returns.
 */
const retryStrategy = (times: number) => Math.min(100 * 2 ** Math.min(times, 5), 2_000);

/** The username and password of a redis:// URL, if it has them. */
export function urlCredentials(url: string): { username?: string; password?: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return {};
  }
  return {
    ...(u.username && { username: decodeURIComponent(u.username) }),
    ...(u.password && { password: decodeURIComponent(u.password) }),
  };
}

export function createRedis(config: RedisConfig, role: ClientRole, log?: Logger): Redis | Cluster {
  const bullmq = role === 'bullmq';
  let client: Redis | Cluster;
  if (config.REDIS_CLUSTER_NODES) {
    client = new Cluster(clusterNodes(config.REDIS_CLUSTER_NODES), {
      // A Cluster keeps its own offline queue and reconnects as a whole:
      // these options belong here, not in `redisOptions`. Each node's own
      // connection is made by ioredis with no retry and its offline queue on
      // (whatever `redisOptions` says); a node lost is found again by
      // refreshing the slots, and a command sent meanwhile is retried on the
      // node now serving its slot (retryDelayOnFailover, up to
      // maxRedirections times), which is how a failover to a replica is
      // survived.
      enableOfflineQueue: bullmq,
      clusterRetryStrategy: retryStrategy,
      redisOptions: {
        // Per command, on a node's connection; BullMQ reads it here on a
        // Cluster and refuses a blocking connection where it is not null.
        maxRetriesPerRequest: bullmq ? null : 1,
        // The nodes' credentials: those of REDIS_URL (one ACL user for every node).
        ...urlCredentials(config.REDIS_URL),
      },
    });
  } else {
    client = new Redis(config.REDIS_URL, {
      maxRetriesPerRequest: bullmq ? null : 1,
      enableOfflineQueue: bullmq,
      retryStrategy,
      // Connect now, not at the first command, so a wrong address shows at start.
      lazyConnect: false,
    });
  }
  if (log) {
    const where = redactUrl(config.REDIS_CLUSTER_NODES ?? config.REDIS_URL);
    let down = false;
    client.on('ready', () => {
      if (down) log.info({ redis: where, role }, 'redis is back');
      down = false;
    });
    client.on('error', (err: Error) => {
      if (!down) log.warn({ redis: where, role, err: redactText(err.message) }, 'redis unreachable, retrying');
      down = true;
    });
  } else {
    // Without a listener ioredis prints every failed attempt; errors still
    // reach each command's caller.
    client.on('error', () => undefined);
  }
  return client;
}

/**
 * HMGET of the same fields from many hashes in a bounded number of round
 * trips, whatever their number: one pipeline per PIPELINE_CHUNK keys, all
 * sent at once. On a Redis Cluster (whose pipelines must keep to one slot)
 * the commands go one by one, at once, and ioredis sends each node its
 * share back to back: still a few round trips, not one per key.
 */
const PIPELINE_CHUNK = 1_000;
export async function hmgetMany(client: RedisClient, keys: readonly string[], fields: readonly string[]): Promise<(string | null)[][]> {
  if (keys.length === 0) return [];
  if (client instanceof Cluster) return Promise.all(keys.map((k) => client.hmget(k, ...fields)));
  const chunks: Promise<(string | null)[][]>[] = [];
  for (let i = 0; i < keys.length; i += PIPELINE_CHUNK) {
    const pipeline = client.pipeline();
    for (const k of keys.slice(i, i + PIPELINE_CHUNK)) pipeline.hmget(k, ...fields);
    chunks.push(
      pipeline.exec().then((rows) =>
        (rows ?? []).map(([err, row]) => {
          if (err) throw err;
          return row as (string | null)[];
        }),
      ),
    );
  }
  return (await Promise.all(chunks)).flat();
}

/** Quits, or disconnects if Redis is not answering. */
export async function closeRedis(client: Redis | Cluster): Promise<void> {
  if (client.status === 'end') return;
  try {
    await Promise.race([client.quit(), new Promise((_, rej) => setTimeout(() => rej(new Error('quit timeout')), 1000))]);
  } catch {
    client.disconnect();
  }
}

/**
 * Deletes every key of a deployment prefix (`<prefix>:*`) with SCAN and
 * UNLINK, never FLUSHALL: for tests, benchmarks and the soak, which share a
 * Redis with others. On a Redis Cluster, on every master (SCAN covers one
 * node), one UNLINK per key (keys of several slots cannot go in one).
 */
export async function deletePrefixKeys(client: RedisClient, prefix: string): Promise<void> {
  if (!(client instanceof Cluster)) {
    await forEachKey(client, `${prefix}:*`, (keys) => client.unlink(...keys));
    return;
  }
  await Promise.all(
    client.nodes('master').map((node) =>
      forEachKey(node, `${prefix}:*`, async (keys) => {
        const pipe = node.pipeline();
        for (const k of keys) pipe.unlink(k);
        await pipe.exec();
      }),
    ),
  );
}

/** SCAN of one server, a chunk of matching keys at a time. */
export async function forEachKey(node: Redis, pattern: string, each: (keys: string[]) => Promise<unknown>): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await each(keys);
  } while (cursor !== '0');
}

/**
 * True for an error a script raised on the data it was given (a Lua runtime
 * error, a wrong type), which retrying cannot cure; false for a connection
 * lost, Redis out of memory, busy, loading or read-only, which retrying can.
 */
export function isScriptFault(err: unknown): boolean {
  if (!(err instanceof Error) || err.name !== 'ReplyError') return false;
  const m = err.message;
  if (/^(OOM|BUSY|LOADING|READONLY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|MOVED|ASK|NOSCRIPT|MISCONF|NOREPLICAS|EXECABORT)\b/.test(m)) return false;
  return /^(ERR|WRONGTYPE)\b/.test(m) && /script|user_script|WRONGTYPE/i.test(m);
}
