/**
 * GET of Poloniex's public REST API, shared by the ingester (symbols,
 * backfill) and the worker (the audit's candles). Every call has a timeout;
 * every failure becomes a RestError with a message fit for a log line (the
 * caller retries or gives up, never crashes).
 */

export class RestError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    readonly body?: string,
    /** On a 429: how long the server asked us to wait (its Retry-After, ms), when it said. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/** Why fetch failed, in the words of the socket (ECONNREFUSED, ENOTFOUND...) when it says. */
function causeOf(err: Error): string {
  const cause = (err as Error & { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? err.message;
}

const sample = (v: unknown): string => (typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v))).slice(0, 200);

/** Retry-After in seconds or as an HTTP date, in ms from now; undefined when absent or unreadable. */
export function parseRetryAfter(header: string | null, now = Date.now()): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const t = header.trim();
  if (/^\d+$/.test(t)) return Number(t) * 1000;
  const at = Date.parse(t);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

export async function getJson(url: string, timeoutMs: number): Promise<unknown> {
  // The signal also bounds reading the body: a server that sends headers and
  // then hangs is cut off just the same.
  const signal = AbortSignal.timeout(timeoutMs);
  let text: string;
  let status: number;
  let retryAfter: string | null;
  try {
    const res = await fetch(url, { signal, headers: { accept: 'application/json' } });
    status = res.status;
    retryAfter = res.headers.get('retry-after');
    text = await res.text();
  } catch (err) {
    const e = err as Error;
    if (e.name === 'TimeoutError' || e.name === 'AbortError') throw new RestError(`GET ${url}: no answer within ${timeoutMs} ms`);
    throw new RestError(`GET ${url}: cannot reach it (${causeOf(e)})`);
  }
  const wait = status === 429 ? parseRetryAfter(retryAfter) : undefined;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new RestError(`GET ${url}: HTTP ${status}, body is not JSON: ${text.slice(0, 200)}`, status, text, wait);
  }
  if (status < 200 || status > 299) {
    // Poloniex's error bodies are {"code":...,"message":"..."}.
    const message = typeof body === 'object' && body !== null && 'message' in body ? String(body.message) : sample(body);
    throw new RestError(`GET ${url}: HTTP ${status}: ${message}`, status, text, wait);
  }
  return body;
}
