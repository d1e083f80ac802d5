/** GET /metrics: the deployment's counters from Redis, and this process's own metrics. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { COUNTERS } from '@candlestack/shared';
import { startTestApi, type TestApi } from './helpers.js';
import { PAIR, TICKS, seedMarket } from './market.js';

let t: TestApi;
beforeAll(async () => {
  t = await startTestApi();
  await seedMarket(t);
});
afterAll(() => t.stop());

describe('GET /metrics', () => {
  it('exposes the shared counters, close lags, request latency and process metrics', async () => {
    await t.stats.incr({ ticks_ingested_total: 42, candles_closed_total: 7 });
    await t.stats.incr({ ticks_ingested_total: 1 });
    await t.stats.closeRun('1m', Date.now(), 1500);
    await t.stats.closeRun('1m', Date.now(), 2400);
    await t.stats.closeRun('1m', Date.now(), 400_000);
    await t.stats.closeRun('5m', Date.now(), undefined);
    await t.stats.writeSourceStatus({ source: 'replay', state: 'replaying', detail: '', gaps: 0 });
    await t.fetch(`/candles/btc-usdt/1m?limit=2`);
    await t.fetch(`/candles/${PAIR}/5m`);
    await t.fetch('/candles/NOPE_USDT/1m');
    await t.fetch('/no/such/path');

    const res = await t.fetch('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();

    for (const name of Object.keys(COUNTERS)) expect(text).toMatch(new RegExp(`^# TYPE candlestack_${name} counter$`, 'm'));
    // The seeded trades, counted by the store's script per pair, plus the deployment's own count.
    expect(text).toMatch(new RegExp(`^candlestack_ticks_ingested_total ${43 + TICKS.length}$`, 'm'));
    expect(text).toMatch(/^candlestack_ticks_duplicate_total 6$/m);
    const closedBySeed = Number(await t.redis.hget(t.keys.state(PAIR), 'candles_closed_total'));
    expect(closedBySeed).toBeGreaterThan(0);
    expect(text).toMatch(new RegExp(`^candlestack_candles_closed_total ${7 + closedBySeed}$`, 'm'));
    expect(text).toMatch(/^candlestack_ticks_dropped_total 0$/m);
    expect(text).toMatch(/^candlestack_stats_up 1$/m);
    // The close lag, in seconds, as a histogram over every close run.
    expect(text).toMatch(/^# TYPE candlestack_close_lag_seconds histogram$/m);
    expect(text).not.toMatch(/close_lag_ms/);
    const lag = (le: string) => new RegExp(`^candlestack_close_lag_seconds_bucket\\{period="1m",le="${le}"\\} (\\d+)$`, 'm').exec(text)?.[1];
    expect([lag('1'), lag('2'), lag('2.5'), lag('300'), lag('\\+Inf')]).toEqual(['0', '1', '2', '2', '3']);
    expect(text).toMatch(/^candlestack_close_lag_seconds_sum\{period="1m"\} 403\.9$/m);
    expect(text).toMatch(/^candlestack_close_lag_seconds_count\{period="1m"\} 3$/m);
    // A run that closed nothing has no lag to count.
    expect(text).not.toMatch(/close_lag_seconds_count\{period="5m"\}/);
    expect(text).toMatch(/^candlestack_source_connected\{source="replay"\} 1$/m);
    // By the replay's clock, its latest trade: BTC_USDT's is that trade; ETH_USDT has none.
    expect(text).toMatch(/^candlestack_pair_last_trade_age_seconds\{pair="BTC_USDT"\} 0$/m);
    expect(text).not.toMatch(/pair_last_trade_age_seconds\{pair="ETH_USDT"\}/);
    expect(text).toMatch(/^candlestack_ws_connections 0$/m);
    expect(text).toMatch(/^candlestack_process_cpu_user_seconds_total /m);

    const count = (route: string, status: number) =>
      new RegExp(`^candlestack_http_request_duration_seconds_count\\{method="GET",route="${route}",status="${status}"\\} (\\d+)$`, 'm').exec(text)?.[1];
    expect(count('/candles/:pair/:period', 200)).toBe('2');
    expect(count('/candles/:pair/:period', 404)).toBe('1');
    expect(count('unmatched', 404)).toBe('1');
    // Route patterns only, never raw URLs: the label's values stay few.
    expect(text).not.toMatch(/route="\/candles\/(btc|BTC|NOPE)/);
    expect(text).not.toMatch(/route="\/no\/such/);
  });

  it('counts open WebSocket connections, and says when the source is not connected', async () => {
    await t.stats.writeSourceStatus({ source: 'poloniex', state: 'disconnected', detail: 'reconnecting', gaps: 0 });
    const ws = new WebSocket(`${t.api.url.replace('http', 'ws')}/ws`);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    try {
      const scrape = async () => (await t.fetch('/metrics')).text();
      await expect.poll(scrape, { timeout: 5_000, interval: 100 }).toMatch(/^candlestack_ws_connections 1$/m);
      const text = await scrape();
      expect(text).toMatch(/^candlestack_source_connected\{source="poloniex"\} 0$/m);
    } finally {
      ws.close();
    }
  });

  it('reads the counters again within about a second of a change (a scrape is computed at most once a second)', async () => {
    const scrape = async () => (await t.fetch('/metrics')).text();
    await t.stats.incr({ close_jobs_total: 5 });
    await expect.poll(scrape, { timeout: 5_000, interval: 100 }).toMatch(/^candlestack_close_jobs_total 5$/m);
    await t.stats.incr({ close_jobs_total: 2 });
    await expect.poll(scrape, { timeout: 5_000, interval: 100 }).toMatch(/^candlestack_close_jobs_total 7$/m);
  });
});
