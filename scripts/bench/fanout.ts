/**
 * The live feed's costs, as issue 9 defines them (goals 5 and 7):
 *
 * - Fan-out: 1,000 WebSocket subscribers to one pair and period of the
 *   production API; a `closed` event PUBLISHed on the deployment's channel
 *   (as the worker sends it), timed from just before the PUBLISH to each
 *   client's receipt. The clients run in a child process of their own
 *   (fanout-clients.ts): their CPU is not the API's, but the machine's cores
 *   are shared by the API, Redis and the clients, so the figure includes
 *   the clients' own time to read 1,000 sockets. Beside it: the API's CPU
 *   per broadcast (over the publishes alone), the clients', and the median
 *   time for an event's last client. The API's part is about one write(2)
 *   per socket, ~10 µs each on loopback: the broadcast loop does nothing
 *   else per client (hub.ts).
 * - Subscribe churn at 2,000 registered pairs: 50 connections subscribing
 *   and unsubscribing, each at 20 messages a second (what the API's limit
 *   lets through), then as fast as they are answered; meanwhile another
 *   client's GET /candles (limit=100, 100 closed candles) median latency,
 *   beside the same probe with no churn.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CandleStore, Keys, closeLimits, parsePeriods, planPeriods, type Tick } from '@candlestack/shared';
import type { Job, JobResult, Phase } from './fanout-clients.js';
import { BenchApp, BenchRedis, freePort, percentile, sleep, waitFor, type BenchContext, type Figure } from './lib.js';

const PREFIX = 'bench-fanout';
const PERIOD = '1m';
const PERIOD_MS = 60_000;
const PAIRS = 2000;
const CHURNERS = 50;
/** Subscribe/unsubscribe messages a second per churning connection in the paced run (the API's limit: 20). */
const PACED_RATE = 20;

function runClients(job: Job, onPhase: (p: Phase['phase']) => void = () => undefined): Promise<JobResult> {
  const child = fork(fileURLToPath(new URL('./fanout-clients.ts', import.meta.url)), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    let result: JobResult | undefined;
    child.on('message', (m: JobResult | Phase) => {
      if ('phase' in m) onPhase(m.phase);
      else result = m;
    });
    child.once('exit', (code) => (result ? resolve(result) : reject(new Error(`bench: the fanout clients exited with ${code}`))));
    child.send(job);
  });
}

/** GET /candles of one pair, one at a time, for `ms`: the latencies. */
async function probe(url: string, ms: number): Promise<number[]> {
  const out: number[] = [];
  const until = performance.now() + ms;
  while (performance.now() < until) {
    const t = performance.now();
    const res = await fetch(`${url}/candles/P0_USDT/${PERIOD}?limit=100`);
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`bench: /candles answered ${res.status}`);
    out.push(performance.now() - t);
  }
  return out.sort((a, b) => a - b);
}

export async function fanout(ctx: BenchContext): Promise<Figure[]> {
  const section = 'fanout';
  const subscribers = Number(process.env.BENCH_SUBSCRIBERS ?? 1000);
  const events = ctx.quick ? 20 : 100;
  const churnMs = ctx.quick ? 1_000 : 10_000;
  const redis = await BenchRedis.start({ aof: false });
  const keys = new Keys(PREFIX);
  const plan = planPeriods(parsePeriods(PERIOD));
  const pairs = Array.from({ length: PAIRS }, (_, i) => `P${i}_USDT`);
  await redis.client.sadd(keys.pairs(), ...pairs);
  // 100 closed candles of P0_USDT for the /candles probe, an hour ago.
  const store = new CandleStore(redis.client, keys, plan);
  const start = Math.floor(Date.now() / PERIOD_MS) * PERIOD_MS - 200 * PERIOD_MS;
  const ticks: Tick[] = Array.from({ length: 500 }, (_, i) => ({
    pair: 'P0_USDT', time: start + i * 12_000, price: (100 + (i % 17) / 8).toFixed(3), quantity: '0.25', amount: '25', side: i % 2 ? 'buy' : 'sell', id: String(1 + i),
  }));
  await store.addTicks('P0_USDT', ticks, { clock: ticks.at(-1)!.time });
  await store.closePair('P0_USDT', closeLimits(plan, { source: 'replay', replayTime: ticks.at(-1)!.time + PERIOD_MS, done: true }, 0), { budget: 5000 });

  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const api = BenchApp.start('api', { REDIS_URL: redis.url, REDIS_PREFIX: PREFIX, PERIODS: PERIOD, PORT: String(port), RATE_LIMIT: '0' });
  try {
    await waitFor(async () => (await fetch(`${url}/healthz`).catch(() => undefined))?.ok, 'the API', 30_000, 100);
    const body = (await (await fetch(`${url}/candles/P0_USDT/${PERIOD}?limit=100`)).json()) as { candles: unknown[] };
    ctx.progress(`fanout: ${subscribers} WebSocket subscribers to one pair, ${events} closed events`);
    // The API's CPU over the publishes alone (not the 1,000 subscribes before them).
    const cpu: number[] = [];
    const f = (await runClients(
      { job: 'fanout', url, redisUrl: redis.url, channel: keys.events(), pair: 'P1_USDT', period: PERIOD, periodMs: PERIOD_MS, clients: subscribers, events },
      () => cpu.push(api.cpuSeconds()),
    )) as Extract<JobResult, { job: 'fanout' }>;
    const fanoutCpu = cpu[1]! - cpu[0]!;
    const lat = f.latencies.sort((a, b) => a - b);
    const out: Figure[] = [
      {
        section,
        name: `publish of a close to receipt, ${subscribers} subscribers: p99 of ${lat.length}`,
        value: percentile(lat, 99),
        unit: 'ms',
        goal: '≤ 50',
        note: `p50 ${percentile(lat, 50).toFixed(1)} ms, max ${lat.at(-1)?.toFixed(1)} ms, the last client of an event (median) ${f.lastMedianMs.toFixed(1)} ms; ${f.missing} missing, ${f.duplicates} twice; API CPU ${((fanoutCpu * 1000) / events).toFixed(1)} ms a broadcast (/proc: 10 ms ticks over ${events}), the clients' ${f.clientCpuMs.toFixed(1)} ms`,
      },
    ];

    ctx.progress(`fanout: /candles latency alone, then beside ${CHURNERS} connections churning subscriptions over ${PAIRS} pairs, paced then unpaced`);
    const alone = await probe(url, churnMs);
    for (const intervalMs of [1000 / PACED_RATE, 0]) {
      const cpu1 = api.cpuSeconds();
      const churning = runClients({ job: 'churn', url, pairs, period: PERIOD, clients: CHURNERS, seconds: churnMs / 1000 + 1, intervalMs });
      await sleep(700); // the churners are connected and going
      const during = await probe(url, churnMs);
      const c = (await churning) as Extract<JobResult, { job: 'churn' }>;
      const churnCpu = (api.cpuSeconds() - cpu1) / c.seconds;
      const how = intervalMs ? `each at most ${PACED_RATE} msg/s` : 'each as fast as answered';
      out.push(
        {
          section,
          name: `GET /candles median beside subscribe churn: ${CHURNERS} connections, ${how}, ${PAIRS} pairs`,
          value: percentile(during, 50),
          unit: 'ms',
          ceiling: { name: 'no churn', value: percentile(alone, 50) },
          note: `p99 ${percentile(during, 99).toFixed(1)} ms vs ${percentile(alone, 99).toFixed(1)} ms alone; ${body.candles.length} candles a body`,
        },
        {
          section,
          name: `  subscribe churn answered (${how})`,
          value: (c.ok + c.errors) / c.seconds,
          unit: 'msg/s',
          note: `${Math.round(c.ok / c.seconds)}/s accepted, ${Math.round(c.errors / c.seconds)}/s refused; API CPU ${(churnCpu * 100).toFixed(0)}%${c.errorSample ? `; e.g. ${c.errorSample.slice(0, 90)}` : ''}`,
        },
      );
    }
    return out;
  } finally {
    await api.stop();
    await redis.stop();
  }
}
