/**
 * Poloniex's public REST API: the symbol list and the latest trades of a
 * symbol. Every call has a timeout; every failure becomes a RestError with a
 * message fit for a log line (the caller retries, never crashes).
 */
import { parseMarkets, sample, type Market } from './poloniex-messages.js';

export class RestError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    readonly body?: string,
  ) {
    super(message);
  }
}

/** The most trades `GET /markets/{symbol}/trades` returns; it has no paging. */
export const REST_TRADES_LIMIT = 1000;

/** Why fetch failed, in the words of the socket (ECONNREFUSED, ENOTFOUND...) when it says. */
function causeOf(err: Error): string {
  const cause = (err as Error & { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? err.message;
}

export async function getJson(url: string, timeoutMs: number): Promise<unknown> {
  // The signal also bounds reading the body: a server that sends headers and
  // then hangs is cut off just the same.
  const signal = AbortSignal.timeout(timeoutMs);
  let text: string;
  let status: number;
  try {
    const res = await fetch(url, { signal, headers: { accept: 'application/json' } });
    status = res.status;
    text = await res.text();
  } catch (err) {
    const e = err as Error;
    if (e.name === 'TimeoutError' || e.name === 'AbortError') throw new RestError(`GET ${url}: no answer within ${timeoutMs} ms`);
    throw new RestError(`GET ${url}: cannot reach it (${causeOf(e)})`);
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new RestError(`GET ${url}: HTTP ${status}, body is not JSON: ${text.slice(0, 200)}`, status, text);
  }
  if (status < 200 || status > 299) {
    // Poloniex's error bodies are {"code":...,"message":"..."}.
    const message = typeof body === 'object' && body !== null && 'message' in body ? String(body.message) : sample(body).slice(0, 200);
    throw new RestError(`GET ${url}: HTTP ${status}: ${message}`, status, text);
  }
  return body;
}

export class PoloniexRest {
  constructor(
    private readonly baseUrl: string,
    private readonly timeoutMs: number,
  ) {}

  private url(path: string): string {
    return `${this.baseUrl.replace(/\/+$/, '')}${path}`;
  }

  async markets(): Promise<Market[]> {
    return parseMarkets(await getJson(this.url('/markets'), this.timeoutMs));
  }

  /** The newest trades of a symbol, newest first, as the exchange sends them. */
  async trades(symbol: string, limit = REST_TRADES_LIMIT): Promise<unknown> {
    return getJson(this.url(`/markets/${encodeURIComponent(symbol)}/trades?limit=${limit}`), this.timeoutMs);
  }
}
