/**
 * The apps as real processes, the way `pnpm dev` runs them, so a test can
 * kill one with SIGKILL, start it again, and read what it logged.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { waitFor } from './wait.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export type AppName = 'ingest' | 'worker' | 'api';

export class AppProcess {
  readonly lines: string[] = [];
  exitCode: number | null | undefined;
  signal: NodeJS.Signals | null | undefined;
  private readonly exited: Promise<void>;

  private constructor(
    readonly app: AppName,
    readonly proc: ChildProcess,
  ) {
    const collect = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) if (line.trim()) this.lines.push(line);
    };
    proc.stdout!.on('data', collect);
    proc.stderr!.on('data', collect);
    this.exited = new Promise((resolve) =>
      proc.once('exit', (code, signal) => {
        this.exitCode = code;
        this.signal = signal;
        resolve();
      }),
    );
  }

  /** Starts `apps/<app>/src/main.ts` with tsx, with only the given environment (plus PATH and HOME). */
  static start(app: AppName, env: Record<string, string>): AppProcess {
    const proc = spawn(process.execPath, ['--import', 'tsx', '--conditions=development', `apps/${app}/src/main.ts`], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new AppProcess(app, proc);
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  /** The process's resident memory now (bytes), from /proc (Linux). */
  rss(): number {
    const status = readFileSync(`/proc/${this.proc.pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
    if (kb === undefined) throw new Error(`no VmRSS for ${this.app} (pid ${this.proc.pid})`);
    return Number(kb) * 1024;
  }

  /** Parsed pino lines (non-JSON lines are skipped). */
  logs(): Record<string, unknown>[] {
    return this.lines.flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
  }

  async waitForLog(match: (entry: Record<string, unknown>) => boolean, what: string, timeoutMs = 15_000): Promise<Record<string, unknown>> {
    return waitFor(() => this.logs().find(match), `${this.app}: ${what}`, timeoutMs);
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!this.running) return;
    this.proc.kill(signal);
    await this.exited;
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.proc.kill('SIGTERM');
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 8_000);
    await this.exited;
    clearTimeout(t);
  }

  async waitExit(): Promise<void> {
    await this.exited;
  }
}
