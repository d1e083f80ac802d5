/**
 * /openapi.json is good enough to generate a typed client: openapi-typescript
 * turns the served document into types, and a small program written against
 * them compiles with tsc. Its `@ts-expect-error` lines must be errors, so a
 * document that loosened a type (a limit as a string, a format as any
 * string, a price as a number) fails this test.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import openapiTS, { astToString } from 'openapi-typescript';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from './helpers.js';

const PROGRAM = `
import type { components, operations, paths } from './api.js';

type Candles = paths['/candles/{pair}/{period}']['get'];
type Query = NonNullable<Candles['parameters']['query']>;

export const q: Query = { limit: 500, from: 1700000000000, to: '2024-01-01T00:00:00Z', format: 'array' };
// @ts-expect-error limit is an integer, not a string
export const limitAsText: Query = { limit: '500' };
// @ts-expect-error format is json, csv or array
export const xml: Query = { format: 'xml' };
export const period: Candles['parameters']['path']['period'] = '5m';
// @ts-expect-error only the periods built
export const notBuilt: Candles['parameters']['path']['period'] = '7m';

// One operationId per route.
export const ops: (keyof operations)[] = ['getCandles', 'getTrades', 'listPairs', 'getHealth', 'getReadiness', 'getDeadLetters', 'getMetrics', 'getOpenApi'];

// Every refusal the server gives has its answer, with the error body.
type Err = components['schemas']['Error'];
export const refusals: Err[] = [
  null as unknown as Candles['responses'][400]['content']['application/json'],
  null as unknown as Candles['responses'][404]['content']['application/json'],
  null as unknown as Candles['responses'][413]['content']['application/json'],
  null as unknown as Candles['responses'][429]['content']['application/json'],
  null as unknown as Candles['responses'][503]['content']['application/json'],
  null as unknown as paths['/trades/{pair}']['get']['responses'][429]['content']['application/json'],
  null as unknown as paths['/pairs']['get']['responses'][503]['content']['application/json'],
];
export const retryAfter: Candles['responses'][429]['headers']['Retry-After'] = 30;

type Row = components['schemas']['CandleRow'];
export const row: Row = [1700000100000, '37012.5', '37020', '37001.1', '37010', '1.532', '56712.33', 42, true];
// @ts-expect-error prices are decimal strings
export const floatRow: Row = [1700000100000, 37012.5, '37020', '37001.1', '37010', '1.532', '56712.33', 42, true];
export const candle: components['schemas']['Candle'] = { time: 1, open: '1', high: '1', low: '1', close: '1', volume: '0', quoteVolume: '0', trades: 0, closed: true };
export const body: Candles['responses'][200]['content']['application/json'] = { pair: 'BTC_USDT', period: '1m', candles: [row] };
export const tradeLimit: NonNullable<paths['/trades/{pair}']['get']['parameters']['query']>['limit'] = 1000;
`;

let t: TestApi;
let dir: string;
beforeAll(async () => {
  t = await startTestApi();
  dir = mkdtempSync(join(tmpdir(), 'candlestack-openapi-client-'));
});
afterAll(async () => {
  await t.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('a client generated from /openapi.json', () => {
  it('compiles a typed program, and refuses wrongly typed use', async () => {
    const doc = await (await t.fetch('/openapi.json')).text();
    writeFileSync(join(dir, 'api.ts'), astToString(await openapiTS(doc)));
    writeFileSync(join(dir, 'program.ts'), PROGRAM);
    const program = ts.createProgram([join(dir, 'program.ts')], {
      strict: true,
      noEmit: true,
      noUncheckedIndexedAccess: true,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2023,
      skipLibCheck: true,
      types: [],
    });
    const problems = ts
      .getPreEmitDiagnostics(program)
      .map((d) => `${d.file ? `${d.file.fileName.slice(dir.length + 1)}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}: ` : ''}${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
    expect(problems).toEqual([]);
  });
});
