/** The two HTTP reads the feed makes: /pairs and a pair's recent candles. */
import type { z } from 'zod';
import type { Candle } from '@candlestack/shared';
import { candlesSchema, pairsSchema, type PairsInfo } from './messages.js';

const TIMEOUT_MS = 5_000;

/** A failed read; `transient` when waiting may help (no answer, a 5xx), not for a 4xx or a foreign answer. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly transient: boolean,
  ) {
    super(message);
  }
}

/** Node's fetch says only "fetch failed"; the reason (ECONNREFUSED ...) is in its cause. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    if (err.name === 'TimeoutError') return `no answer within ${TIMEOUT_MS / 1000} s`;
    const cause = (err as { cause?: unknown }).cause;
    if (cause instanceof Error && cause.message) return cause.message;
    return err.message;
  }
  return String(err);
}

async function getJson<S extends z.ZodType>(api: string, path: string, schema: S): Promise<z.infer<S>> {
  let res: Response;
  let text: string;
  try {
    res = await fetch(`${api}${path}`, { signal: AbortSignal.timeout(TIMEOUT_MS), headers: { accept: 'application/json' } });
    text = await res.text();
  } catch (err) {
    throw new ApiError(`GET ${path}: ${describeError(err)}`, true);
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (!res.ok) {
    const message = (body as { error?: { message?: unknown } } | undefined)?.error?.message;
    throw new ApiError(`GET ${path} answered ${res.status}${typeof message === 'string' ? `: ${message}` : ''}`, res.status >= 500);
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw new ApiError(`GET ${path}: not the answer of a Candlestack API`, false);
  return parsed.data;
}

export function fetchPairs(api: string): Promise<PairsInfo> {
  return getJson(api, '/pairs', pairsSchema);
}

/** The newest `limit` candles, oldest first, the forming one last. */
export async function fetchCandles(api: string, pair: string, period: string, limit: number): Promise<Candle[]> {
  const body = await getJson(api, `/candles/${encodeURIComponent(pair)}/${period}?limit=${limit}`, candlesSchema);
  return body.candles;
}

/** Asks /pairs until it answers or `timeoutMs` has passed; then throws the last error. */
export async function waitForApi(api: string, timeoutMs: number): Promise<PairsInfo> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 250; ; delay = Math.min(delay * 2, 1_000)) {
    try {
      return await fetchPairs(api);
    } catch (err) {
      if (!(err instanceof ApiError && err.transient) || Date.now() + delay > deadline) throw err;
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
