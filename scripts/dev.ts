/**
 * `pnpm dev`: the whole system in one terminal (DESIGN.md, "Commands").
 *
 * 1. `.env` is read if present (the real environment wins).
 * 2. Without SOURCE, the simulated market: a newcomer gets an offline market,
 *    the live exchange is opt-in.
 * 3. Redis: the one at REDIS_URL; if none answers there and REDIS_URL was not
 *    set, a redis-server from the PATH for the session (data under .data/redis).
 * 4. ingest, worker and api, each with its `dev` script (tsx watch), their
 *    pino lines pretty-printed and prefixed; the URLs once /healthz answers.
 * 5. Ctrl-C, SIGTERM or SIGHUP stops the apps (SIGTERM, SIGKILL after 5 s),
 *    then our redis-server; a second Ctrl-C kills the apps at once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
// By path: `pnpm dev` runs without the `development` condition, where
// @candlestack/shared means its build (dist/), which need not exist yet.
import { redactUrl } from '../packages/shared/src/redact.js';
import { box, pipeLines, say } from './dev-log.js';
import { onPath, probeRedis, startRedisServer, type OwnRedis } from './dev-redis.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const APPS = ['ingest', 'worker', 'api'] as const;
const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
const STOP_TIMEOUT_MS = 5_000;

/** Empty counts as unset, as in the apps' config (`FOO=` in .env means the default). */
const env = (name: string): string | undefined => process.env[name] || undefined;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));


function fail(message: string): never {
  say(message, process.stderr);
  process.exit(1);
}

if (existsSync(`${ROOT}.env`)) process.loadEnvFile(`${ROOT}.env`);

if (!env('SOURCE')) {
  process.env.SOURCE = 'simulated';
  say('SOURCE is not set: using the simulated market (offline, not real prices); SOURCE=poloniex for the live exchange.');
}
// A simulated market never shares candles with a real one (the apps refuse
// it): it gets keys of its own unless REDIS_PREFIX says otherwise.
if (process.env.SOURCE === 'simulated' && !env('REDIS_PREFIX')) {
  process.env.REDIS_PREFIX = 'candlestack-simulated';
  say('REDIS_PREFIX is not set: the simulated market keeps its data under candlestack-simulated, apart from real markets.');
}

// --- Redis -------------------------------------------------------------------

let ownRedis: OwnRedis | undefined;

async function ensureRedis(): Promise<void> {
  const cluster = env('REDIS_CLUSTER_NODES');
  const userUrl = env('REDIS_URL');
  const url = cluster ? `redis://${cluster.split(',')[0]}` : (userUrl ?? DEFAULT_REDIS_URL);
  const shown = redactUrl(url);
  const probe = await probeRedis(url);
  if (probe.state === 'up') return say(`Redis answers at ${shown}`);
  if (probe.state === 'refused') fail(`Redis at ${shown} answered with an error: ${probe.reason}`);

  if (cluster) fail(`No Redis answers at ${shown} (the first node of REDIS_CLUSTER_NODES): ${probe.reason}`);
  if (userUrl) {
    fail(
      `No Redis answers at ${shown} (REDIS_URL): ${probe.reason}\n` +
        `Start that Redis, or unset REDIS_URL to let pnpm dev use one on 127.0.0.1:6379 (or start a redis-server of its own).`,
    );
  }
  if (!onPath('redis-server')) {
    fail(
      `No Redis answers at ${shown}, and there is no redis-server on the PATH. Get one, then run pnpm dev again:\n` +
        `  Debian/Ubuntu:  sudo apt-get install redis-server\n` +
        `  macOS:          brew install redis\n` +
        `  Docker:         docker run -d --name redis -p 127.0.0.1:6379:6379 redis:7-alpine\n` +
        `or point REDIS_URL at a Redis you have.`,
    );
  }
  say(`No Redis answers at ${shown}: starting redis-server for this session (data in .data/redis/).`);
  try {
    ownRedis = await startRedisServer(`${ROOT}.data/redis`);
  } catch (err) {
    fail(`Could not start redis-server: ${(err as Error).message}`);
  }
  pipeLines('redis', ...ownRedis.output);
  say(`redis-server answers at ${ownRedis.url}; it stops when pnpm dev does.`);
}

// --- The apps ----------------------------------------------------------------

// Each app's `dev` script (tsx watch), run without pnpm in between: pnpm
// does not pass SIGTERM on, and a signal to a whole process group would reach
// the app twice (directly, and relayed by tsx watch), which an app may take
// as "force". So tsx watch leads a process group of its own (detached), so
// that the terminal's Ctrl-C reaches only us; we signal tsx watch alone, it
// stops the app, and whatever is left of the group is killed afterwards.
const TSX_CLI = createRequire(import.meta.url).resolve('tsx/cli');

interface App {
  readonly name: string;
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
}

const apps: App[] = [];
let stopping: Promise<void> | undefined;

function startApp(name: string): App {
  const args = [TSX_CLI, 'watch', '--conditions=development', '--clear-screen=false', 'src/main.ts'];
  const child = spawn(process.execPath, args, { cwd: `${ROOT}apps/${name}`, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  pipeLines(name, child.stdout!, child.stderr!);
  const exited = new Promise<void>((resolve) => {
    child.once('error', (err) => {
      if (!stopping) say(`${name} could not start: ${err.message}`, process.stderr);
      resolve();
      void stop(1);
    });
    child.once('exit', (code, signal) => {
      resolve();
      if (stopping) return;
      say(`${name} exited unexpectedly (${signal ?? `code ${code}`}): stopping the others.`, process.stderr);
      void stop(1);
    });
  });
  return { name, child, exited };
}

/** Sends `signal` to the app's whole process group, if any of it is left. */
function signalGroup(app: App, signal: NodeJS.Signals): void {
  if (app.child.pid === undefined) return;
  try {
    process.kill(-app.child.pid, signal);
  } catch {
    // the group is gone
  }
}

async function stopApp(app: App): Promise<void> {
  if (app.child.exitCode === null && app.child.signalCode === null) {
    app.child.kill('SIGTERM');
    const inTime = await Promise.race([app.exited.then(() => true), sleep(STOP_TIMEOUT_MS).then(() => false)]);
    if (!inTime) say(`${app.name} did not stop within ${STOP_TIMEOUT_MS / 1000} s: killing it.`);
  }
  signalGroup(app, 'SIGKILL');
}

/** Stops everything once (later calls get the same promise), then exits with `code`. */
function stop(code: number): Promise<void> {
  stopping ??= (async () => {
    await Promise.all(apps.map(stopApp));
    if (ownRedis) {
      say('stopping redis-server (its data stays in .data/redis/)');
      await ownRedis.stop();
    }
    say('all stopped');
    process.exit(code);
  })();
  return stopping;
}

let firstSignalAt = 0;

function onSignal(): void {
  if (!stopping) {
    firstSignalAt = Date.now();
    process.stdout.write('\n');
    say('stopping... (Ctrl-C again to kill the apps at once)');
    void stop(0);
  } else if (Date.now() - firstSignalAt > 500) {
    // Not the same signal twice (a supervisor signalling our whole process
    // group, which tsx relays to us as well), a second Ctrl-C.
    say('killing the apps');
    for (const app of apps) signalGroup(app, 'SIGKILL');
  }
}

// --- Up ----------------------------------------------------------------------

/** The API's base URL for a browser: a wildcard listener is reached on loopback. */
function apiBase(): string {
  const host = env('HOST') ?? '127.0.0.1';
  const port = env('PORT') ?? '3000';
  if (host === '0.0.0.0') return `http://127.0.0.1:${port}`;
  if (host === '::') return `http://[::1]:${port}`;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

async function waitForHealth(base: string): Promise<boolean> {
  const started = Date.now();
  let warned = false;
  while (!stopping) {
    try {
      const res = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(1_000) });
      if (res.ok) return true;
    } catch {
      // not up yet
    }
    if (!warned && Date.now() - started > 30_000) {
      warned = true;
      say(`still waiting for ${base}/healthz (see the api lines above)`);
    }
    await sleep(300);
  }
  return false;
}

const SOURCE_UP = new Set(['connected', 'replaying', 'done']);

/**
 * Until the ingester says its source delivers (GET /pairs), "up" would be a
 * lie: a live exchange out of reach shows an empty chart. Says so once, with
 * the ingester's reason, and again when the reason changes.
 */
async function waitForSource(base: string): Promise<boolean> {
  let said = '';
  while (!stopping) {
    try {
      const res = await fetch(`${base}/pairs`, { signal: AbortSignal.timeout(2_000) });
      const body = (await res.json()) as { source?: { state?: string; detail?: string } | null };
      const state = body.source?.state;
      if (state && SOURCE_UP.has(state)) return true;
      const why = state ? `${state}${body.source?.detail ? `: ${body.source.detail}` : ''}` : 'the ingester has not reported yet';
      if (why !== said) say(`waiting for the source (SOURCE=${process.env.SOURCE}): ${why}`);
      said = why;
    } catch {
      // the API is restarting (tsx watch): ask again
    }
    await sleep(500);
  }
  return false;
}

function banner(base: string): string {
  const pair = (env('PAIRS') ?? 'BTC_USDT').split(',')[0]!.trim().toUpperCase().replace(/[-/]/, '_');
  const example = pair === 'ALL' || pair === '' ? 'BTC_USDT' : pair;
  const period = (env('PERIODS') ?? '1m').split(',')[0]!.trim() || '1m';
  return box([
    `Candlestack is up (SOURCE=${process.env.SOURCE})`,
    '',
    `dashboard  ${base}/`,
    `API        ${base}/candles/${example}/${period}`,
    `board      ${base}/admin/queues`,
    `metrics    ${base}/metrics`,
    '',
    'Ctrl-C stops everything.',
  ]);
}

await ensureRedis();
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);
// Our output gone (the terminal closed, `pnpm dev | head`): stop, rather than die on EPIPE.
process.stdout.on('error', () => void stop(1));
// If we die anyway (a bug), the apps must not outlive us: they have groups of their own.
process.on('exit', () => apps.forEach((app) => signalGroup(app, 'SIGTERM')));
for (const name of APPS) apps.push(startApp(name));
const base = apiBase();
if ((await waitForHealth(base)) && (await waitForSource(base))) process.stdout.write(`${banner(base)}\n`);
