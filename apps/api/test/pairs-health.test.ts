/** GET /pairs, /healthz and /readyz against a real server and Redis. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type ErrorBody, type TestApi } from './helpers.js';
import { NOW, PAIR, seedMarket } from './market.js';

interface Ready {
  status: string;
  reasons: string[];
  warnings: string[];
  checks: { redis: { ok: boolean }; source: { ok: boolean; state: string | null }; closeJobs: Record<string, { ok: boolean }> };
}

let t: TestApi;
beforeAll(async () => {
  // The rules, each answer computed afresh (reads-at-scale.test.ts tests the reuse of answers).
  t = await startTestApi({}, { statusMaxAgeMs: 0 });
});
afterAll(() => t.stop());

/** What a healthy ingester and worker keep writing. */
async function healthy(gaps = 0) {
  await t.stats.writeSourceStatus({ source: 'simulated', state: 'connected', detail: '', gaps });
  for (const label of ['1m', '5m']) await t.stats.closeRun(label, Date.now(), 40);
}

describe('GET /healthz', () => {
  it('is ok while the process is up', async () => {
    expect(await t.get('/healthz')).toMatchObject({ status: 200, body: { status: 'ok' } });
  });
});

describe('GET /readyz', () => {
  it('is 503 with the reasons while no ingester or worker has reported', async () => {
    const r = await t.get<Ready>('/readyz');
    expect(r.status).toBe(503);
    expect(r.body.status).toBe('not ready');
    expect(r.body.checks.redis.ok).toBe(true);
    expect(r.body.reasons).toEqual([
      'no source status: the ingester has not reported (is it running?)',
      'close job for 1m has never run: is a worker running?',
      'close job for 5m has never run: is a worker running?',
    ]);
  });

  it('is 200 once the source is fresh and every close job ran on time', async () => {
    await healthy();
    const r = await t.get<Ready>('/readyz');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ status: 'ready', reasons: [], warnings: [] });
    expect(r.body.checks.source).toMatchObject({ ok: true, state: 'connected' });
    expect(r.body.checks.closeJobs).toMatchObject({ '1m': { ok: true }, '5m': { ok: true } });
  });

  it('is 503 when a close job is late (the worker stopped)', async () => {
    await healthy();
    await t.stats.closeRun('1m', Date.now() - 5 * 60_000, 40);
    const r = await t.get<Ready>('/readyz');
    expect(r.status).toBe(503);
    expect(r.body.reasons).toHaveLength(1);
    expect(r.body.reasons[0]).toMatch(/^close job for 1m has not run since \d{4}-.*Z \(last run .*\): is a worker running\?$/);
  });

  it('is 503 when the source is disconnected or its heartbeat is stale', async () => {
    await healthy();
    await t.stats.writeSourceStatus({ source: 'poloniex', state: 'disconnected', detail: 'socket closed (1006)', gaps: 0 });
    let r = await t.get<Ready>('/readyz');
    expect(r.status).toBe(503);
    expect(r.body.reasons).toEqual(['source poloniex is disconnected: socket closed (1006)']);

    await healthy();
    await t.redis.hset(t.keys.sourceStatus(), 'heartbeat', Date.now() - 60_000);
    r = await t.get<Ready>('/readyz');
    expect(r.status).toBe(503);
    expect(r.body.reasons[0]).toMatch(/last reported 60 s ago: the ingester looks stopped/);
  });

  it('reports gaps as a warning, still ready', async () => {
    await healthy(3);
    const r = await t.get<Ready>('/readyz');
    expect(r.status).toBe(200);
    expect(r.body.warnings).toEqual(['source simulated reported 3 missed trade(s) (gaps)']);
  });
});

describe('GET /pairs', () => {
  it('lists pairs with their last trade time, the periods, and the source in words', async () => {
    await seedMarket(t);
    await healthy();
    const r = await t.get<Record<string, unknown>>('/pairs');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      pairs: [
        { pair: PAIR, lastTradeTime: NOW, history: null },
        { pair: 'ETH_USDT', lastTradeTime: null, history: null },
      ],
      periods: ['1m', '5m'],
      source: {
        name: 'simulated',
        kind: 'simulated',
        label: 'Simulated market: random prices, not real trades',
        state: 'connected',
        detail: '',
        heartbeat: expect.any(Number),
        gaps: 0,
      },
    });
  });

  it('says source null when no ingester ever reported', async () => {
    await t.redis.del(t.keys.sourceStatus());
    expect((await t.get<{ source: unknown }>('/pairs')).body.source).toBeNull();
  });
});

describe('without Redis', () => {
  let down: TestApi;
  beforeAll(async () => {
    // Nothing listens on port 1: every command fails at once.
    down = await startTestApi({ REDIS_URL: 'redis://127.0.0.1:1' });
  });
  afterAll(() => down.stop());

  it('stays live, is not ready, and answers 503 rather than 500', async () => {
    expect((await down.get('/healthz')).status).toBe(200);
    const ready = await down.get<Ready>('/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ status: 'not ready', reasons: ['redis does not answer'] });
    const candles = await down.get<ErrorBody>(`/candles/${PAIR}/1m`);
    expect(candles).toMatchObject({ status: 503, body: { error: { code: 'unavailable' } } });
    expect(JSON.stringify(candles.body)).not.toMatch(/127\.0\.0\.1|ECONNREFUSED/);
    const metrics = await down.fetch('/metrics');
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toMatch(/^candlestack_stats_up 0$/m);
  });
});
