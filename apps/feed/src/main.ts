/**
 * `pnpm feed <period> [count]`: the last candles of every pair, live, in the
 * terminal (README, "Two commands"). Exit codes: 0 when stopped (Ctrl-C, q,
 * SIGTERM), 1 when the API cannot be reached at start or on a bad
 * environment, 2 on bad arguments.
 */
import { loadConfig } from '@candlestack/shared';
import { EXIT_USAGE, USAGE, UsageError, checkServed, parseArgs, type FeedArgs } from './args.js';
import { FeedClient } from './client.js';
import { apiUrl, feedEnv, wsUrl } from './env.js';
import { waitForApi } from './http.js';
import type { PairsInfo } from './messages.js';
import { FeedState } from './state.js';
import { Screen } from './terminal.js';
import { LineView, TableView, type FeedView } from './views.js';

/** How long the start may wait for the API (each of /pairs and /ws): long enough for an API still starting. */
const STARTUP_MS = 3_000;

const out = (line: string) => process.stdout.write(`${line}\n`);
const err = (line: string) => process.stderr.write(`${line}\n`);

function usage(message: string): never {
  err(`feed: ${message}`);
  err(USAGE);
  process.exit(EXIT_USAGE);
}

function unreachable(api: string, fromEnv: boolean, reason: string): never {
  const where = fromEnv ? 'API_URL' : 'from HOST and PORT; set API_URL to use another address';
  err(`feed: cannot reach the Candlestack API at ${api} (${where}): ${reason}`);
  err('feed: is it running? `pnpm dev` starts it.');
  process.exit(1);
}

function readArgs(): FeedArgs {
  try {
    const args = parseArgs(process.argv.slice(2));
    if (args === 'help') {
      out(USAGE);
      process.exit(0);
    }
    return args;
  } catch (e) {
    if (e instanceof UsageError) usage(e.message);
    throw e;
  }
}

async function main(): Promise<void> {
  const args = readArgs();
  const config = loadConfig(feedEnv);
  const api = apiUrl(config);
  const url = wsUrl(api);

  let info: PairsInfo;
  try {
    info = await waitForApi(api, STARTUP_MS);
  } catch (e) {
    unreachable(api, config.API_URL !== undefined, (e as Error).message);
  }
  try {
    checkServed(args.period, info.periods, api);
  } catch (e) {
    if (e instanceof UsageError) usage(e.message);
    throw e;
  }

  const period = args.period.label;
  const state = new FeedState(args.count);
  state.setSource(info.source);
  state.addPairs(info.pairs.map((p) => p.pair));

  // A terminal gets the live table; a pipe or a file gets lines. TERM=dumb
  // cannot move the cursor, so it gets lines too.
  const screen = process.stdout.isTTY && process.env.TERM !== 'dumb' ? new Screen() : undefined;
  const color = !process.env.NO_COLOR;
  const table = screen && new TableView(state, screen, { period, count: args.count, url, color, stdout: process.stdout });
  const view: FeedView = table || new LineView({ period, count: args.count, url, out, err });
  view.source(info.source);

  const client = new FeedClient({
    api,
    url,
    period,
    limit: args.count,
    events: {
      status: (s) => {
        state.setStatus(s);
        view.status(s);
      },
      session: () => state.beginSession(),
      info: (i) => {
        state.addPairs(i.pairs.map((p) => p.pair));
        if (JSON.stringify(i.source) !== JSON.stringify(state.source)) {
          state.setSource(i.source);
          view.source(i.source);
        }
      },
      history: (pair, candles) => view.candles(pair, state.history(pair, candles)),
      candle: (pair, candle) => view.candles(pair, state.candle(pair, candle)),
      problem: (message) => {
        state.setProblem(message);
        view.problem(message);
      },
    },
  });

  let stopping = false;
  const stop = (code: number) => {
    if (stopping) return;
    stopping = true;
    // The terminal first, so the user has it back at once; then a clean close frame.
    view.end();
    void client.close().then(() => process.exit(code));
  };
  const crash = (e: unknown) => {
    view.end();
    err(`feed: crashed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(1);
  };
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', crash);
  process.on('exit', () => view.end());
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => stop(0));
  // A closed pipe (`pnpm feed 1m | head`) or a vanished terminal: nobody is reading any more.
  process.stdout.on('error', () => stop(0));

  try {
    await client.start(info.pairs.map((p) => p.pair), STARTUP_MS);
  } catch (e) {
    await client.close();
    unreachable(api, config.API_URL !== undefined, `${url}: ${(e as Error).message}`);
  }
  // Not if Ctrl-C came while connecting: the feed is on its way out.
  if (!stopping) table?.begin(() => stop(0));
}

main().catch((e: unknown) => {
  err(`feed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exit(1);
});
