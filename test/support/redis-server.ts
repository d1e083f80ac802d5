/**
 * A Redis of the test's own, on a free port with AOF persistence (as in
 * docker-compose.yml and `pnpm dev`), that the test may stop and start
 * again: the shared Redis on 6379 is never touched by fault tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { waitFor } from './wait.js';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export class PrivateRedis {
  readonly dir = mkdtempSync(join(tmpdir(), 'candlestack-redis-'));
  private proc: ChildProcess | undefined;

  private constructor(readonly port: number) {}

  static async start(): Promise<PrivateRedis> {
    const r = new PrivateRedis(await freePort());
    await r.start();
    return r;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.proc = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', '', '--maxmemory-policy', 'noeviction'],
      { stdio: 'ignore' },
    );
    await waitFor(() => this.ping(), `redis-server on ${this.port}`, 10_000);
  }

  /** Stops the server (SIGTERM: it finishes writing its AOF) and waits for it to go. */
  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await exited;
    this.proc = undefined;
  }

  ping(): Promise<boolean> {
    return ping(this.url);
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** `count` distinct free loopback ports. */
export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

/** A key on a cluster master, with its slot. */
export interface ClusterKey {
  readonly key: string;
  readonly slot: number;
  /** The master's port. */
  readonly port: number;
}

/**
 * A Redis Cluster of the test's own: `masters` masters with `replicas`
 * replicas each, real `redis-server --cluster-enabled` processes on free
 * loopback ports (the cluster bus too), made with `redis-cli --cluster
 * create`, no persistence, all in one temporary folder that `destroy()`
 * removes with the processes.
 */
export class PrivateCluster {
  readonly dir = mkdtempSync(join(tmpdir(), 'candlestack-cluster-'));
  private readonly procs = new Map<number, ChildProcess>();

  private constructor(
    /** The nodes' client ports. */
    readonly ports: readonly number[],
    private readonly busPorts: readonly number[],
    /** requirepass (and masterauth) of every node, if any. */
    readonly password?: string,
  ) {}

  static async start(masters = 3, replicas = 1, opts: { readonly password?: string } = {}): Promise<PrivateCluster> {
    const n = masters * (1 + replicas);
    const ports = await freePorts(2 * n);
    const c = new PrivateCluster(ports.slice(0, n), ports.slice(n), opts.password);
    try {
      c.ports.forEach((port, i) => c.spawn(port, c.busPorts[i]!));
      await Promise.all(c.ports.map((port) => waitFor(() => ping(port, opts.password), `cluster node on ${port}`, 10_000)));
      await c.create(replicas);
      await c.waitOk();
      return c;
    } catch (err) {
      await c.destroy();
      throw err;
    }
  }

  /** For REDIS_CLUSTER_NODES: every node, so a client finds the cluster whichever is up. */
  get nodes(): string {
    return this.ports.map((p) => `127.0.0.1:${p}`).join(',');
  }

  private spawn(port: number, busPort: number): void {
    const proc = spawn(
      'redis-server',
      [
        '--port', String(port),
        '--cluster-port', String(busPort),
        '--bind', '127.0.0.1',
        '--cluster-enabled', 'yes',
        '--cluster-config-file', join(this.dir, `nodes-${port}.conf`),
        '--cluster-node-timeout', '2000',
        '--dir', this.dir,
        '--dbfilename', `dump-${port}.rdb`,
        '--save', '',
        '--appendonly', 'no',
        ...(this.password ? ['--requirepass', this.password, '--masterauth', this.password] : []),
      ],
      { stdio: 'ignore' },
    );
    this.procs.set(port, proc);
  }

  private async create(replicas: number): Promise<void> {
    const args = [
      ...(this.password ? ['-a', this.password, '--no-auth-warning'] : []),
      ...['--cluster', 'create', ...this.ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', String(replicas), '--cluster-yes'],
    ];
    const out: Buffer[] = [];
    const cli = spawn('redis-cli', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    cli.stdout.on('data', (b: Buffer) => out.push(b));
    cli.stderr.on('data', (b: Buffer) => out.push(b));
    const code = await new Promise<number | null>((resolve) => cli.once('exit', resolve));
    if (code !== 0) throw new Error(`redis-cli --cluster create exited ${code}:\n${Buffer.concat(out).toString()}`);
  }

  /**
   * Until every node running says the cluster is whole: state ok, every
   * slot served by a master that is up, every node known.
   */
  async waitOk(timeoutMs = 20_000): Promise<void> {
    await waitFor(
      async () => {
        for (const port of this.running()) {
          const info = await this.onNode(port, (r) => r.cluster('INFO') as Promise<string>);
          if (!/cluster_state:ok/.test(info) || !/cluster_slots_ok:16384/.test(info) || !info.includes(`cluster_known_nodes:${this.ports.length}`)) return false;
        }
        return true;
      },
      'cluster_state:ok on every node',
      timeoutMs,
    );
  }

  /** Runs `fn` on a plain connection to one node. */
  async onNode<T>(port: number, fn: (r: Redis) => Promise<T>): Promise<T> {
    const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, ...(this.password && { password: this.password }) });
    r.on('error', () => undefined);
    try {
      await r.connect();
      return await fn(r);
    } finally {
      r.disconnect();
    }
  }

  /**
   * The ports of the masters now (from CLUSTER NODES): nodes flagged master
   * that serve slots. Just after `create`, a replica may still be flagged
   * master for a moment, with no slots.
   */
  async masters(): Promise<number[]> {
    const text = await this.onNode(this.running()[0]!, (r) => r.cluster('NODES') as Promise<string>);
    return text
      .split('\n')
      .filter((l) => /\bmaster\b/.test(l) && !/\bfail\b/.test(l) && l.trim().split(' ').length > 8)
      .map((l) => Number(/:(\d+)@/.exec(l)![1]));
  }

  /** Every key matching `pattern` on every master, with its slot. */
  async keys(pattern: string): Promise<ClusterKey[]> {
    const out: ClusterKey[] = [];
    for (const port of await this.masters()) {
      await this.onNode(port, async (r) => {
        let cursor = '0';
        do {
          const [next, keys] = await r.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
          cursor = next;
          const pipe = r.pipeline();
          for (const k of keys) pipe.cluster('KEYSLOT', k);
          const slots = (await pipe.exec()) ?? [];
          keys.forEach((key, i) => out.push({ key, slot: Number(slots[i]![1]), port }));
        } while (cursor !== '0');
      });
    }
    return out;
  }

  /** The slot of a key (or of a hash tag written as a key, `{BTC_USDT}`). */
  async slotOf(key: string): Promise<number> {
    return Number(await this.onNode(this.running()[0]!, (r) => r.cluster('KEYSLOT', key)));
  }

  /** Errors each master has answered since it started, by kind (INFO errorstats: `CROSSSLOT` -> count). */
  async errorStats(): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const port of await this.masters()) {
      const info = await this.onNode(port, (r) => r.info('errorstats'));
      for (const m of info.matchAll(/^errorstat_([A-Z]+):count=(\d+)/gm)) out.set(m[1]!, (out.get(m[1]!) ?? 0) + Number(m[2]));
    }
    return out;
  }

  /** The ports of the nodes not killed. */
  running(): number[] {
    return this.ports.filter((port) => {
      const p = this.procs.get(port);
      return p !== undefined && p.exitCode === null && p.signalCode === null;
    });
  }

  /** The master serving a slot now. */
  async masterOf(slot: number): Promise<number> {
    const text = await this.onNode(this.running()[0]!, (r) => r.cluster('NODES') as Promise<string>);
    for (const line of text.split('\n')) {
      if (!/\bmaster\b/.test(line) || /\bfail\b/.test(line)) continue;
      for (const range of line.split(' ').slice(8)) {
        const [lo, hi = lo] = range.split('-').map(Number);
        if (lo !== undefined && hi !== undefined && slot >= lo && slot <= hi) return Number(/:(\d+)@/.exec(line)![1]);
      }
    }
    throw new Error(`no master serves slot ${slot}`);
  }

  /** Until a master's replicas have everything it wrote (their offsets reach its own). */
  async waitReplicated(master: number, timeoutMs = 10_000): Promise<void> {
    await waitFor(
      async () => {
        const info = await this.onNode(master, (r) => r.info('replication'));
        const own = Number(/^master_repl_offset:(\d+)/m.exec(info)?.[1]);
        const replicas = [...info.matchAll(/^slave\d+:.*offset=(\d+)/gm)].map((m) => Number(m[1]));
        return replicas.length > 0 && replicas.every((o) => o === own);
      },
      `the replicas of ${master}`,
      timeoutMs,
    );
  }

  /** Kills one node (SIGKILL), as a crash. */
  async kill(port: number): Promise<void> {
    const p = this.procs.get(port);
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
  }

  async destroy(): Promise<void> {
    await Promise.all(this.ports.map((port) => this.kill(port)));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** True when a Redis answers at `target` (a URL, or a port on loopback with an optional password) within half a second. */
async function ping(target: string | number, password?: string): Promise<boolean> {
  const opts = { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 500 };
  const c = typeof target === 'string' ? new Redis(target, opts) : new Redis({ ...opts, port: target, host: '127.0.0.1', ...(password && { password }) });
  c.on('error', () => undefined);
  try {
    await c.connect();
    return (await c.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    c.disconnect();
  }
}
