/**
 * The API under random and hostile input, as any client could send it:
 * thousands of HTTP requests (odd methods, paths, pairs, periods, query
 * strings, headers, bodies) and WebSocket messages (wrong types, deep or
 * huge JSON, binary frames, subscribe/unsubscribe bursts), as fast-check
 * properties: a failure is shrunk to the fewest requests or messages that
 * still fail and prints how to replay it (FUZZ_SEED, FUZZ_PATH).
 * The API must stay up, answer every request below 500 (a 4xx with the JSON
 * error body), and leave the data in Redis exactly as it was.
 */
import WebSocket from 'ws';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUDIT_QUEUE, CLOSE_QUEUE } from '@candlestack/shared';
import { chance, either, fuzzParams } from '../../../test/support/fuzz.js';
import { sleep, waitFor } from '../../../test/support/wait.js';
import { candleSchema, candlesResponse } from '../src/schemas.js';
import { fuzzMessage, fuzzRequest, requestText, type FuzzRequest } from './fuzz-inputs.js';
import { startTestApi, type TestApi } from './helpers.js';
import { PAIR, seedMarket } from './market.js';
import { rawRequest, type RawResponse } from './raw-http.js';

/** Runs of up to CONCURRENCY requests sent at once: about 3000 requests. */
const HTTP_RUNS = 375;
const CONCURRENCY = 16;
/** Runs of up to WS_CLIENTS clients at once, each sending up to WS_MESSAGES messages. */
const WS_RUNS = 6;
const WS_CLIENTS = 8;
const WS_MESSAGES = 100;
const BURST_RUNS = 5;

let t: TestApi;
/** Every key of the test's prefix but BullMQ's (the close and audit queues), with its DUMP, before the fuzz. */
let before: Map<string, string>;

async function dataKeys(): Promise<Map<string, string>> {
  const keys = await t.redis.keys(`${t.prefix}:*`);
  const out = new Map<string, string>();
  for (const k of keys.filter((k) => ![CLOSE_QUEUE, AUDIT_QUEUE].some((q) => k.startsWith(`${t.keys.bullPrefix(q)}:`))).sort()) {
    out.set(k, (await t.redis.dumpBuffer(k))?.toString('base64') ?? '');
  }
  return out;
}

beforeAll(async () => {
  // Bursts of hundreds of subscribe/unsubscribe on one connection: no
  // churn limit here (live.test.ts tests it), or the final state would
  // depend on which messages the limit refused.
  t = await startTestApi({ RATE_LIMIT: '0' }, { liveLimits: { opsPerSecond: 1e9, opsBurst: 1e9 } });
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

/** One WebSocket message as a client sends it: random bytes as a binary frame or as text that may not be UTF-8, now and then a pause. */
const wsSend = fc.record({
  msg: fuzzMessage,
  binary: chance(70),
  pauseMs: either(10, fc.integer({ min: 0, max: 5 }), fc.constant(0)),
});

const SUBS = [
  { pair: PAIR, period: '1m' },
  { pair: 'ETH_USDT', period: '5m' },
] as const;

/** Bursts (of up to 50, within the limit of 64 messages waiting for an answer) of subscribe and unsubscribe. */
const bursts = fc.array(
  fc.array(fc.record({ op: fc.constantFrom('subscribe', 'unsubscribe'), sub: fc.constantFrom(...SUBS) }), { minLength: 1, maxLength: 50, size: 'max' }),
  { minLength: 1, maxLength: 6 },
);

type ServerMessage = { type: string; pair?: string; period?: string; message?: string };

/** A client that records every message the server sends it. */
async function client(): Promise<{ ws: WebSocket; msgs: ServerMessage[] }> {
  const ws = new WebSocket(`${t.api.url.replace('http', 'ws')}/ws`);
  const msgs: ServerMessage[] = [];
  ws.on('message', (d) => msgs.push(JSON.parse(d.toString()) as ServerMessage));
  await new Promise((resolve) => ws.once('open', resolve));
  return { ws, msgs };
}

describe('fuzz', () => {
  it('HTTP: every answer below 500, every 4xx with the JSON error body', async () => {
    const host = new URL(t.api.url).host;
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(fc.array(fuzzRequest(host), { minLength: 1, maxLength: CONCURRENCY, size: 'max' }), async (requests) => {
        // All at once, as many clients would send them.
        const wrong = await Promise.all(
          requests.map(async (r) => {
            const what = `${r.method} ${r.target.slice(0, 120)}${r.body ? ` (+${r.body.length} chars)` : ''}`;
            let res: RawResponse;
            try {
              res = await rawRequest(t.api.url, requestText(r));
            } catch (e) {
              return `${what}: ${(e as Error).message}`;
            }
            statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
            const problem = check(r, res);
            return problem && `${what}: ${problem}: ${res.body.slice(0, 200)}`;
          }),
        );
        const first = wrong.find((w) => w !== undefined);
        if (first) throw new Error(first);
      }),
      fuzzParams(HTTP_RUNS),
    );
    // The run reached the routes, not only the 404.
    expect([...statuses.keys()]).toEqual(expect.arrayContaining([200, 400, 404, 405]));
    expect((await t.fetch('/healthz')).status).toBe(200);
  });

  it('WebSocket: every message answered in protocol, oversized ones closed, the server unharmed', async () => {
    const wsUrl = `${t.api.url.replace('http', 'ws')}/ws`;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(wsSend, { maxLength: WS_MESSAGES, size: 'max' }), { minLength: 1, maxLength: WS_CLIENTS }), async (sessions) => {
        const failures: string[] = [];
        const codes = await Promise.all(
          sessions.map(async (sends, i) => {
            const ws = new WebSocket(wsUrl);
            const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
            ws.on('error', () => undefined);
            ws.on('message', (data, isBinary) => {
              const problem = checkServerMessage(data.toString(), isBinary);
              if (problem) failures.push(`client ${i}: ${problem}`);
            });
            await new Promise((resolve) => ws.once('open', resolve));
            for (const { msg, binary, pauseMs } of sends) {
              if (ws.readyState !== WebSocket.OPEN) break;
              ws.send(msg, { binary: typeof msg !== 'string' && binary });
              if (pauseMs > 0) await sleep(pauseMs);
            }
            await sleep(300);
            ws.close();
            return closed;
          }),
        );
        if (failures.length > 0) throw new Error(failures.slice(0, 5).join('\n'));
        // A normal close, 1007 for text that is not UTF-8, 1009 for a message over the size limit; nothing else.
        const odd = codes.filter((c) => ![1000, 1005, 1007, 1009].includes(c));
        if (odd.length > 0) throw new Error(`closed with ${odd.join(', ')}`);
      }),
      fuzzParams(WS_RUNS),
    );
    // Still serving, and a new client gets its subscription and candle.
    expect((await t.fetch('/healthz')).status).toBe(200);
    const { ws, msgs } = await client();
    ws.send(JSON.stringify({ op: 'subscribe', pair: PAIR, period: '1m' }));
    await waitFor(() => msgs.some((m) => m.type === 'subscribed') && msgs.some((m) => m.type === 'candle'), 'subscribed and a candle after the fuzz', 5000);
    ws.close();
  });

  it('WebSocket: a burst of subscribe/unsubscribe ends in the state its last message asked for', async () => {
    await fc.assert(
      fc.asyncProperty(bursts, async (sequence) => {
        const { ws, msgs } = await client();
        try {
          // Every message gets exactly one answer (an ack or an error); candles come besides.
          const answers = () => msgs.filter((m) => m.type !== 'candle').length;
          let sent = 0;
          const send = (op: string, sub: (typeof SUBS)[number]) => {
            ws.send(JSON.stringify({ op, ...sub }));
            sent++;
          };
          for (const burst of sequence) {
            for (const { op, sub } of burst) send(op, sub);
            await waitFor(() => answers() === sent, `answers to ${sent} messages`, 5000);
          }
          // Each pair ends unsubscribed, whatever came before: subscribe (or
          // fail: already subscribed), then unsubscribe.
          for (const sub of SUBS) {
            send('subscribe', sub);
            send('unsubscribe', sub);
          }
          await waitFor(() => answers() === sent, `answers to ${sent} messages`, 5000);
          // The acknowledgements alternate per pair: never two subscribed (or unsubscribed) in a row.
          for (const sub of SUBS) {
            const acks = msgs.filter((m) => (m.type === 'subscribed' || m.type === 'unsubscribed') && m.pair === sub.pair).map((m) => m.type);
            if (acks.at(-1) !== 'unsubscribed') throw new Error(`${sub.pair}: the last ack is ${acks.at(-1)}`);
            for (let i = 1; i < acks.length; i++) {
              if (acks[i] === acks[i - 1]) throw new Error(`${sub.pair}: two ${acks[i]} in a row: ${acks.slice(Math.max(0, i - 3), i + 1).join(' ')}`);
            }
          }
          // Unsubscribed for good: a closed candle now reaches nobody.
          const before = msgs.length;
          for (const sub of SUBS) {
            const candle = { time: 1, open: '1', high: '1', low: '1', close: '1', volume: '0', quoteVolume: '0', trades: 0, closed: true };
            await t.redis.publish(t.keys.events(), JSON.stringify({ type: 'closed', ...sub, candle }));
          }
          await sleep(150);
          if (msgs.length > before) throw new Error(`after unsubscribing: ${JSON.stringify(msgs.slice(before))}`);
        } finally {
          ws.close();
        }
      }),
      fuzzParams(BURST_RUNS),
    );
  });

  it('WebSocket: past 64 messages waiting for an answer, each extra one gets an error at once, and the connection stays', async () => {
    const { ws, msgs } = await client();
    for (let i = 0; i < 200; i++) ws.send(JSON.stringify({ op: 'unsubscribe', ...SUBS[0] }));
    await waitFor(() => msgs.length === 200, 'answers to 200 messages', 5000);
    expect(msgs.some((m) => m.type === 'error' && /more than 64 messages waiting/.test(m.message ?? ''))).toBe(true);
    expect(ws.readyState).toBe(WebSocket.OPEN);
    ws.close();
  });

  it('leaves the data in Redis as it was: the same keys, values and pairs, every candle valid', async () => {
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
