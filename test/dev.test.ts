/**
 * `pnpm dev` when the Redis the user asked for is not there: it names the
 * address, exits non-zero and starts no app (it never falls back to a Redis
 * of its own when REDIS_URL was set).
 */
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

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
