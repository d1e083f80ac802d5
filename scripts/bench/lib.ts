/**
 * What every bench section shares: figures and their table, a Redis of the
 * bench's own, the apps as production processes, CPU and memory readings,
 * percentiles. A section measures; main() prints. Nothing here fails on a
 * figure: the bench reports, tests never assert timing.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, readdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { freePort } from '../../test/support/redis-server.js';

export { freePort };

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** One measured figure, and the ceiling it is judged against when there is one. */
export interface Figure {
  readonly section: string;
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  /** The same run's ceiling: what the ratio divides by. */
  readonly ceiling?: { readonly name: string; readonly value: number };
  /** A goal to print beside it (e.g. "≥ 0.25"). */
  readonly goal?: string;
  readonly note?: string;
}

export interface BenchContext {
  readonly quick: boolean;
  /** Logs progress on stderr (stdout is the table or the JSON). */
  progress(text: string): void;
}

export type Section = (ctx: BenchContext) => Promise<Figure[]>;

export function ratio(f: Figure): number | undefined {
  return f.ceiling && f.ceiling.value > 0 ? f.value / f.ceiling.value : undefined;
}

const num = (n: number) =>
  Math.abs(n) >= 100 ? Math.round(n).toLocaleString('en-US') : Math.abs(n) >= 10 ? n.toFixed(1) : n.toFixed(2);

/** The figures as an aligned text table. */
export function table(figures: readonly Figure[]): string {
  const rows = figures.map((f) => {
    const r = ratio(f);
    return [
      f.section,
      f.name,
      `${num(f.value)} ${f.unit}`,
      f.ceiling ? `${num(f.ceiling.value)} ${f.unit} (${f.ceiling.name})` : '',
      r === undefined ? '' : r.toFixed(2),
      f.goal ?? '',
      f.note ?? '',
    ];
  });
  const head = ['section', 'figure', 'value', 'same-run ceiling', 'ratio', 'goal', 'note'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitFor<T>(check: () => Promise<T | undefined | false> | T | undefined | false, what: string, timeoutMs = 60_000, everyMs = 50): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > until) throw new Error(`bench: timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** A redis-server of the bench's own on a free port (AOF `everysec` by default, as docker-compose runs it). */
export class BenchRedis {
  private constructor(
    readonly port: number,
    private readonly proc: ChildProcess,
    private readonly dir: string,
    readonly client: Redis,
  ) {}

  static async start(opts: { aof?: boolean } = {}): Promise<BenchRedis> {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'candlestack-bench-redis-'));
    const aof = opts.aof ?? true;
    const proc = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', aof ? 'yes' : 'no', '--appendfsync', 'everysec', '--maxmemory-policy', 'noeviction'],
      { stdio: 'ignore' },
    );
    const client = new Redis({ port, lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: (n) => (n > 50 ? null : 100) });
    client.on('error', () => undefined); // refused until the server is up; commands still report errors
    await waitFor(async () => {
      try {
        if (client.status !== 'ready') await client.connect();
        return (await client.ping()) === 'PONG';
      } catch {
        return false;
      }
    }, `redis-server on ${port}`, 10_000, 100);
    return new BenchRedis(port, proc, dir, client);
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** The server's CPU time so far (user + system, seconds). */
  async cpuSeconds(): Promise<number> {
    const info = await this.client.info('cpu');
    return Number(/used_cpu_user:([\d.]+)/.exec(info)![1]) + Number(/used_cpu_sys:([\d.]+)/.exec(info)![1]);
  }

  async usedMemory(): Promise<number> {
    return Number(/used_memory:(\d+)/.exec(await this.client.info('memory'))![1]);
  }

  async stop(): Promise<void> {
    this.client.disconnect();
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGTERM');
    await exited;
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** An app of the production build (`node apps/<app>/dist/main.js`), as `pnpm --filter ./apps/<app> start` runs it. */
export class BenchApp {
  readonly lines: string[] = [];
  private readonly exited: Promise<void>;

  private constructor(
    readonly app: string,
    readonly proc: ChildProcess,
    onLine?: (line: string) => void,
  ) {
    // A chunk may end inside a line: the tail waits for the next chunk.
    const tails = new Map<unknown, string>();
    const keep = (stream: unknown) => (d: Buffer) => {
      const parts = ((tails.get(stream) ?? '') + d.toString()).split('\n');
      tails.set(stream, parts.pop()!);
      for (const l of parts) {
        if (!l.trim()) continue;
        this.lines.push(l);
        onLine?.(l);
      }
      if (this.lines.length > 2000) this.lines.splice(0, this.lines.length - 1000);
    };
    proc.stdout!.on('data', keep(proc.stdout));
    proc.stderr!.on('data', keep(proc.stderr));
    this.exited = new Promise((r) => proc.once('exit', () => r()));
  }

  /** `onLine` sees every line the app prints, whole (`lines` keeps only the last thousand or so). */
  static start(app: 'ingest' | 'worker' | 'api', env: Record<string, string>, onLine?: (line: string) => void): BenchApp {
    const proc = spawn(process.execPath, [join(ROOT, `apps/${app}/dist/main.js`)], {
      cwd: join(ROOT, `apps/${app}`),
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new BenchApp(app, proc, onLine);
  }

  /** CPU time of the process so far (user + system, seconds), from /proc. */
  cpuSeconds(): number {
    return procCpuSeconds(this.proc.pid!);
  }

  rss(): number {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${this.proc.pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : NaN;
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.kill('SIGTERM');
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 8_000);
    await this.exited;
    clearTimeout(t);
  }
}

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

export function procCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name may hold spaces: fields start after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** The production build is there and newer than every source file; else `pnpm build`. */
export function ensureBuilt(progress: (t: string) => void): void {
  const newest = (dir: string): number => {
    let t = 0;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) t = Math.max(t, newest(p));
      else t = Math.max(t, statSync(p).mtimeMs);
    }
    return t;
  };
  const stale = ['packages/shared', 'apps/ingest', 'apps/worker', 'apps/api'].some((pkg) => {
    const dist = join(ROOT, pkg, 'dist');
    return !existsSync(dist) || newest(join(ROOT, pkg, 'src')) > newest(dist);
  });
  if (!stale) return;
  progress('building the apps (pnpm build): the bench measures the production build');
  const r = spawnSync('pnpm', ['build'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error('bench: pnpm build failed');
}
