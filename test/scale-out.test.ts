/**
 * Scaling out, end to end, as a user would run it (README "Several
 * ingesters", "On a Redis Cluster"): a Redis Cluster of the test's own
 * (3 masters, 3 replicas), the Poloniex stand-in trading six pairs without
 * pause, and two ingesters, two workers and two APIs as real processes on
 * REDIS_CLUSTER_NODES. Under that load one ingester is killed with SIGKILL
 * (the other holds every pair within 15 s, backfilling the handover), then
 * a master holding pairs' data is killed and its replica takes over.
 *
 * What must hold: the closed candles both APIs serve are exactly those of
 * the trades the stand-in made (none lost, none counted twice), WebSocket
 * subscribers of both APIs get closed candles before and after the kills,
 * /readyz is ready afterwards (what it said meanwhile is logged, and any
 * 503 must give a reason), and no process we did not kill exits.
 *
 * The master's writes are paused (CLIENT PAUSE WRITE) until its replicas
 * have everything, then it is killed: a failover to a replica that missed
 * acknowledged writes loses them, which Redis' asynchronous replication
 * does not prevent (RELIABILITY.md, "What is not covered"). The writes held
 * by the pause were never acknowledged, so the clients must send them again
 * to the new master: that is tested.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { candlesFromTicks, toCandle, toTick, type Candle } from '@candlestack/shared';
import { PoloniexStandIn, type WireTrade } from '../apps/ingest/test/support/poloniex-stand-in.js';
import { prng, tradeSpecs } from '../apps/ingest/test/support/harness.js';
import { AppProcess } from './support/processes.js';
import { PrivateCluster, freePort } from './support/redis-server.js';
import { testPrefix } from './support/redis.js';
import { sleep, waitFor } from './support/wait.js';

const PAIRS = ['AAA_USDT', 'BBB_USDT', 'CCC_USDT', 'DDD_USDT', 'EEE_USDT', 'FFF_USDT'];
const PERIODS = { '1s': 1_000, '5s': 5_000 } as const;
/** The contract (DESIGN "Scaling out"): a stopped ingester's pairs are taken over within 15 s. */
const TAKEOVER_MS = 15_000;

let cluster: PrivateCluster;
let standIn: PoloniexStandIn;
const procs: AppProcess[] = [];
const sockets: WebSocket[] = [];
let trading = false;
let market: Promise<void> = Promise.resolve();
let probing = false;
let probes: Promise<void> = Promise.resolve();

beforeAll(async () => {
  [cluster, standIn] = await Promise.all([PrivateCluster.start(3, 1), PoloniexStandIn.start({ markets: PAIRS.map((symbol) => ({ symbol })) })]);
}, 60_000);

afterAll(async () => {
  trading = false;
  probing = false;
  await Promise.all([market, probes]);
  for (const ws of sockets) ws.terminate();
  await Promise.all(procs.map((p) => p.kill()));
  await standIn?.close();
  await cluster?.destroy();
});

/** Each connection's subscriptions: pairs subscribed twice, by nobody, and how many each connection holds. */
function shares(): { twice: string[]; missing: string[]; sizes: string } {
  const subs = standIn.subscriptions();
  const flat = subs.flat();
  return {
    twice: PAIRS.filter((p) => flat.filter((s) => s === p).length > 1),
    missing: PAIRS.filter((p) => !flat.includes(p)),
    sizes: subs.map((s) => s.length).sort().join(),
  };
}

interface Heard {
  readonly at: number;
  readonly pair: string;
  readonly candle: Candle;
}

/** A WebSocket client of `api` subscribed to every pair's 1s candles: the closed candles it hears. */
async function subscriber(api: string): Promise<Heard[]> {
  const ws = new WebSocket(`${api.replace('http', 'ws')}/ws`);
  sockets.push(ws);
  const heard: Heard[] = [];
  let subscribed = 0;
  ws.on('message', (data: Buffer) => {
    const m = JSON.parse(data.toString()) as { type: string; pair: string; candle?: Candle };
    if (m.type === 'subscribed') subscribed++;
    if (m.type === 'candle' && m.candle?.closed) heard.push({ at: Date.now(), pair: m.pair, candle: m.candle });
  });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  for (const pair of PAIRS) ws.send(JSON.stringify({ op: 'subscribe', pair, period: '1s' }));
  await waitFor(() => subscribed === PAIRS.length, `the subscriptions at ${api}`);
  return heard;
}

interface Probe {
  readonly at: number;
  readonly api: string;
  readonly status: number | string;
  readonly body: { status?: string; reasons?: string[]; warnings?: string[] } | undefined;
}

async function readyz(api: string): Promise<Probe> {
  const at = Date.now();
  try {
    const r = await fetch(`${api}/readyz`, { signal: AbortSignal.timeout(3_000) });
    return { at, api, status: r.status, body: (await r.json()) as Probe['body'] };
  } catch (err) {
    return { at, api, status: (err as Error).message, body: undefined };
  }
}

async function candles(api: string, pair: string, period: keyof typeof PERIODS, from: number, to: number): Promise<Candle[]> {
  const r = await fetch(`${api}/candles/${pair}/${period}?from=${from}&to=${to}&limit=5000`);
  if (!r.ok) throw new Error(`${api} ${pair} ${period}: ${r.status} ${await r.text()}`);
  return ((await r.json()) as { candles: Candle[] }).candles;
}

/** The closed candles every pair and period should have: folded in the test from the trades the stand-in made. */
function reference(made: readonly WireTrade[]): Map<string, Candle[]> {
  const out = new Map<string, Candle[]>();
  for (const pair of PAIRS) {
    const ticks = made
      .filter((t) => t.symbol === pair)
      .map((t) => toTick({ pair, time: t.createTime, price: t.price, quantity: t.quantity, amount: t.amount, side: t.takerSide, id: t.id }));
    for (const [label, ms] of Object.entries(PERIODS)) out.set(`${pair} ${label}`, candlesFromTicks(ticks, ms).map((c) => toCandle(c, true)));
  }
  return out;
}

it('two of each app on a Redis Cluster: an ingester SIGKILLed, then a master failed over, under load; both APIs serve exact candles', async () => {
  const started = Date.now();
  const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
  const ports = [await freePort(), await freePort()];
  const apis = ports.map((p) => `http://127.0.0.1:${p}`);
  const env = {
    REDIS_CLUSTER_NODES: cluster.nodes, REDIS_PREFIX: testPrefix('scale-out'), PERIODS: Object.keys(PERIODS).join(','), GRACE_MS: '300',
    SOURCE: 'poloniex', PAIRS: PAIRS.join(','), POLONIEX_WS_URL: standIn.wsUrl, POLONIEX_REST_URL: standIn.restUrl,
  };
  const workers = [AppProcess.start('worker', env), AppProcess.start('worker', env)];
  const ingesters = [AppProcess.start('ingest', env), AppProcess.start('ingest', env)];
  // The test reads every candle of both APIs again until they settle: more than the default 1,200 a minute.
  const apiProcs = ports.map((port) => AppProcess.start('api', { ...env, PORT: String(port), RATE_LIMIT: '0' }));
  procs.push(...workers, ...ingesters, ...apiProcs);

  await waitFor(() => {
    const s = shares();
    return s.twice.length === 0 && s.missing.length === 0 && s.sizes === '3,3';
  }, 'each ingester to hold three pairs', 30_000);
  // The market, once the pairs are followed (a first start backfills nothing: no trade stored to start
  // from): two trades per pair every 100 ms, heard by whoever follows the pair.
  const rand = prng(10);
  const made: WireTrade[] = [];
  trading = true;
  market = (async () => {
    while (trading) {
      const now = Date.now();
      for (const p of PAIRS) made.push(...standIn.execute(p, tradeSpecs(rand, 2, now - 20, now, { price: 100, priceDecimals: 2, qtyDecimals: 3 })));
      await sleep(100);
    }
  })();

  await Promise.all(apis.map((api) => waitFor(async () => (await fetch(`${api}/healthz`)).ok, `${api} to listen`, 20_000)));
  const heard = await Promise.all(apis.map((api) => subscriber(api)));
  console.log(`[scale-out] ${elapsed()}: up, 3 pairs per ingester`);

  // /readyz of both APIs, every 200 ms, from here to the end.
  const seen: Probe[] = [];
  probing = true;
  probes = (async () => {
    while (probing) {
      seen.push(...(await Promise.all(apis.map(readyz))));
      await sleep(200);
    }
  })();

  // Closed candles arrive live at both APIs before any kill.
  await waitFor(() => heard.every((h) => h.length >= PAIRS.length), 'closed candles on both WebSockets', 15_000);

  // One ingester killed: the other takes its pairs (with the backfill of the handover) within 15 s.
  const [dead, survivor] = ingesters as [AppProcess, AppProcess];
  await dead.kill('SIGKILL');
  const killedAt = Date.now();
  await waitFor(() => {
    const s = shares();
    return s.sizes === '6' && s.missing.length === 0;
  }, 'the survivor to hold every pair', TAKEOVER_MS);
  console.log(`[scale-out] ${elapsed()}: the survivor holds every pair ${Date.now() - killedAt} ms after the kill`);

  // The master serving the most pairs' slots: paused for writes until its replicas have everything, then killed.
  const slots = new Map(await Promise.all(PAIRS.map(async (p) => [p, await cluster.slotOf(`{${p}}`)] as const)));
  const byMaster = new Map<number, string[]>();
  for (const [pair, slot] of slots) {
    const m = await cluster.masterOf(slot);
    byMaster.set(m, [...(byMaster.get(m) ?? []), pair]);
  }
  const [master, itsPairs] = [...byMaster].sort((a, b) => b[1].length - a[1].length)[0]!;
  expect((await cluster.keys(`${env.REDIS_PREFIX}:*`)).filter((k) => k.port === master && itsPairs.some((p) => k.key.includes(`{${p}}`))).length).toBeGreaterThan(0);
  await cluster.onNode(master, (r) => r.call('CLIENT', 'PAUSE', '5000', 'WRITE'));
  await cluster.waitReplicated(master, 5_000);
  await cluster.kill(master);
  const failedAt = Date.now();
  await waitFor(async () => (await cluster.masterOf(slots.get(itsPairs[0]!)!)) !== master, 'a replica to take over', 20_000);
  await cluster.waitOk();
  console.log(`[scale-out] ${elapsed()}: master ${master} (${itsPairs.join(', ')}) killed, its replica serves its slots ${Date.now() - failedAt} ms later`);

  // The killed ingester started again: it joins, and the two share the pairs again (a handover by backfill).
  const rejoined = AppProcess.start('ingest', env);
  procs.push(rejoined);
  await waitFor(() => {
    const s = shares();
    return s.twice.length === 0 && s.missing.length === 0 && s.sizes === '3,3';
  }, 'the two ingesters to share the pairs again', TAKEOVER_MS + 10_000);
  const sharedAt = Date.now();
  console.log(`[scale-out] ${elapsed()}: the restarted ingester holds three pairs`);

  // Still live on both APIs: closed candles of buckets that began after the failover and the rejoin.
  await waitFor(() => heard.every((h) => h.some((x) => x.candle.time > sharedAt)), 'closed candles on both WebSockets after the failover', 20_000);
  trading = false;
  await market;

  // Every bucket closed, and both APIs serve exactly the reference.
  const expected = reference(made);
  const first = Math.min(...made.map((t) => t.createTime));
  const last = Math.max(...made.map((t) => t.createTime));
  const window = { from: Math.floor(first / 5_000) * 5_000, to: Math.floor(last / 5_000) * 5_000 + 5_000 };
  const read = async (api: string) => {
    const out = new Map<string, Candle[]>();
    for (const pair of PAIRS) {
      for (const label of Object.keys(PERIODS) as (keyof typeof PERIODS)[]) {
        const want = expected.get(`${pair} ${label}`)!;
        out.set(`${pair} ${label}`, await candles(api, pair, label, want[0]!.time, want.at(-1)!.time + PERIODS[label]));
      }
    }
    return out;
  };
  const same = (got: Map<string, Candle[]>) => [...expected].every(([k, want]) => JSON.stringify(got.get(k)) === JSON.stringify(want));
  for (const api of apis) {
    const got = await waitFor(async () => {
      const g = await read(api);
      if (same(g)) return g;
      await sleep(250);
      return false;
    }, `the candles at ${api} to equal the reference`, 20_000).catch(() => read(api));
    for (const [k, want] of expected) {
      const have = new Map((got.get(k) ?? []).map((c) => [c.time, c]));
      const off = want.filter((c) => JSON.stringify(have.get(c.time)) !== JSON.stringify(c));
      if (off.length > 0) {
        const at = (t: number) => `${t} (${t - killedAt} ms from the ingester's kill, ${t - failedAt} from the master's)`;
        console.log(`[scale-out] ${api} ${k}: ${off.length} candle(s) differ:\n${off.map((c) => `  ${at(c.time)}: trades ${have.get(c.time)?.trades} of ${c.trades}`).join('\n')}`);
      }
      expect(got.get(k), `${api} ${k}`).toEqual(want);
    }
  }
  const total = [...expected].filter(([k]) => k.endsWith(' 1s')).reduce((n, [, cs]) => n + cs.reduce((m, c) => m + c.trades, 0), 0);
  expect(total).toBe(made.length);
  console.log(`[scale-out] ${elapsed()}: ${made.length} trades over ${((window.to - window.from) / 1000).toFixed(0)} s, candles exact at both APIs`);

  // Ready again, with nothing wrong to say; what it said meanwhile is logged.
  for (const api of apis) {
    const ready = await waitFor(async () => {
      const p = await readyz(api);
      return p.status === 200 ? p : false;
    }, `${api}/readyz to be 200`, 20_000);
    expect(ready.body?.status).toBe('ready');
    expect(ready.body?.reasons).toEqual([]);
  }
  probing = false;
  await probes;
  const degraded = seen.filter((p) => p.status !== 200 || (p.body?.warnings?.length ?? 0) > 0);
  for (const p of degraded) {
    console.log(`[scale-out] /readyz at ${p.api}, ${p.at - failedAt} ms from the master's kill: ${p.status} ${JSON.stringify(p.body)}`);
    // Whatever made it unready is said: never a bare 503.
    if (p.status === 503) expect(p.body?.reasons?.join(' '), JSON.stringify(p.body)).toMatch(/redis|source|close job/i);
  }
  console.log(`[scale-out] /readyz probes: ${seen.length}, not 200 or with warnings: ${degraded.length}`);

  // Six processes running at the end (the killed ingester's place taken by the restarted one); none else exited.
  const alive = procs.filter((p) => p.running);
  expect(alive.map((p) => p.app).sort()).toEqual(['api', 'api', 'ingest', 'ingest', 'worker', 'worker']);
  expect(procs.filter((p) => !p.running)).toEqual([dead]);
  // Each handover backfilled from the last stored trade, and was logged.
  for (const p of [survivor, rejoined]) {
    expect(p.logs().some((l) => /^took the lease of/.test(String(l.msg))), `${p.app} (pid ${p.proc.pid}) took leases`).toBe(true);
    expect(p.logs().some((l) => /^backfilled \d+ trade\(s\) of/.test(String(l.msg))), `${p.app} (pid ${p.proc.pid}) backfilled`).toBe(true);
  }
  // What each process warned of (the failover's retries), for whoever reads the run.
  for (const p of alive) {
    const counts = new Map<string, number>();
    for (const l of p.logs().filter((x) => Number(x.level) >= 40)) {
      const what = `${Number(l.level) >= 50 ? 'error' : 'warn'}: ${String(l.msg)}${l.err ? ` (${String(l.err).slice(0, 80)})` : ''}`;
      counts.set(what, (counts.get(what) ?? 0) + 1);
    }
    if (counts.size > 0) console.log(`[scale-out] ${p.app} (pid ${p.proc.pid}):\n${[...counts].map(([w, n]) => `  ${n} × ${w}`).join('\n')}`);
  }
  console.log(`[scale-out] ${elapsed()}: done`);
}, 120_000);
