/**
 * Random and hostile HTTP requests and WebSocket messages for fuzz.test.ts,
 * as fast-check arbitraries.
 */
import fc from 'fast-check';
import { chance, either, hostile, randomJson, unicode } from '../../../test/support/fuzz.js';

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
  '/trades',
  '/trades/BTC_USDT',
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
  '/admin/audit',
];
const PAIRS = ['BTC_USDT', 'btc_usdt', 'BTC-USDT', 'BTC%2FUSDT', 'BTC/USDT', 'ETH_USDT', 'ZZZ_USDT', 'BTCUSDT', 'BTC__USDT', '_', 'A_B'];
const PERIODS = ['1m', '5m', '60s', '300s', '1h', '7m', '0m', '-1m', '1M', '1e3m', '1.5m', '99999999999999999999m', 'm', '1', '1d'];
const QUERY_KEYS = ['limit', 'from', 'to', 'format', 'limit', 'from', '__proto__', '__proto__[limit]', 'constructor', 'a[b]', 'limit[]', ''];
const QUERY_VALUES = ['1', '100', '5000', '5001', '0', 'csv', 'json', 'CSV', '1704067200000', '2024-01-01T00:00:00Z', '1704067500000', '1704067200', '2024-01-01T00:00:00', '2024-02-30'];

/** Percent-encodes some characters, and some not at all (raw bytes, spaces, controls). */
function encodedSome(text: fc.Arbitrary<string>): fc.Arbitrary<string> {
  const someChars = text.chain((s) => {
    const chars = [...s];
    return fc.array(fc.boolean(), { minLength: chars.length, maxLength: chars.length }).map((flags) => chars.map((c, i) => (flags[i] ? encodeURIComponent(c) : c)).join(''));
  });
  return fc.oneof({ weight: 30, arbitrary: text }, { weight: 14, arbitrary: someChars }, { weight: 56, arbitrary: text.map(encodeURIComponent) });
}

/** A header value: no CR or LF, which would end the header. */
const oneLine = (text: fc.Arbitrary<string>) => text.map((s) => s.replace(/[\r\n]/g, ''));

const segment = fc.oneof(
  encodedSome(hostile),
  fc.constantFrom('..', '.', '', '%2e%2e', '%2F', '%00', '%E0%A4%A', '%C0%AF', '%ff', '\\', ';x=1'),
  fc.constantFrom(100, 1000, 9000).map((n) => 'x'.repeat(n)),
);

const route = fc.constantFrom(...ROUTES);

const path = fc.oneof(
  {
    weight: 45,
    arbitrary: fc
      .tuple(either(70, fc.constantFrom(...PAIRS), segment), either(70, fc.constantFrom(...PERIODS), segment))
      .map(([pair, period]) => `/candles/${pair}/${period}`),
  },
  { weight: 10, arbitrary: either(70, fc.constantFrom(...PAIRS), segment).map((pair) => `/trades/${pair}`) },
  { weight: 30, arbitrary: fc.tuple(route, either(20, segment.map((s) => `/${s}`), fc.constant(''))).map(([r, tail]) => r + tail) },
  { weight: 10, arbitrary: route.map((r) => r.toUpperCase()) },
  { weight: 15, arbitrary: fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => `/${s.join('/')}`) },
);

const queryPart = fc
  .tuple(either(80, fc.constantFrom(...QUERY_KEYS), encodedSome(hostile)), either(40, fc.constantFrom(...QUERY_VALUES), encodedSome(hostile)), chance(5))
  .map(([key, value, bare]) => (bare ? key : `${key}=${value}`));

const query = either(
  30,
  fc.constant(''),
  fc
    .record({
      parts: fc.array(queryPart, { minLength: 1, maxLength: 6 }),
      huge: either(5, fc.constantFrom(20, 400, 8300).map((n) => [`from=${'9'.repeat(n)}`]), fc.constant([])),
      sep: either(90, fc.constant('&'), fc.constant(';')),
    })
    .map(({ parts, huge, sep }) => `?${[...parts, ...huge].join(sep)}`),
);

/** `header` `percent` times in 100, else none. */
const maybe = (percent: number, header: fc.Arbitrary<string | string[]>) => either(percent, header, fc.constant([]));

function headers(host: string): fc.Arbitrary<string[]> {
  return fc
    .tuple(
      maybe(97, either(95, fc.constant(host), oneLine(hostile)).map((h) => `Host: ${h}`)),
      maybe(20, either(75, fc.constantFrom('https://evil.example', 'null', `http://${host}`), oneLine(hostile)).map((o) => `Origin: ${o}`)),
      maybe(
        20,
        fc
          .tuple(fc.constantFrom('Basic ', 'Bearer ', ''), hostile, fc.constantFrom('base64', 'utf8') as fc.Arbitrary<BufferEncoding>)
          .map(([scheme, s, enc]) => `Authorization: ${scheme}${Buffer.from(s).toString(enc)}`.replace(/[\r\n]/g, '')),
      ),
      maybe(10, either(75, fc.constantFrom('text/csv', '*/*', 'application/json;q=0'), oneLine(hostile)).map((a) => `Accept: ${a}`)),
      maybe(5, fc.constantFrom('1.2.3.4', 'evil', '::1, 10.0.0.1').map((x) => `X-Forwarded-For: ${x}`)),
      maybe(3, fc.constantFrom(1000, 17_000).map((n) => `X-Big: ${'a'.repeat(n)}`)),
      // A WebSocket handshake gone wrong (never a valid one: it would stay open).
      maybe(
        5,
        fc
          .tuple(
            either(75, fc.constantFrom('websocket', 'h2c', 'WebSocket'), oneLine(hostile)),
            fc.constantFrom('13', '8', '', 'x'),
            maybe(50, either(67, fc.constantFrom('short', ''), oneLine(hostile)).map((k) => `Sec-WebSocket-Key: ${k}`)),
          )
          .map(([upgrade, version, key]) => [`Upgrade: ${upgrade}`, `Sec-WebSocket-Version: ${version}`, ...[key].flat()]),
      ),
    )
    .map((hs) => hs.flat());
}

export function fuzzRequest(host: string): fc.Arbitrary<FuzzRequest> {
  const body = either(10, fc.constantFrom(1, 10, 500, 1100, 2000).chain((n) => unicode(n, n)), fc.constant(''));
  return fc.record({ method: fc.constantFrom(...METHODS), target: fc.tuple(path, query).map(([p, q]) => p + q), headers: headers(host), body });
}

export function requestText(r: FuzzRequest): Buffer {
  const body = Buffer.from(r.body);
  const length = body.length > 0 ? [`Content-Length: ${body.length}`] : [];
  const connection = r.headers.some((h) => h.startsWith('Upgrade:')) ? 'Connection: Upgrade, close' : 'Connection: close';
  const head = [`${r.method} ${r.target} HTTP/1.1`, ...r.headers, ...length, connection, '', ''].join('\r\n');
  return Buffer.concat([Buffer.from(head), body]);
}

const subscribeLike = fc
  .record({
    op: either(70, fc.constantFrom('subscribe', 'unsubscribe'), randomJson(1)),
    pair: either(60, fc.constantFrom(...PAIRS), randomJson(1)),
    period: either(60, fc.constantFrom(...PERIODS), randomJson(1)),
    more: either(20, randomJson(2).map((extra) => ({ extra })), fc.constant({})),
  })
  .map(({ more, ...m }) => JSON.stringify({ ...m, ...more }));

/** One WebSocket message: JSON text (good, bad, deep, huge), non-JSON text, or binary. */
export const fuzzMessage: fc.Arbitrary<string | Buffer> = fc.oneof(
  { weight: 35, arbitrary: subscribeLike },
  { weight: 25, arbitrary: randomJson(4).map((j) => JSON.stringify(j) ?? 'null') },
  { weight: 10, arbitrary: fc.constant('['.repeat(2000) + ']'.repeat(2000)) },
  {
    weight: 5,
    arbitrary: fc.constantFrom(4000, 5000, 100_000).map((n) => JSON.stringify({ op: 'subscribe', pair: 'BTC_USDT', period: '1m', pad: 'x'.repeat(n) })),
  },
  { weight: 10, arbitrary: hostile },
  { weight: 15, arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)) },
);
