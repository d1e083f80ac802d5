/**
 * The whole system in-process for the feed's end-to-end tests: the
 * simulated market through the real ingester and worker into the test
 * Redis (a prefix of its own), and the real API, on PERIODS=1s,5s so
 * candles close within a test. The API can be stopped and started again on
 * the same port, as a restart looks to a client.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '@candlestack/shared';
import { apiEnv } from '../../api/src/env.js';
import { startApi, type RunningApi } from '../../api/src/server.js';
import type { Ingester } from '../../ingest/src/ingester.js';
import { SimulatedSource } from '../../ingest/src/sources/simulated.js';
import type { RunningWorker } from '../../worker/src/worker.js';
import { startIngester, startTestWorker, testEnv } from '../../../test/support/pipeline.js';
import { deletePrefix, testPrefix } from '../../../test/support/redis.js';

export const PAIRS = ['BTC_USDT', 'ETH_USDT'];

export interface Stack {
  /** e.g. http://127.0.0.1:41234 */
  readonly url: string;
  stopApi(): Promise<void>;
  startApi(): Promise<void>;
  stop(): Promise<void>;
}

export async function startStack(): Promise<Stack> {
  const prefix = testPrefix('feed');
  const env = testEnv(prefix, { HOST: '127.0.0.1' });
  const source = new SimulatedSource({ pairs: PAIRS, seed: 7, rate: 20 });
  const ingester: Ingester = await startIngester(env, source);
  const worker: RunningWorker = await startTestWorker(env);
  let api: RunningApi | undefined = await startApi(parseConfig(apiEnv, { ...env, PORT: '0' }), { startupGraceMs: 0 });
  const url = api.url;
  const port = new URL(url).port;
  return {
    url,
    async stopApi() {
      await api?.close();
      api = undefined;
    },
    async startApi() {
      api = await startApi(parseConfig(apiEnv, { ...env, PORT: port }), { startupGraceMs: 0 });
    },
    async stop() {
      await api?.close();
      await worker.close();
      await ingester.close();
      await deletePrefix(prefix);
    },
  };
}

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const TSX = fileURLToPath(new URL('../node_modules/.bin/tsx', import.meta.url));

/** The command that runs the feed from source, as `pnpm feed` does. */
export const FEED_COMMAND = [TSX, '--conditions=development', MAIN];

export interface Run {
  readonly child: ChildProcess;
  /** Everything written so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or the signal's name). */
  readonly exited: Promise<number | string>;
}

/** Runs `cmd` from the repository root with `env` added, collecting its output. */
export function run(cmd: readonly string[], env: Record<string, string | undefined> = {}): Run {
  const child = spawn(cmd[0]!, cmd.slice(1), { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return { child, stdout: () => out, stderr: () => err, exited };
}
