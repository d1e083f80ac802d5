/**
 * `pnpm dev` when the Redis the user asked for is not there: it names the
 * address, exits non-zero and starts no app (it never falls back to a Redis
 * of its own when REDIS_URL was set). And when it runs: "up" only once the
 * source delivers, readable lines, and Ctrl-C is a clean exit (0, no pnpm
 * "Command failed").
 */
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { deletePrefix, testPrefix } from './support/redis.js';
import { waitFor } from './support/wait.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** A local port where nothing listens: one the system just gave out and took back. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

it('exits non-zero, naming REDIS_URL, when nothing answers there', async () => {
  const url = `redis://127.0.0.1:${await freePort()}`;
  // Empty counts as unset, and a variable set here, even empty, wins over a
  // developer's .env.
  const env = { ...process.env, REDIS_URL: url, REDIS_CLUSTER_NODES: '' };
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/dev.ts'], {
    cwd: ROOT,
    env,
    encoding: 'utf8',
    timeout: 30_000,
  });
  const output = r.stdout + r.stderr;
  expect(r.signal, output).toBeNull(); // it ended by itself, not by the timeout
  expect(r.status, output).not.toBe(0);
  expect(r.stderr).toContain(`No Redis answers at ${url}`);
  // No app was started: none of them printed a line.
  expect(output).not.toMatch(/^(ingest|worker|api|redis)\s*│/m);
});

/** `pnpm dev` in a process group of its own, as a terminal runs it: Ctrl-C is SIGINT to the whole group. */
function startDev(env: Record<string, string>) {
  const child = spawn('pnpm', ['dev'], { cwd: ROOT, env: { ...process.env, ...env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    output: () => output,
    waitFor: (text: string | RegExp) =>
      waitFor(() => (typeof text === 'string' ? output.includes(text) : text.test(output)), `pnpm dev to print ${String(text)}:\n${output}`, 60_000),
    /** Ctrl-C: SIGINT to the group; resolves with the exit code. */
    async interrupt() {
      process.kill(-child.pid!, 'SIGINT');
      return exited;
    },
    kill: () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // gone
      }
    },
  };
}

describe('pnpm dev, up and stopped', () => {
  const prefix = testPrefix('dev');
  afterAll(() => deletePrefix(prefix));

  it('prints the URLs once the source delivers, pretty lines without their JSON fields, and exits 0 on Ctrl-C', async () => {
    const dev = startDev({ SOURCE: 'simulated', REDIS_PREFIX: prefix, PORT: String(await freePort()), LOG_LEVEL: 'info' });
    try {
      await dev.waitFor('Candlestack is up (SOURCE=simulated)');
      const code = await dev.interrupt();
      const out = dev.output();
      expect(code, out).toBe(0);
      expect(out).not.toMatch(/ELIFECYCLE|Command failed/);
      expect(out).toContain('all stopped');
      // pino lines: the message, not a {"field":...} tail.
      const appLines = out.split('\n').filter((l) => /^(ingest|worker|api)\s*│ \[/.test(l));
      expect(appLines.length).toBeGreaterThan(3);
      for (const line of appLines) expect(line).not.toMatch(/\{"\w+":/);
    } finally {
      dev.kill();
    }
  });

  it('says it waits for the source while the exchange is out of reach, and does not say it is up', async () => {
    const port = await freePort();
    const dev = startDev({
      SOURCE: 'poloniex',
      REDIS_PREFIX: `${prefix}-poloniex`,
      PORT: String(await freePort()),
      POLONIEX_WS_URL: `ws://127.0.0.1:${port}/ws/public`,
      POLONIEX_REST_URL: `http://127.0.0.1:${port}`,
    });
    try {
      await dev.waitFor(/waiting for the source \(SOURCE=poloniex\): (connecting|disconnected)/);
      await dev.waitFor(/source disconnected/);
      expect(dev.output()).not.toContain('Candlestack is up');
      expect(await dev.interrupt()).toBe(0);
    } finally {
      dev.kill();
      await deletePrefix(`${prefix}-poloniex`);
    }
  });
});
