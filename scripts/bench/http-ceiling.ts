/**
 * The ceilings of `pnpm bench --only=http`, run as a process of their own
 * (`node --import tsx scripts/bench/http-ceiling.ts <body file>`): the same
 * body the API answered, from memory, by
 * - an Express 5 app with helmet's default headers (the floor a framework
 *   and its security headers set: what the API's /candles is judged by), and
 * - a bare node:http server (what the machine and the load generator allow).
 * Prints `{"express":<port>,"bare":<port>}` on stdout once both listen, and
 * runs until killed.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from './lib.js';

type Handler = (req: unknown, res: { type(t: string): { send(b: string): void } }) => void;
interface ExpressApp {
  disable(name: string): void;
  use(h: unknown): void;
  get(path: string, h: Handler): void;
}

const body = readFileSync(process.argv[2]!, 'utf8');
// Express and helmet are the API's dependencies: resolve them from there, the very copies it runs.
const fromApi = createRequire(join(ROOT, 'apps/api/package.json'));
const load = async <T>(name: string): Promise<T> => ((await import(pathToFileURL(fromApi.resolve(name)).href)) as { default: T }).default;
const express = await load<() => ExpressApp>('express');
const helmet = await load<() => unknown>('helmet');

const app = express();
app.disable('x-powered-by');
app.use(helmet());
app.get('/candles/:pair/:period', (_req, res) => res.type('application/json').send(body));

const bare = createServer((_req, res) => {
  res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
});

const listen = (server: Server) =>
  new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
const expressServer = createServer(app as unknown as Parameters<typeof createServer>[0]);
const ports = { express: await listen(expressServer), bare: await listen(bare) };
process.stdout.write(`${JSON.stringify(ports)}\n`);
