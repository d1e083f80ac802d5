/**
 * What the API sends (docs/api.md and docs/websocket.md), validated
 * before use: the feed compares prices exactly, so a price that is not a
 * decimal string is refused here rather than drawn wrong later. Unknown
 * fields are dropped, as the contract allows new ones.
 */
import { z } from 'zod';
import { isDecimal, type Candle } from '@candlestack/shared';

const decimal = z.string().refine(isDecimal, 'a decimal string');

export const candleSchema = z.object({
  time: z.number().int(),
  open: decimal,
  high: decimal,
  low: decimal,
  close: decimal,
  volume: decimal,
  quoteVolume: decimal,
  trades: z.number().int().nonnegative(),
  closed: z.boolean(),
}) satisfies z.ZodType<Candle>;

const sourceSchema = z.object({
  name: z.string(),
  /** live, simulated, replay, unknown: a simulated market is never shown as a real one. */
  kind: z.string(),
  label: z.string(),
  state: z.string().optional(),
  detail: z.string().optional(),
});
export type SourceInfo = z.infer<typeof sourceSchema>;

/** GET /pairs. */
export const pairsSchema = z.object({
  pairs: z.array(z.object({ pair: z.string(), lastTradeTime: z.number().nullable() })),
  periods: z.array(z.string()),
  /** null while no ingester has ever reported. */
  source: sourceSchema.nullable(),
});
export type PairsInfo = z.infer<typeof pairsSchema>;

/** GET /candles/:pair/:period. */
export const candlesSchema = z.object({
  pair: z.string(),
  period: z.string(),
  candles: z.array(candleSchema),
});

/** The messages the feed acts on; anything else on the socket is ignored. */
export const serverMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('subscribed'), pair: z.string(), period: z.string() }),
  z.object({ type: z.literal('unsubscribed'), pair: z.string(), period: z.string() }),
  z.object({ type: z.literal('candle'), pair: z.string(), period: z.string(), candle: candleSchema }),
  z.object({ type: z.literal('gap'), pair: z.string(), period: z.string(), from: z.number(), to: z.number() }),
  z.object({ type: z.literal('error'), message: z.string() }),
]);
export type ServerMessage = z.infer<typeof serverMessageSchema>;
