/**
 * /openapi.json describes the API the server really runs: real responses,
 * good and bad, validate against the schemas of the served document.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from './helpers.js';
import { PAIR, seedMarket } from './market.js';

let t: TestApi;
let doc: { openapi: string; paths: Record<string, Record<string, { parameters?: { name: string }[]; responses: Record<string, unknown> }>>; components: { schemas: Record<string, object> } };
let ajv: Ajv2020;

beforeAll(async () => {
  t = await startTestApi();
  await seedMarket(t);
  doc = (await t.get<typeof doc>('/openapi.json')).body;
  ajv = new Ajv2020({ strict: false });
  ajv.addKeyword('example');
  ajv.addSchema({ $id: 'doc', components: doc.components });
});
afterAll(() => t.stop());

function check(schema: string, body: unknown): void {
  const validate = ajv.getSchema(`doc#/components/schemas/${schema}`)!;
  const ok = validate(body);
  expect(ok, JSON.stringify(validate.errors)).toBe(true);
}

describe('GET /openapi.json', () => {
  it('is an OpenAPI 3.1 document of every route, with the query parameters the server validates', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths).sort()).toEqual(['/admin/audit', '/admin/dead-letter', '/candles/{pair}/{period}', '/healthz', '/metrics', '/openapi.json', '/pairs', '/readyz', '/trades/{pair}']);
    expect(doc.paths['/trades/{pair}']!.get!.parameters!.map((p) => p.name)).toEqual(['pair', 'limit', 'from', 'to']);
    const params = doc.paths['/candles/{pair}/{period}']!.get!.parameters!.map((p) => p.name);
    expect(params).toEqual(['pair', 'period', 'limit', 'from', 'to', 'format']);
  });

  it('matches real responses', async () => {
    const candles = await t.get(`/candles/${PAIR}/1m?limit=20`);
    expect(candles.status).toBe(200);
    check('CandlesResponse', candles.body);
    const rows = await t.get(`/candles/${PAIR}/1m?limit=20&format=array`);
    expect(rows.status).toBe(200);
    check('CandleRowsResponse', rows.body);
    const trades = await t.get(`/trades/${PAIR}?limit=5`);
    expect(trades.status).toBe(200);
    check('TradesResponse', trades.body);
    check('PairsResponse', (await t.get('/pairs')).body);
    check('Health', (await t.get('/healthz')).body);
    check('Readiness', (await t.get('/readyz')).body);
    for (const path of [`/candles/${PAIR}/7m`, `/candles/${PAIR}/1m?limit=0`, '/candles/NOPE_USDT/1m', `/trades/${PAIR}?limit=0`, '/trades/NOPE_USDT', '/nowhere']) {
      const r = await t.get(path);
      expect(r.status).toBeGreaterThanOrEqual(400);
      check('Error', r.body);
    }
  });

  it('documents every error status the server gives, and an operationId per route', async () => {
    const candles = doc.paths['/candles/{pair}/{period}']!.get!;
    for (const [path, status] of [
      [`/candles/${PAIR}/7m`, 400],
      ['/candles/NOPE_USDT/1m', 404],
      [`/candles/${PAIR}/1m?${'x'.repeat(9000)}=1`, 414],
    ] as const) {
      expect((await t.fetch(path)).status, path).toBe(status);
      expect(candles.responses[status], String(status)).toBeDefined();
    }
    for (const status of ['400', '404', '408', '411', '413', '414', '429', '431', '500', '503']) expect(Object.keys(candles.responses)).toContain(status);
    const ops = Object.values(doc.paths).flatMap((p) => Object.values(p).map((op) => (op as { operationId?: string }).operationId));
    expect(ops.every((id) => typeof id === 'string')).toBe(true);
    expect(new Set(ops).size).toBe(ops.length);
    // The probes and the scrape are never rate limited: no 429 there.
    expect(doc.paths['/readyz']!.get!.responses['429']).toBeUndefined();
  });

  it('rejects what the schemas reject (the check can fail)', () => {
    const validate = ajv.getSchema('doc#/components/schemas/CandlesResponse')!;
    expect(validate({ pair: 'X', period: '1m', candles: [{ time: 1, open: 1 }] })).toBe(false);
  });
});
