/** The command's refusals, through the real entry point: words on stderr and the exit code. */
import { createServer, type AddressInfo } from 'node:net';
import { describe, it } from 'vitest';
import { FEED_COMMAND, run } from './stack.js';

/** A port nothing listens on (fetch refuses some well-known ones outright, e.g. 9). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

const USAGE = /^usage: pnpm feed <period> \[count\]/m;

// Each case is a process of its own: run them side by side.
describe.concurrent('pnpm feed refuses', () => {
  it('bad arguments, with the usage on stderr and exit code 2, before talking to any API', async ({ expect }) => {
    // An address where nothing listens: a usage error must not wait for it.
    const env = { API_URL: `http://127.0.0.1:${await closedPort()}` };
    // Each refusal is unit-tested in src/args.test.ts; here, that the process says it and exits so.
    const runs = [[], ['1m', '3', 'extra']].map((args) => run([...FEED_COMMAND, ...args], env));
    const results = await Promise.all(runs.map(async (r) => ({ code: await r.exited, out: r.stdout(), err: r.stderr() })));
    for (const r of results) {
      expect(r.code).toBe(2);
      expect(r.out).toBe('');
      expect(r.err).toMatch(USAGE);
    }
    expect(results.map((r) => r.err.split('\n')[0])).toEqual([
      'feed: missing <period>',
      'feed: unexpected argument: extra',
    ]);
  });

  it('is wired as `pnpm feed` at the root, arguments passed through', async ({ expect }) => {
    const r = run(['pnpm', '--silent', 'feed', '1m', '0']);
    expect(await r.exited).toBe(2);
    expect(r.stderr()).toMatch(/^feed: "0" is not a count/);
  });

  it('an API that cannot be reached, naming API_URL, with exit code 1', async ({ expect }) => {
    const api = `http://127.0.0.1:${await closedPort()}`;
    const r = run(FEED_COMMAND.concat('1m'), { API_URL: api });
    expect(await r.exited).toBe(1);
    expect(r.stdout()).toBe('');
    expect(r.stderr().split('\n')[0]).toBe(`feed: cannot reach the Candlestack API at ${api} (API_URL): GET /pairs: connect ECONNREFUSED ${api.slice(7)}`);
  });
});
