/**
 * The WebSocket clients of the `fanout` bench section, in a process of their
 * own (forked by fanout.ts) so that their CPU is not the API's nor the
 * bench's. Two jobs, chosen by the message the parent sends:
 *
 * - `fanout`: `clients` connections subscribe to one pair and period; then,
 *   `events` times, a `closed` event is PUBLISHed on the deployment's
 *   channel (as the worker does) and each client's receipt is timed from
 *   just before the PUBLISH, on this process's monotonic clock. The next
 *   event waits until every client got the previous one (or 5 s).
 * - `churn`: `clients` connections each subscribe to a pair and unsubscribe,
 *   one message in flight per connection, at most one message per
 *   `intervalMs` per connection (0: as fast as they are answered), for
 *   `seconds`; errors (a rate limit) count as answers.
 *
 * The API caps connections per client address (the contract leaves that to
 * the server; 50 today), so connection i binds 127.0.0.(2 + i / 50):
 * every 127/8 address is loopback on Linux.
 */
import { Redis } from 'ioredis';
import WebSocket from 'ws';

export type Job =
  | { job: 'fanout'; url: string; redisUrl: string; channel: string; pair: string; period: string; periodMs: number; clients: number; events: number }
  | { job: 'churn'; url: string; pairs: string[]; period: string; clients: number; seconds: number; intervalMs: number };

/** Sent by the fanout job around its publishes, so the parent can read the API's CPU over them alone. */
export type Phase = { phase: 'publishing' | 'published' };

export type JobResult =
  | { job: 'fanout'; latencies: number[]; missing: number; duplicates: number; publishMs: number[]; clientCpuMs: number; lastMedianMs: number }
  | { job: 'churn'; ok: number; errors: number; seconds: number; errorSample?: string };

const PER_ADDRESS = 50;

function connect(url: string, i: number): Promise<WebSocket> {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/ws`, { localAddress: `127.0.0.${2 + Math.floor(i / PER_ADDRESS)}` });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`connection ${i}: HTTP ${res.statusCode}`)));
  });
}

async function connectAll(url: string, n: number): Promise<WebSocket[]> {
  const out: WebSocket[] = [];
  // 50 handshakes at a time: a burst of 1,000 would overflow the listen backlog.
  for (let i = 0; i < n; i += 50) out.push(...(await Promise.all(Array.from({ length: Math.min(50, n - i) }, (_, j) => connect(url, i + j)))));
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function fanout(j: Extract<Job, { job: 'fanout' }>): Promise<JobResult> {
  const sockets = await connectAll(j.url, j.clients);
  const redis = new Redis(j.redisUrl);
  // For event k (candle time base + k × period): each client's receipt time.
  const base = Math.floor(Date.now() / j.periodMs) * j.periodMs - 1000 * j.periodMs;
  const received: number[][] = sockets.map(() => []);
  const counts: number[] = new Array<number>(j.events).fill(0);
  let duplicates = 0;
  let subscribed = 0;
  sockets.forEach((ws, i) => {
    const times = received[i]!;
    ws.on('message', (data: Buffer) => {
      const at = performance.now();
      const text = data.toString();
      if (text.startsWith('{"type":"subscribed"')) {
        subscribed++;
        return;
      }
      const m = JSON.parse(text) as { type: string; candle?: { time: number; closed: boolean } };
      if (m.type !== 'candle' || !m.candle?.closed) return;
      const k = (m.candle.time - base) / j.periodMs;
      if (!(k >= 0 && k < j.events)) return;
      if (times[k] !== undefined) duplicates++;
      else counts[k]!++;
      times[k] = at;
    });
    ws.send(JSON.stringify({ op: 'subscribe', pair: j.pair, period: j.period }));
  });
  const until = Date.now() + 30_000;
  while (subscribed < j.clients && Date.now() < until) await sleep(20);
  if (subscribed < j.clients) throw new Error(`only ${subscribed} of ${j.clients} clients subscribed`);
  await sleep(500);
  process.send!({ phase: 'publishing' });
  const cpu0 = process.cpuUsage();
  const sentAt: number[] = [];
  const publishMs: number[] = [];
  for (let k = 0; k < j.events; k++) {
    const candle = { time: base + k * j.periodMs, open: '100.5', high: '101.25', low: '99.75', close: '100.125', volume: '12.5', quoteVolume: '1256.5625', trades: 42, closed: true };
    const text = JSON.stringify({ type: 'closed', pair: j.pair, period: j.period, candle });
    sentAt[k] = performance.now();
    await redis.publish(j.channel, text);
    publishMs[k] = performance.now() - sentAt[k]!;
    const wait = Date.now() + 5_000;
    while (counts[k]! < j.clients && Date.now() < wait) await sleep(5);
    await sleep(50 + Math.random() * 50);
  }
  process.send!({ phase: 'published' });
  const cpu = process.cpuUsage(cpu0);
  const clientCpuMs = (cpu.user + cpu.system) / 1000 / j.events;
  const latencies: number[] = [];
  let missing = 0;
  for (const times of received) {
    for (let k = 0; k < j.events; k++) {
      if (times[k] === undefined) missing++;
      else latencies.push(times[k]! - sentAt[k]!);
    }
  }
  // Per event, when its last client got it: the time one broadcast to all takes.
  const lastOf = Array.from({ length: j.events }, (_, k) => Math.max(...received.map((t) => (t[k] ?? -Infinity) - sentAt[k]!))).sort((a, b) => a - b);
  redis.disconnect();
  for (const ws of sockets) ws.terminate();
  return { job: 'fanout', latencies, missing, duplicates, publishMs, clientCpuMs, lastMedianMs: lastOf[lastOf.length >> 1]! };
}

async function churn(j: Extract<Job, { job: 'churn' }>): Promise<JobResult> {
  const sockets = await connectAll(j.url, j.clients);
  let ok = 0;
  let errors = 0;
  let errorSample: string | undefined;
  const started = performance.now();
  const stopAt = started + j.seconds * 1000;
  await Promise.all(
    sockets.map(async (ws, i) => {
      let answer: ((text: string) => void) | undefined;
      ws.on('message', (data: Buffer) => {
        const text = data.toString();
        if (text.startsWith('{"type":"candle"')) return; // the snapshot after "subscribed"
        answer?.(text);
      });
      const ask = (msg: object) =>
        new Promise<void>((resolve) => {
          answer = (text) => {
            if (text.startsWith('{"type":"error"')) {
              errors++;
              errorSample ??= text;
            } else ok++;
            resolve();
          };
          ws.send(JSON.stringify(msg));
        });
      let n = i * 7919;
      let next = performance.now() + Math.random() * j.intervalMs;
      const paced = async (msg: object) => {
        const wait = next - performance.now();
        if (wait > 0) await sleep(wait);
        next = Math.max(next + j.intervalMs, performance.now() - j.intervalMs);
        await ask(msg);
      };
      while (performance.now() < stopAt) {
        const pair = j.pairs[n++ % j.pairs.length]!;
        await paced({ op: 'subscribe', pair, period: j.period });
        await paced({ op: 'unsubscribe', pair, period: j.period });
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  for (const ws of sockets) ws.terminate();
  return { job: 'churn', ok, errors, seconds, errorSample };
}

process.on('message', (job: Job) => {
  (job.job === 'fanout' ? fanout(job) : churn(job)).then(
    (r) => process.send!(r, () => process.exit(0)),
    (err: Error) => {
      process.stderr.write(`fanout clients: ${err.stack ?? err.message}\n`);
      process.exit(1);
    },
  );
});
