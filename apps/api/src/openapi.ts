/**
 * `GET /openapi.json`: an OpenAPI 3.1 description generated at start from
 * the zod schemas the API validates requests with (routes/candles-query.ts)
 * and answers with (schemas.ts), so the document cannot drift from the code.
 */
import { z } from 'zod';
import type { Period } from '@candlestack/shared';
import { candlesQuery } from './routes/candles-query.js';
import { tradesQuery } from './routes/trades.js';
import {
  candleSchema,
  candlesResponse,
  errorBody,
  healthResponse,
  pairsResponse,
  readyResponse,
  sourceSchema,
  tradeSchema,
  tradesResponse,
} from './schemas.js';

type Json = Record<string, unknown>;

const PARAM_DOCS: Record<string, string> = {
  limit: 'How many candles, 1 to 5000 (default 100): with `from` the first ones from there, else the newest.',
  from: 'Inclusive bucket start: ms since the epoch or ISO 8601 (UTC when no offset). A whole number from 1 to 99999999999 looks like seconds and is refused.',
  to: 'Exclusive bucket start: ms since the epoch or ISO 8601, read like `from`. When it is in the past, no forming candle.',
  format: '`json` (default) or `csv` (header time,open,high,low,close,volume,quoteVolume,trades,closed).',
};

const TRADE_PARAM_DOCS: Record<string, string> = {
  limit: 'How many trades, 1 to 1000 (default 100): with `from` the first ones from there, else the newest.',
  from: 'Inclusive trade time: ms since the epoch or ISO 8601 (UTC when no offset). A whole number from 1 to 99999999999 looks like seconds and is refused.',
  to: 'Exclusive trade time, read like `from`.',
};

function schemaOf(s: z.ZodType): Json {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(s, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' }) as Json;
  return rest;
}

export function openApiDocument(periods: readonly Period[]): Json {
  // Every response schema is registered once under components and referenced.
  const registry = z.registry<{ id: string }>();
  for (const s of [candleSchema, sourceSchema, candlesResponse, tradeSchema, tradesResponse, pairsResponse, errorBody, healthResponse, readyResponse]) {
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
  const query = candlesQuery.shape;

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
          summary: 'Candles of one pair and period, oldest first',
          parameters: [
            { name: 'pair', in: 'path', required: true, description: 'BTC_USDT (also btc_usdt, BTC-USDT, BTC%2FUSDT)', schema: { type: 'string' } },
            { name: 'period', in: 'path', required: true, description: 'One of the periods built', schema: { type: 'string', enum: periods.map((p) => p.label) } },
            ...Object.entries(query).map(([name, s]) => ({ name, in: 'query', required: false, description: PARAM_DOCS[name], schema: schemaOf(s as z.ZodType) })),
          ],
          responses: {
            200: {
              description: 'The candles (JSON, or CSV with format=csv)',
              content: { 'application/json': { schema: ref('CandlesResponse') }, 'text/csv': { schema: { type: 'string' } } },
            },
            400: error('A bad parameter, or a period malformed or not built (the message lists the periods built)'),
            404: error('An unknown pair'),
            503: error('Redis is unavailable'),
          },
        },
      },
      '/trades/{pair}': {
        get: {
          summary: 'The trades of one pair still retained (TICK_RETENTION), oldest first',
          parameters: [
            { name: 'pair', in: 'path', required: true, description: 'BTC_USDT (also btc_usdt, BTC-USDT, BTC%2FUSDT)', schema: { type: 'string' } },
            ...Object.entries(tradesQuery.shape).map(([name, s]) => ({ name, in: 'query', required: false, description: TRADE_PARAM_DOCS[name], schema: schemaOf(s as z.ZodType) })),
          ],
          responses: {
            200: json('TradesResponse', 'The trades'),
            400: error('A bad parameter'),
            404: error('An unknown pair'),
            503: error('Redis is unavailable'),
          },
        },
      },
      '/pairs': { get: { summary: 'The pairs and periods served, and the source', responses: { 200: json('PairsResponse', 'Pairs, periods, source') } } },
      '/healthz': { get: { summary: 'The process is up', responses: { 200: json('Health', 'Up') } } },
      '/readyz': {
        get: {
          summary: 'Redis answers, the source is connected (or its replay done), the close jobs are on time',
          responses: { 200: json('Readiness', 'Ready'), 503: json('Readiness', 'Not ready, with the reasons') },
        },
      },
      '/admin/dead-letter': {
        get: {
          summary: 'Malformed input set aside by the ingester, newest first, with the reason (admin access rule as the board)',
          parameters: [{ name: 'limit', in: 'query', required: false, description: '1 to 1000, default 50', schema: { type: 'string', pattern: '^\\d{1,4}$' } }],
          responses: {
            200: { description: 'total and entries [{id, at, source, reason, sample}]', content: { 'application/json': { schema: { type: 'object' } } } },
            400: error('A bad limit'),
            401: error('Credentials needed'),
          },
        },
      },
      '/metrics': { get: { summary: 'Prometheus metrics', responses: { 200: { description: 'Prometheus text', content: { 'text/plain': { schema: { type: 'string' } } } } } } },
      '/openapi.json': { get: { summary: 'This document', responses: { 200: { description: 'OpenAPI 3.1', content: { 'application/json': { schema: { type: 'object' } } } } } } },
    },
    components,
  };
}
