/**
 * The API under random and hostile input, as any client could send it:
 * thousands of HTTP requests (odd methods, paths, pairs, periods, query
 * strings, headers, bodies) and WebSocket messages (wrong types, deep or
 * huge JSON, binary frames, subscribe/unsubscribe bursts), drawn from a
 * seeded generator: FUZZ_SEED=<n> replays a run, and a failure prints n.
 * The API must stay up, answer every request below 500 (a 4xx with the JSON
 * error body), and leave the data in Redis exactly as it was.
 */
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { Rng, fuzzSeed } from '../../../test/support/fuzz.js';
import { sleep, waitFor } from '../../../test/support/wait.js';
import { candleSchema, candlesResponse } from '../src/schemas.js';
import { fuzzMessage, fuzzRequest, requestText, type FuzzRequest } from './fuzz-inputs.js';
import { startTestApi, type TestApi } from './helpers.js';
import { PAIR, seedMarket } from './market.js';
import { rawRequest, type RawResponse } from './raw-http.js';

const seed = fuzzSeed();
const HTTP_REQUESTS = 3000;
const CONCURRENCY = 16;
const WS_CLIENTS = 30;
const WS_MESSAGES = 100;

let t: TestApi;
/** Every key of the test's prefix but BullMQ's, with its DUMP, before the fuzz. */
let before: Map<string, string>;

async function dataKeys(): Promise<Map<string, string>> {
  const keys = await t.redis.keys(`${t.prefix}:*`);
  const out = new Map<string, string>();
  for (const k of keys.filter((k) => !k.startsWith(`${t.keys.bullPrefix()}:`)).sort()) {
    out.set(k, (await t.redis.dumpBuffer(k))?.toString('base64') ?? '');
  }
  return out;
}

beforeAll(async () => {
  t = await startTestApi({ RATE_LIMIT: '0' });
  await seedMarket(t);
  before = await dataKeys();
});
afterAll(() => t?.stop());

const isErrorBody = (v: unknown) => {
  const e = (v as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  return typeof e?.code === 'string' && typeof e.message === 'string';
};

/** What is wrong with an answer, or undefined. */
function check(r: FuzzRequest, res: RawResponse): string | undefined {
  let json: unknown;
  try {
    json = res.body === '' ? undefined : JSON.parse(res.body);
  } catch {}
  // /readyz is 503 here (no ingester, no worker): that is its answer, not a failure.
  if (res.status === 503 && /^\/readyz\/?(\?|$)/i.test(r.target)) {
    const notReady = r.method === 'HEAD' || (json as { status?: unknown } | undefined)?.status === 'not ready';
    return notReady ? undefined : 'a 503 from /readyz that is not its report';
  }
  if (res.status >= 500) return `status ${res.status}`;
  // Bull Board's API answers its own UI in its own shape, {"error":{"key":...}}.
  const board = /^\/admin\/queues\/api\//i.test(r.target) && typeof (json as { error?: unknown } | undefined)?.error === 'object';
  if (res.status >= 400 && r.method !== 'HEAD' && !isErrorBody(json) && !board) return `a ${res.status} without the JSON error body`;
  if (res.status === 200 && r.method === 'GET' && /^\/candles\//.test(r.target) && /json/.test(res.headers['content-type'] ?? '')) {
    const parsed = candlesResponse.safeParse(json);
    if (!parsed.success) return `a candles answer off its schema: ${parsed.error.message}`;
  }
  if (/\bat \S+\.[jt]s:\d+|node_modules|\/work\//.test(res.body)) return 'internals in the body';
  return undefined;
}

describe(`fuzz (FUZZ_SEED=${seed})`, () => {
  it('HTTP: every answer below 500, every 4xx with the JSON error body', async () => {
    onTestFailed(() => console.error(`fuzz failed: rerun with FUZZ_SEED=${seed}`));
    const rng = new Rng(seed);
    const host = new URL(t.api.url).host;
    const requests = Array.from({ length: HTTP_REQUESTS }, () => fuzzRequest(rng, host));
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < requests.length) {
          const r = requests[next++]!;
          const what = `${r.method} ${r.target.slice(0, 120)}${r.body ? ` (+${r.body.length} chars)` : ''}`;
          try {
            const res = await rawRequest(t.api.url, requestText(r));
            statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
            const wrong = check(r, res);
            if (wrong) failures.push(`${what}: ${wrong}: ${res.body.slice(0, 200)}`);
          } catch (e) {
            failures.push(`${what}: ${(e as Error).message}`);
          }
        }
      }),
    );
    expect(failures.slice(0, 10)).toEqual([]);
    // The run reached the routes, not only the 404.
    expect([...statuses.keys()]).toEqual(expect.arrayContaining([200, 400, 404, 405]));
    expect((await t.fetch('/healthz')).status).toBe(200);
  });

  it('WebSocket: every message answered in protocol, oversized ones closed, the server unharmed', async () => {
    onTestFailed(() => console.error(`fuzz failed: rerun with FUZZ_SEED=${seed}`));
    const rng = new Rng(seed ^ 0x5eed);
    const wsUrl = `${t.api.url.replace('http', 'ws')}/ws`;
    const failures: string[] = [];
    const closes = new Map<number, number>();
    await Promise.all(
      Array.from({ length: WS_CLIENTS }, async (_, i) => {
        const ws = new WebSocket(wsUrl);
        const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
        ws.on('error', () => undefined);
        ws.on('message', (data, isBinary) => {
          const problem = checkServerMessage(data.toString(), isBinary);
          if (problem) failures.push(`client ${i}: ${problem}`);
        });
        await new Promise((resolve) => ws.once('open', resolve));
        for (let m = 0; m < WS_MESSAGES && ws.readyState === WebSocket.OPEN; m++) {
          const msg = fuzzMessage(rng);
          // Random bytes go as a binary frame, or as a text frame that may not be UTF-8.
          ws.send(msg, { binary: typeof msg !== 'string' && rng.chance(0.7) });
          if (rng.chance(0.1)) await sleep(rng.int(0, 5));
        }
        await sleep(300);
        ws.close();
        const code = await closed;
        closes.set(code, (closes.get(code) ?? 0) + 1);
      }),
    );
    expect(failures.slice(0, 10)).toEqual([]);
    // A normal close, 1007 for text that is not UTF-8, 1009 for a message over the size limit; nothing else.
    expect([...closes.keys()].filter((c) => ![1000, 1005, 1007, 1009].includes(c))).toEqual([]);
    // Still serving, and a new client gets its subscription and candle.
    expect((await t.fetch('/healthz')).status).toBe(200);
    const ws = new WebSocket(wsUrl);
    const got: string[] = [];
    ws.on('message', (d) => got.push(JSON.parse(d.toString()).type as string));
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send(JSON.stringify({ op: 'subscribe', pair: PAIR, period: '1m' }));
    await waitFor(() => got.includes('subscribed') && got.includes('candle'), 'subscribed and a candle after the fuzz', 5000);
    ws.close();
  });

  it('WebSocket: a burst of subscribe/unsubscribe ends in the state its last message asked for', async () => {
    onTestFailed(() => console.error(`fuzz failed: rerun with FUZZ_SEED=${seed}`));
    const rng = new Rng(seed ^ 0xb0b);
    const ws = new WebSocket(`${t.api.url.replace('http', 'ws')}/ws`);
    const msgs: { type: string; pair?: string; period?: string; candle?: { time: number } }[] = [];
    ws.on('message', (d) => msgs.push(JSON.parse(d.toString()) as (typeof msgs)[number]));
    await new Promise((resolve) => ws.once('open', resolve));
    const subs = [
      { pair: PAIR, period: '1m' },
      { pair: 'ETH_USDT', period: '5m' },
    ];
    // Every message gets exactly one answer (an ack or an error); candles come besides.
    const answers = () => msgs.filter((m) => m.type !== 'candle').length;
    let sent = 0;
    const send = (op: string, sub: (typeof subs)[number]) => {
      ws.send(JSON.stringify({ op, ...sub }));
      sent++;
    };
    // Bursts within the limit of messages waiting for an answer (64).
    for (let burst = 0; burst < 6; burst++) {
      for (let i = 0; i < 50; i++) send(rng.pick(['subscribe', 'unsubscribe']), rng.pick(subs));
      await waitFor(() => answers() === sent, `answers to ${sent} messages`, 5000);
    }
    // Each pair ends unsubscribed, whatever came before: subscribe (or fail:
    // already subscribed), then unsubscribe.
    for (const sub of subs) {
      send('subscribe', sub);
      send('unsubscribe', sub);
    }
    await waitFor(() => answers() === sent, `answers to ${sent} messages`, 5000);
    // The acknowledgements alternate per pair: never two subscribed (or unsubscribed) in a row.
    for (const sub of subs) {
      const acks = msgs.filter((m) => (m.type === 'subscribed' || m.type === 'unsubscribed') && m.pair === sub.pair).map((m) => m.type);
      expect(acks.at(-1), sub.pair).toBe('unsubscribed');
      for (let i = 1; i < acks.length; i++) expect(acks[i], `${sub.pair} ack ${i}: ${acks.slice(Math.max(0, i - 3), i + 1).join(' ')}`).not.toBe(acks[i - 1]);
    }
    // Past the limit of messages waiting, each extra one gets an error at once, and the connection stays.
    for (let i = 0; i < 200; i++) send('unsubscribe', subs[0]!);
    await waitFor(() => answers() === sent, `answers to ${sent} messages`, 5000);
    expect(msgs.some((m) => m.type === 'error' && /more than 64 messages waiting/.test((m as { message?: string }).message ?? ''))).toBe(true);
    expect(ws.readyState).toBe(WebSocket.OPEN);

    // Unsubscribed for good: a closed candle now reaches nobody.
    const before = msgs.length;
    for (const sub of subs) {
      const candle = { time: 1, open: '1', high: '1', low: '1', close: '1', volume: '0', quoteVolume: '0', trades: 0, closed: true };
      await t.redis.publish(t.keys.events(), JSON.stringify({ type: 'closed', ...sub, candle }));
    }
    await sleep(300);
    expect(msgs.slice(before)).toEqual([]);
    ws.close();
  });

  it('leaves the data in Redis as it was: the same keys, values and pairs, every candle valid', async () => {
    onTestFailed(() => console.error(`fuzz failed: rerun with FUZZ_SEED=${seed}`));
    const after = await dataKeys();
    expect([...after.keys()]).toEqual([...before.keys()]);
    for (const [k, v] of after) expect(v, k).toBe(before.get(k));
    expect((await t.redis.smembers(t.keys.pairs())).sort()).toEqual(['BTC_USDT', 'ETH_USDT']);
    for (const k of after.keys()) {
      if (!k.includes(':candles:')) continue;
      const members = await t.redis.zrange(k, '0', '-1', 'WITHSCORES');
      for (let i = 0; i < members.length; i += 2) {
        const c = candleSchema.omit({ closed: true }).safeParse(JSON.parse(members[i]!));
        expect(c.success, `${k}: ${members[i]}`).toBe(true);
        expect(c.data?.time, k).toBe(Number(members[i + 1]));
      }
    }
  });
});

const SERVER_TYPES = new Set(['subscribed', 'unsubscribed', 'candle', 'error']);

function checkServerMessage(text: string, isBinary: boolean): string | undefined {
  if (isBinary) return 'a binary message from the server';
  let m: { type?: unknown; message?: unknown; candle?: unknown };
  try {
    m = JSON.parse(text) as typeof m;
  } catch {
    return `not JSON: ${text.slice(0, 100)}`;
  }
  if (!SERVER_TYPES.has(m.type as string)) return `unknown type: ${text.slice(0, 100)}`;
  if (m.type === 'error' && typeof m.message !== 'string') return `an error without a message: ${text.slice(0, 100)}`;
  if (m.type === 'candle' && !candleSchema.safeParse(m.candle).success) return `a candle off its schema: ${text.slice(0, 200)}`;
  return undefined;
}
