/**
 * The response bodies of the HTTP API as zod schemas: the OpenAPI document
 * (openapi.ts) is generated from them and from the request schemas the
 * routes validate with, and the tests check real responses against it.
 */
import { z } from 'zod';

const decimal = z.string().regex(/^\d+(\.\d+)?$/).meta({ description: 'An exact decimal, as a string', example: '37012.5' });

export const candleSchema = z
  .object({
    time: z.number().int().meta({ description: "Start of the bucket: ms since the epoch, UTC" }),
    open: decimal,
    high: decimal,
    low: decimal,
    close: decimal,
    volume: decimal.meta({ description: 'Volume in the base currency' }),
    quoteVolume: decimal.meta({ description: 'Volume in the quote currency' }),
    trades: z.number().int().min(0),
    origin: z.enum(['exchange', 'mixed']).optional().meta({
      description:
        "Absent: built from trades. `exchange`: the exchange's own candle, imported as history (or a roll-up of only such); `mixed`: a roll-up of imported candles and candles built from trades (the period where live data begins)",
    }),
    closed: z.boolean().meta({ description: 'false for the candle still forming' }),
  })
  .meta({ id: 'Candle' });

export const candlesResponse = z
  .object({
    pair: z.string().meta({ example: 'BTC_USDT' }),
    period: z.string().meta({ example: '1m' }),
    candles: z.array(candleSchema).meta({ description: 'Oldest first: closed candles, then the forming one(s)' }),
  })
  .meta({ id: 'CandlesResponse' });

export const candleRowSchema = z
  .tuple([z.number().int(), decimal, decimal, decimal, decimal, decimal, decimal, z.number().int().min(0), z.boolean()])
  .meta({ id: 'CandleRow', description: '[time, open, high, low, close, volume, quoteVolume, trades, closed]: the fields of Candle, in that order' });

export const candleRowsResponse = z
  .object({
    pair: z.string().meta({ example: 'BTC_USDT' }),
    period: z.string().meta({ example: '1m' }),
    candles: z.array(candleRowSchema).meta({ description: 'Oldest first, as in CandlesResponse' }),
  })
  .meta({ id: 'CandleRowsResponse' });

export const tradeSchema = z
  .object({
    id: z.string().meta({ description: "The exchange's trade id (a replay line without one: its line number)" }),
    time: z.number().int().meta({ description: 'When the trade happened: ms since the epoch, UTC' }),
    price: decimal,
    quantity: decimal.meta({ description: 'In the base currency' }),
    side: z.enum(['buy', 'sell']).optional().meta({ description: "The taker's side, when the source tells it" }),
  })
  .meta({ id: 'Trade' });

export const tradesResponse = z
  .object({
    pair: z.string().meta({ example: 'BTC_USDT' }),
    trades: z.array(tradeSchema).meta({ description: 'Oldest first (by time, then id): the trades still retained (TICK_RETENTION)' }),
  })
  .meta({ id: 'TradesResponse' });

export const errorBody = z
  .object({
    error: z.object({
      code: z.string().meta({ example: 'bad_parameter' }),
      message: z.string(),
    }),
  })
  .meta({ id: 'Error' });

export const sourceSchema = z
  .object({
    name: z.string(),
    kind: z.enum(['live', 'simulated', 'replay', 'unknown']),
    label: z.string(),
    state: z.enum(['connecting', 'connected', 'disconnected', 'replaying', 'done', 'failed']),
    detail: z.string(),
    heartbeat: z.number(),
    gaps: z.number().int().min(0),
  })
  .meta({ id: 'Source' });

export const pairHistorySchema = z
  .object({
    from: z.number().int().meta({ description: 'Start of the history imported from the exchange (ms)' }),
    liveFrom: z.number().int().nullable().meta({ description: 'Where live data begins: the start of the boundary bucket of `period` (ms); null while the import is under way' }),
    period: z.string().meta({ description: "The imported candles' period", example: '1m' }),
    boundary: z.enum(['exact', 'incomplete', 'pending']).meta({
      description: "The boundary bucket: `exact` when completed from the exchange's trades, `incomplete` when the exchange no longer listed them, `pending` until known",
    }),
    importing: z.boolean().meta({ description: 'An import is under way (or was interrupted and will resume)' }),
  })
  .meta({ id: 'PairHistory', description: "The exchange's candles imported on the pair's first start (README, \"History and the audit\")" });

export const pairsResponse = z
  .object({
    pairs: z.array(
      z.object({
        pair: z.string(),
        lastTradeTime: z.number().int().nullable(),
        history: pairHistorySchema.nullable().meta({ description: 'null: no history was imported for the pair' }),
      }),
    ),
    periods: z.array(z.string()),
    source: sourceSchema.nullable(),
  })
  .meta({ id: 'PairsResponse' });

export const healthResponse = z.object({ status: z.literal('ok') }).meta({ id: 'Health' });

export const readyResponse = z
  .object({
    status: z.enum(['ready', 'not ready']),
    reasons: z.array(z.string()),
    warnings: z.array(z.string()),
    checks: z.record(z.string(), z.unknown()),
  })
  .meta({ id: 'Readiness' });

export const exchangeCandleSchema = candleSchema.omit({ closed: true }).meta({ id: 'ExchangeCandle', description: "The exchange's own candle for the bucket, in our field names (docs/audit.md)" });

export const auditResponse = z
  .object({
    total: z.number().int().min(0).meta({ description: 'Differences kept (the newest 500)' }),
    differences: z
      .array(
        z.object({
          id: z.string().meta({ description: 'The entry id (its time in ms, then a sequence)' }),
          pair: z.string().meta({ example: 'BTC_USDT' }),
          period: z.string().meta({ example: '1m' }),
          time: z.number().int().meta({ description: "The bucket's start: ms since the epoch, UTC" }),
          at: z.number().int().meta({ description: 'When the audit found the difference (ms)' }),
          fields: z.array(z.enum(['open', 'high', 'low', 'close', 'volume', 'quoteVolume', 'trades'])).meta({ description: 'The fields that differ' }),
          ours: candleSchema,
          exchange: exchangeCandleSchema.nullable().meta({ description: 'null: the exchange lists no candle for the bucket' }),
        }),
      )
      .meta({ description: 'Newest first' }),
  })
  .meta({ id: 'AuditResponse' });
