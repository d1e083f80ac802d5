/**
 * Random and hostile HTTP requests and WebSocket messages for fuzz.test.ts,
 * all drawn from one seeded Rng.
 */
import { hostile, randomJson, type Rng } from '../../../test/support/fuzz.js';

export interface FuzzRequest {
  readonly method: string;
  /** The request target, exactly as sent (not normalised, not encoded). */
  readonly target: string;
  readonly headers: readonly string[];
  readonly body: string;
}

const METHODS = ['GET', 'GET', 'GET', 'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'PROPFIND', 'M-SEARCH', 'BREW', 'get', 'G\u00c9T', 'CONNECT'];
const ROUTES = [
  '/candles',
  '/pairs',
  '/healthz',
  '/readyz',
  '/metrics',
  '/openapi.json',
  '/',
  '/dashboard.js',
  '/vendor/lightweight-charts.js',
  '/ws',
  '/admin/queues',
  '/admin/queues/api/queues',
  '/admin/queues/api/redis/stats',
  '/admin/queues/api/queues/close/jobs',
  '/admin/dead-letter',
];
const PAIRS = ['BTC_USDT', 'btc_usdt', 'BTC-USDT', 'BTC%2FUSDT', 'BTC/USDT', 'ETH_USDT', 'ZZZ_USDT', 'BTCUSDT', 'BTC__USDT', '_', 'A_B'];
const PERIODS = ['1m', '5m', '60s', '300s', '1h', '7m', '0m', '-1m', '1M', '1e3m', '1.5m', '99999999999999999999m', 'm', '1', '1d'];
const QUERY_KEYS = ['limit', 'from', 'to', 'format', 'limit', 'from', '__proto__', '__proto__[limit]', 'constructor', 'a[b]', 'limit[]', ''];
const QUERY_VALUES = ['1', '100', '5000', '5001', '0', 'csv', 'json', 'CSV', '1704067200000', '2024-01-01T00:00:00Z', '1704067500000'];

/** Percent-encodes some characters, and some not at all (raw bytes, spaces, controls). */
function encodeSome(rng: Rng, s: string): string {
  if (rng.chance(0.3)) return s;
  if (rng.chance(0.2)) return [...s].map((c) => (rng.chance(0.5) ? encodeURIComponent(c) : c)).join('');
  return encodeURIComponent(s);
}

function segment(rng: Rng): string {
  return rng.pick<() => string>([
    () => encodeSome(rng, hostile(rng)),
    () => rng.pick(['..', '.', '', '%2e%2e', '%2F', '%00', '%E0%A4%A', '%C0%AF', '%ff', '\\', ';x=1']),
    () => 'x'.repeat(rng.pick([100, 1000, 9000])),
  ])();
}

function path(rng: Rng): string {
  const r = rng.next();
  if (r < 0.45) {
    const pair = rng.chance(0.7) ? rng.pick(PAIRS) : segment(rng);
    const period = rng.chance(0.7) ? rng.pick(PERIODS) : segment(rng);
    return `/candles/${pair}/${period}`;
  }
  if (r < 0.75) return rng.pick(ROUTES) + (rng.chance(0.2) ? `/${segment(rng)}` : '');
  if (r < 0.85) return rng.pick(ROUTES).toUpperCase();
  return `/${Array.from({ length: rng.int(1, 4) }, () => segment(rng)).join('/')}`;
}

function query(rng: Rng): string {
  if (rng.chance(0.3)) return '';
  const parts = Array.from({ length: rng.int(1, 6) }, () => {
    const key = rng.chance(0.8) ? rng.pick(QUERY_KEYS) : encodeSome(rng, hostile(rng));
    const value = rng.chance(0.4) ? rng.pick(QUERY_VALUES) : encodeSome(rng, hostile(rng));
    return rng.chance(0.05) ? key : `${key}=${value}`;
  });
  if (rng.chance(0.05)) parts.push(`from=${'9'.repeat(rng.pick([20, 400, 8300]))}`);
  return `?${parts.join(rng.chance(0.9) ? '&' : ';')}`;
}

function headers(rng: Rng, host: string): string[] {
  const h: string[] = [];
  if (rng.chance(0.97)) h.push(`Host: ${rng.chance(0.95) ? host : hostile(rng).replace(/[\r\n]/g, '')}`);
  if (rng.chance(0.2)) h.push(`Origin: ${rng.pick(['https://evil.example', 'null', `http://${host}`, hostile(rng).replace(/[\r\n]/g, '')])}`);
  if (rng.chance(0.2)) h.push(`Authorization: ${rng.pick(['Basic ', 'Bearer ', ''])}${Buffer.from(hostile(rng)).toString(rng.pick(['base64', 'utf8']))}`.replace(/[\r\n]/g, ''));
  if (rng.chance(0.1)) h.push(`Accept: ${rng.pick(['text/csv', '*/*', 'application/json;q=0', hostile(rng).replace(/[\r\n]/g, '')])}`);
  if (rng.chance(0.05)) h.push(`X-Forwarded-For: ${rng.pick(['1.2.3.4', 'evil', '::1, 10.0.0.1'])}`);
  if (rng.chance(0.03)) h.push(`X-Big: ${'a'.repeat(rng.pick([1000, 17_000]))}`);
  // A WebSocket handshake gone wrong (never a valid one: it would stay open).
  if (rng.chance(0.05)) {
    h.push(`Upgrade: ${rng.pick(['websocket', 'h2c', 'WebSocket', hostile(rng).replace(/[\r\n]/g, '')])}`);
    h.push(`Sec-WebSocket-Version: ${rng.pick(['13', '8', '', 'x'])}`);
    if (rng.chance(0.5)) h.push(`Sec-WebSocket-Key: ${rng.pick(['short', '', hostile(rng).replace(/[\r\n]/g, '')])}`);
  }
  return h;
}

export function fuzzRequest(rng: Rng, host: string): FuzzRequest {
  const body = rng.chance(0.1) ? rng.unicode(rng.pick([1, 10, 500, 1100, 2000])) : '';
  return { method: rng.pick(METHODS), target: path(rng) + query(rng), headers: headers(rng, host), body };
}

export function requestText(r: FuzzRequest): Buffer {
  const body = Buffer.from(r.body);
  const length = body.length > 0 ? [`Content-Length: ${body.length}`] : [];
  const connection = r.headers.some((h) => h.startsWith('Upgrade:')) ? 'Connection: Upgrade, close' : 'Connection: close';
  const head = [`${r.method} ${r.target} HTTP/1.1`, ...r.headers, ...length, connection, '', ''].join('\r\n');
  return Buffer.concat([Buffer.from(head), body]);
}

/** One WebSocket message: JSON text (good, bad, deep, huge), non-JSON text, or binary. */
export function fuzzMessage(rng: Rng): string | Buffer {
  const r = rng.next();
  if (r < 0.35) {
    return JSON.stringify({
      op: rng.chance(0.7) ? rng.pick(['subscribe', 'unsubscribe']) : randomJson(rng, 1),
      pair: rng.chance(0.6) ? rng.pick(PAIRS) : randomJson(rng, 1),
      period: rng.chance(0.6) ? rng.pick(PERIODS) : randomJson(rng, 1),
      ...(rng.chance(0.2) ? { extra: randomJson(rng, 2) } : {}),
    });
  }
  if (r < 0.6) return JSON.stringify(randomJson(rng, 4)) ?? 'null';
  if (r < 0.7) return '['.repeat(2000) + ']'.repeat(2000);
  if (r < 0.75) return JSON.stringify({ op: 'subscribe', pair: 'BTC_USDT', period: '1m', pad: 'x'.repeat(rng.pick([4000, 5000, 100_000])) });
  if (r < 0.85) return hostile(rng);
  return Buffer.from(Array.from({ length: rng.int(0, 64) }, () => rng.int(0, 255)));
}
