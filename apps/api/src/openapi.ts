/**
 * `GET /openapi.json`: an OpenAPI 3.1 description generated at start from
 * the zod schemas the API validates requests with (routes/candles-query.ts)
 * and answers with (schemas.ts), so the document cannot drift from the code.
 */
import { z } from 'zod';
import type { Period } from '@candlestack/shared';
import { CANDLE_FORMATS, DEFAULT_LIMIT, MAX_LIMIT, candlesQuery } from './routes/candles-query.js';
import { DEFAULT_TRADES, MAX_TRADES, tradesQuery } from './routes/trades.js';
import { DEFAULT_AUDIT_LIMIT } from './routes/audit.js';
import { AUDIT_KEEP } from '@candlestack/shared';
import {
  auditResponse,
  exchangeCandleSchema,
  candleRowSchema,
  candleRowsResponse,
  candleSchema,
  candlesResponse,
  errorBody,
  healthResponse,
  pairHistorySchema,
  pairsResponse,
  readyResponse,
  sourceSchema,
  tradeSchema,
  tradesResponse,
} from './schemas.js';

type Json = Record<string, unknown>;

const TIME_SCHEMA: Json = {
  oneOf: [
    { type: 'integer', minimum: 0, description: 'ms since the epoch (not seconds: 1 to 99999999999 is refused)' },
    { type: 'string', description: 'ISO 8601, UTC when no offset (2024-01-01T00:00:00Z)' },
  ],
};

/**
 * The query parameters as a client should send them (a limit is a number,
 * a format one of a few words), where the zod schemas of the routes read
 * them from the query string's text. Typed by those schemas' keys, so a
 * parameter added there and not here does not compile; the bounds and
 * words are the routes' own constants.
 */
const CANDLE_PARAMS: Record<keyof typeof candlesQuery.shape, { description: string; schema: Json }> = {
  limit: {
    description: `How many candles, 1 to ${MAX_LIMIT} (default ${DEFAULT_LIMIT}): with \`from\` the first ones from there, else the newest.`,
    schema: { type: 'integer', minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT },
  },
  from: {
    description: 'Inclusive bucket start: ms since the epoch or ISO 8601 (UTC when no offset). A whole number from 1 to 99999999999 looks like seconds and is refused.',
    schema: TIME_SCHEMA,
  },
  to: {
    description: 'Exclusive bucket start: ms since the epoch or ISO 8601, read like `from`. When it is in the past, no forming candle.',
    schema: TIME_SCHEMA,
  },
  format: {
    description: '`json` (default): candle objects; `csv` (header time,open,high,low,close,volume,quoteVolume,trades,closed); `array`: JSON rows in the order of the CSV columns.',
    schema: { type: 'string', enum: [...CANDLE_FORMATS], default: 'json' },
  },
};

const TRADE_PARAMS: Record<keyof typeof tradesQuery.shape, { description: string; schema: Json }> = {
  limit: {
    description: `How many trades, 1 to ${MAX_TRADES} (default ${DEFAULT_TRADES}): with \`from\` the first ones from there, else the newest.`,
    schema: { type: 'integer', minimum: 1, maximum: MAX_TRADES, default: DEFAULT_TRADES },
  },
  from: {
    description: 'Inclusive trade time: ms since the epoch or ISO 8601 (UTC when no offset). A whole number from 1 to 99999999999 looks like seconds and is refused.',
    schema: TIME_SCHEMA,
  },
  to: { description: 'Exclusive trade time, read like `from`.', schema: TIME_SCHEMA },
};

const queryParams = (params: Record<string, { description: string; schema: Json }>) =>
  Object.entries(params).map(([name, p]) => ({ name, in: 'query', required: false, ...p }));

export function openApiDocument(periods: readonly Period[]): Json {
  // Every response schema is registered once under components and referenced.
  const registry = z.registry<{ id: string }>();
  for (const s of [auditResponse, exchangeCandleSchema, candleSchema, sourceSchema, candlesResponse, candleRowSchema, candleRowsResponse, tradeSchema, tradesResponse, pairHistorySchema, pairsResponse, errorBody, healthResponse, readyResponse]) {
    const id = (s.meta() as { id?: string } | undefined)?.id;
    if (id) registry.add(s, { id });
  }
  const components = z.toJSONSchema(registry, { uri: (id) => `#/components/schemas/${id}`, target: 'draft-2020-12' }) as {
    schemas: Record<string, Json>;
  };
  for (const s of Object.values(components.schemas)) {
    delete s.$schema;
    delete s.$id;
  }

  const ref = (id: string) => ({ $ref: `#/components/schemas/${id}` });
  const json = (id: string, description: string) => ({ description, content: { 'application/json': { schema: ref(id) } } });
  const error = (description: string) => json('Error', description);
  const pairParam = { name: 'pair', in: 'path', required: true, description: 'BTC_USDT (also btc_usdt, BTC-USDT, BTC%2FUSDT)', schema: { type: 'string' } };
  /**
   * What any request may be refused with before a route (guards/*,
   * client-error.ts, errors.ts), each with the JSON error body. `limited`:
   * the route counts against RATE_LIMIT (the probes and the scrape do not).
   */
  const refusals = (limited: boolean) => ({
    400: error('A malformed request (e.g. HTTP/1.1 without Host)'),
    408: error('The request took too long to arrive'),
    411: error('A request body of unknown length'),
    413: error('A request body over 1 KiB'),
    414: error('A URL over 8 KiB'),
    ...(limited && {
      429: {
        ...error('More than RATE_LIMIT requests in a minute from this client'),
        headers: { 'Retry-After': { description: 'Seconds until the budget refills', schema: { type: 'integer' } } },
      },
    }),
    431: error('Request headers over 16 KiB'),
    500: error('An internal error (the details are in the log)'),
  });
  const unavailable = error('Redis is unavailable; try again shortly');
  const text = (description: string, type = 'text/plain') => ({ description, content: { [type]: { schema: { type: 'string' } } } });

  return {
    openapi: '3.1.0',
    info: {
      title: 'Candlestack',
      version: '0.1.0',
      description: 'OHLCV candles built from exchange trades. Prices and volumes are exact decimal strings; times are ms since the epoch, UTC.',
    },
    paths: {
      '/candles/{pair}/{period}': {
        get: {
          operationId: 'getCandles',
          summary: 'Candles of one pair and period, oldest first',
          parameters: [
            pairParam,
            { name: 'period', in: 'path', required: true, description: 'One of the periods built', schema: { type: 'string', enum: periods.map((p) => p.label) } },
            ...queryParams(CANDLE_PARAMS),
          ],
          responses: {
            200: {
              description: 'The candles: objects (format=json), rows (format=array) or CSV (format=csv), compressed (br, gzip) as the client accepts',
              headers: {
                ETag: { description: 'ETag of the body (weak when compressed, the same tag); send it back in If-None-Match for a 304', schema: { type: 'string' } },
                'Cache-Control': {
                  description: '`public, max-age=86400` for a window no trade can change any more (it ended over MAX_LATE + 60 s ago), else `no-cache`',
                  schema: { type: 'string' },
                },
              },
              content: {
                'application/json': { schema: { oneOf: [ref('CandlesResponse'), ref('CandleRowsResponse')] } },
                'text/csv': { schema: { type: 'string' } },
              },
            },
            304: { description: 'Not modified: If-None-Match matched the ETag' },
            ...refusals(true),
            400: error('A bad parameter (from or to that looks like seconds says so), or a period malformed or not built (the message lists the periods built)'),
            404: error('An unknown pair'),
            503: unavailable,
          },
        },
      },
      '/trades/{pair}': {
        get: {
          operationId: 'getTrades',
          summary: 'The trades of one pair still retained (TICK_RETENTION), oldest first',
          parameters: [pairParam, ...queryParams(TRADE_PARAMS)],
          responses: {
            200: json('TradesResponse', 'The trades'),
            ...refusals(true),
            400: error('A bad parameter'),
            404: error('An unknown pair'),
            503: unavailable,
          },
        },
      },
      '/pairs': {
        get: {
          operationId: 'listPairs',
          summary: 'The pairs and periods served, and the source',
          responses: { 200: json('PairsResponse', 'Pairs, periods, source'), ...refusals(true), 503: unavailable },
        },
      },
      '/healthz': { get: { operationId: 'getHealth', summary: 'The process is up', responses: { 200: json('Health', 'Up'), ...refusals(false) } } },
      '/readyz': {
        get: {
          operationId: 'getReadiness',
          summary: 'Redis answers, the source is connected (or its replay done), the close jobs are on time',
          responses: { 200: json('Readiness', 'Ready'), ...refusals(false), 503: json('Readiness', 'Not ready, with the reasons') },
        },
      },
      '/admin/dead-letter': {
        get: {
          operationId: 'getDeadLetters',
          summary: 'Malformed input set aside by the ingester, newest first, with the reason (admin access rule as the board)',
          parameters: [{ name: 'limit', in: 'query', required: false, description: '1 to 1000, default 50', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 50 } }],
          responses: {
            200: { description: 'total and entries [{id, at, source, reason, sample}]', content: { 'application/json': { schema: { type: 'object' } } } },
            ...refusals(true),
            400: error('A bad limit'),
            401: error('Credentials needed (ADMIN_USER, ADMIN_PASSWORD)'),
            403: error('Another site\'s request, or an open board reached by a name other than loopback'),
            503: unavailable,
          },
        },
      },
      '/admin/audit': {
        get: {
          operationId: 'getAuditDifferences',
          summary: "Closed candles that differ from the exchange's own, newest first, both side by side (admin access rule as the board)",
          parameters: [
            {
              name: 'limit',
              in: 'query',
              required: false,
              description: `1 to ${AUDIT_KEEP}, default ${DEFAULT_AUDIT_LIMIT}`,
              schema: { type: 'integer', minimum: 1, maximum: AUDIT_KEEP, default: DEFAULT_AUDIT_LIMIT },
            },
          ],
          responses: {
            200: json('AuditResponse', 'The differences kept'),
            ...refusals(true),
            400: error('A bad limit'),
            401: error('Credentials needed (ADMIN_USER, ADMIN_PASSWORD)'),
            403: error("Another site's request, or an open board reached by a name other than loopback"),
            503: unavailable,
          },
        },
      },
      '/metrics': { get: { operationId: 'getMetrics', summary: 'Prometheus metrics', responses: { 200: text('Prometheus text'), ...refusals(false) } } },
      '/openapi.json': {
        get: {
          operationId: 'getOpenApi',
          summary: 'This document',
          responses: { 200: { description: 'OpenAPI 3.1', content: { 'application/json': { schema: { type: 'object' } } } }, ...refusals(true) },
        },
      },
    },
    components,
  };
}
