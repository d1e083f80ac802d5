/**
 * docs/grafana/candlestack.json queries only metrics the API really
 * exposes: every `candlestack_*` name in its queries has samples in the
 * /metrics output of a running API over a seeded deployment.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from './helpers.js';
import { seedMarket } from './market.js';

const DASHBOARD = new URL('../../../docs/grafana/candlestack.json', import.meta.url);

interface Dashboard {
  readonly panels: readonly { readonly title: string; readonly targets: readonly { readonly expr: string }[] }[];
}

let t: TestApi;
beforeAll(async () => {
  t = await startTestApi({}, { statusMaxAgeMs: 0 });
  await seedMarket(t);
  // What a running ingester and worker write.
  await t.stats.writeSourceStatus({ source: 'simulated', state: 'connected', detail: '', gaps: 0 });
  await t.stats.closeRun('1m', Date.now(), 2100);
});
afterAll(() => t.stop());

describe('the Grafana dashboard', () => {
  it('queries only metric names found in /metrics', async () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
    const queried = new Set(dashboard.panels.flatMap((p) => p.targets.flatMap((q) => q.expr.match(/\bcandlestack_[a-z0-9_]+/g) ?? [])));
    expect(queried.size).toBeGreaterThan(10);
    await (await t.fetch('/candles/BTC_USDT/1m')).arrayBuffer(); // a request, so the latency histogram has samples
    const text = await (await t.fetch('/metrics')).text();
    const exposed = new Set([...text.matchAll(/^(candlestack_[a-z0-9_]+)[{ ]/gm)].map((m) => m[1]!));
    expect([...queried].filter((name) => !exposed.has(name))).toEqual([]);
  });
});
