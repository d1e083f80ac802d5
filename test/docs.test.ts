/**
 * The documentation says what the code does: every environment variable an
 * app's schema reads is in docs/configuration.md (with the apps that read
 * it), every route the API registers in docs/api.md, every WebSocket `op`
 * and message `type` in docs/websocket.md; and nothing documented there is
 * gone from the code. The user-facing files point nowhere outside the
 * repository.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BOARD_PATH } from '../apps/api/src/board.js';
import { apiEnv } from '../apps/api/src/env.js';
import { SERVER_MESSAGE_TYPES, clientMessage } from '../apps/api/src/live/protocol.js';
import { openApiDocument } from '../apps/api/src/openapi.js';
import { startTestApi, type TestApi } from '../apps/api/test/helpers.js';
import { feedEnv } from '../apps/feed/src/env.js';
import { ingestEnv } from '../apps/ingest/src/env.js';
import { workerEnv } from '../apps/worker/src/env.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const sorted = (xs: Iterable<string>) => [...new Set(xs)].sort();

const SCHEMAS = { ingest: ingestEnv, worker: workerEnv, api: apiEnv, feed: feedEnv } as const;

describe('docs/configuration.md', () => {
  // Rows of the table: | `NAME` | default | read by | meaning |
  const rows = [...read('docs/configuration.md').matchAll(/^\| `([A-Z][A-Z0-9_]*)` \|[^|]*\| ([^|]+) \|/gm)].map((m) => ({
    name: m[1]!,
    readBy: sorted(m[2]!.split(',').map((s) => s.trim())),
  }));

  it('documents every variable the apps read, and no other', () => {
    const read = Object.values(SCHEMAS).flatMap((s) => Object.keys(s.shape));
    expect(sorted(rows.map((r) => r.name))).toEqual(sorted(read));
  });

  it('says which apps read each variable', () => {
    for (const { name, readBy } of rows) {
      const truth = Object.entries(SCHEMAS)
        .filter(([, s]) => name in s.shape)
        .map(([app]) => app);
      expect(readBy, name).toEqual(sorted(truth));
    }
  });

  it('has every variable in .env.example, commented out', () => {
    const example = read('.env.example');
    for (const { name } of rows) expect(example, name).toMatch(new RegExp(`^# ${name}=`, 'm'));
  });

  it('lists each variable once', () => {
    const names = rows.map((r) => r.name);
    expect(names.length).toBe(new Set(names).size);
  });
});

describe('docs/api.md', () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await startTestApi();
  });
  afterAll(() => t?.stop());

  /** Sections: ## `GET /candles/:pair/:period`, or ## `/admin/queues` for a mount. */
  const documented = () => sorted([...read('docs/api.md').matchAll(/^## `(?:[A-Z]+ )?(\/[^`\s]*)`/gm)].map((m) => m[1]!));

  /** Every route of the Express app, walking mounted routers, less the dashboard's static files. */
  function registered(app: TestApi['api']['app']): string[] {
    const out: string[] = [];
    type Layer = { route?: { path: string }; handle?: { stack?: Layer[] } };
    const walk = (stack: Layer[]) => {
      for (const layer of stack) {
        if (layer.route) out.push(layer.route.path);
        else if (layer.handle?.stack) walk(layer.handle.stack);
      }
    };
    walk((app as unknown as { router: { stack: Layer[] } }).router.stack);
    return out.filter((p) => !/\.(js|css|svg)$/.test(p));
  }

  it('has a section for every route the API registers and the board, and no other', () => {
    const routes = registered(t.api.app);
    expect(routes).toContain('/candles/:pair/:period');
    expect(documented()).toEqual(sorted([...routes, BOARD_PATH]));
  });

  it('covers every path of the OpenAPI document', () => {
    const paths = Object.keys((openApiDocument(t.config.PERIODS) as { paths: Record<string, unknown> }).paths);
    for (const p of paths) expect(documented(), p).toContain(p.replace(/\{(\w+)\}/g, ':$1'));
  });
});

describe('docs/websocket.md', () => {
  const text = read('docs/websocket.md');

  it('documents every op the server accepts, and no other', () => {
    const ops = [...text.matchAll(/^### op `(\w+)`/gm)].map((m) => m[1]!);
    expect(sorted(ops)).toEqual(sorted(clientMessage.shape.op.options));
  });

  it('documents every message type the server sends, and no other', () => {
    const types = [...text.matchAll(/^### type `(\w+)`/gm)].map((m) => m[1]!);
    expect(sorted(types)).toEqual(sorted(SERVER_MESSAGE_TYPES));
  });

  it('shows each type in a JSON example', () => {
    for (const type of SERVER_MESSAGE_TYPES) expect(text, type).toContain(`{"type":"${type}"`);
  });
});

describe('the user-facing files', () => {
  const files = [
    'README.md',
    'SCALING.md',
    '.env.example',
    'docker-compose.yml',
    'docker-compose.redis-port.yml',
    ...readdirSync(join(ROOT, 'docs'), { recursive: true, encoding: 'utf8' })
      .filter((f) => /\.(md|json)$/.test(f))
      .map((f) => `docs/${f}`),
  ];

  it('point nowhere outside the repository', () => {
    for (const file of files) {
      const text = read(file);
      expect(text, file).not.toMatch(/DESIGN\.md|shared folder|\/work\//);
    }
  });

  it('link only to files that exist', () => {
    for (const file of files.filter((f) => f.endsWith('.md'))) {
      for (const [, target] of read(file).matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue;
        expect(existsSync(resolve(ROOT, dirname(file), target!)), `${file} -> ${target}`).toBe(true);
      }
    }
  });
});
