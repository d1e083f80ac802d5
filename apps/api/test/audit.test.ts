/**
 * GET /admin/audit and the audit's /readyz warning, over differences
 * recorded the way the worker records them (the audit-record script).
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineScripts } from '@candlestack/shared';
import { startTestApi, type TestApi } from './helpers.js';

let t: TestApi;

const candle = (close: string) => ({ time: 1_700_000_040_000, open: '10', high: '12', low: '9', close, volume: '1.5', quoteVolume: '15.3', trades: 3 });

/** One batch of `n` differing candles, as the worker's audit records it. */
async function record(n: number, cursor: string): Promise<void> {
  defineScripts(t.redis);
  const diffs = Array.from({ length: n }, (_, i) =>
    JSON.stringify({ pair: 'BTC_USDT', period: '1m', time: 1_700_000_040_000 + i * 60_000, at: Date.now(), fields: ['close'], ours: { ...candle('11'), closed: true }, exchange: candle(`11.${i + 1}`) }),
  );
  const r = await t.redis.auditRecord(t.keys.auditCursors(), t.keys.stats(), t.keys.auditDifferences(), 'BTC_USDT:1m', cursor, 1_700_000_040_000 + n * 60_000, 0, n, 0, 500, ...diffs);
  expect(r).toBe(1);
}

beforeAll(async () => {
  t = await startTestApi();
});
afterAll(() => t.stop());

describe('GET /admin/audit', () => {
  it('lists the differences newest first, both candles side by side, as the OpenAPI document says', async () => {
    await record(3, '');
    const res = await t.get<{ total: number; differences: { exchange: { close: string } }[] }>('/admin/audit?limit=2');
    expect(res.status).toBe(200);
    expect(res.body.total).toBe(3);
    expect(res.body.differences.map((d) => d.exchange.close)).toEqual(['11.3', '11.2']);
    const doc = (await t.get<{ components: object }>('/openapi.json')).body;
    const ajv = new Ajv2020({ strict: false });
    ajv.addKeyword('example');
    ajv.addSchema({ $id: 'doc', components: doc.components });
    const validate = ajv.getSchema('doc#/components/schemas/AuditResponse')!;
    expect(validate(res.body), JSON.stringify(validate.errors)).toBe(true);
    expect((await t.get('/admin/audit?limit=501')).status).toBe(400);
    expect((await t.get('/admin/audit?pair=BTC_USDT')).status).toBe(400);
  });

  it('does not record a batch twice (a second run that started from the same cursor)', async () => {
    defineScripts(t.redis);
    const again = await t.redis.auditRecord(t.keys.auditCursors(), t.keys.stats(), t.keys.auditDifferences(), 'BTC_USDT:1m', '', 1, 0, 1, 0, 500, '{}');
    expect(again).toBe(0);
    expect(await t.redis.xlen(t.keys.auditDifferences())).toBe(3);
  });

  it('makes /readyz warn past 10 differences in the last hour', async () => {
    const before = await t.get<{ warnings: string[] }>('/readyz');
    expect(before.body.warnings.join('\n')).not.toMatch(/exchange's own/);
    await record(8, String(1_700_000_040_000 + 3 * 60_000));
    // /readyz' answer is reused for up to a second.
    await expect
      .poll(async () => (await t.get<{ warnings: string[] }>('/readyz')).body.warnings, { timeout: 5_000 })
      .toContain("more than 10 closed candles differ from the exchange's own in the last hour: see /admin/audit");
    const metrics = await (await t.fetch('/metrics')).text();
    expect(metrics).toMatch(/^candlestack_candles_audited_total\{result="differs"\} 11$/m);
  });
});
