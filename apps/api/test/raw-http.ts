/**
 * HTTP/1.1 over a bare socket, for what fetch() will not send: unknown
 * methods, unnormalised paths, oversized headers, malformed requests.
 */
import { connect } from 'node:net';

export interface RawResponse {
  readonly status: number;
  /** Lower-case names. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** Sends `request` as is and reads until the server closes (requests here say Connection: close, or are refused). */
export function rawRequest(url: string, request: string | Buffer, timeoutMs = 5_000): Promise<RawResponse> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname.replace(/^\[|\]$/g, ''));
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete answer within ${timeoutMs} ms to ${String(request).slice(0, 80)}`));
    }, timeoutMs);
    socket.on('data', (d) => chunks.push(d));
    // A server that closes on a request it refused may reset before we
    // finish writing: what it sent first is still the answer.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('utf8');
      const end = text.indexOf('\r\n\r\n');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      if (!m || end < 0) {
        reject(new Error(`not an HTTP response: ${JSON.stringify(text.slice(0, 200))}`));
        return;
      }
      const headers: Record<string, string> = {};
      for (const line of text.slice(0, end).split('\r\n').slice(1)) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ status: Number(m[1]), headers, body: text.slice(end + 4) });
    });
    // write, not end: Node's server drops a request whose client half-closes
    // before the answer (httpAllowHalfOpen is off), as a browser never does.
    socket.write(request);
  });
}

/** A GET (or another method) of `target` exactly as written, with the Host of `url`. */
export function rawGet(url: string, target: string, method = 'GET', extra = ''): Promise<RawResponse> {
  return rawRequest(url, `${method} ${target} HTTP/1.1\r\nHost: ${new URL(url).host}\r\nConnection: close\r\n${extra}\r\n`);
}

export interface SlowClientResult {
  /** ms from connecting to the server closing the connection. */
  readonly closedAfterMs: number;
  /** Everything the server sent. */
  readonly received: string;
  /** How many times `drip` was written before the close. */
  readonly drips: number;
}

/**
 * A slow client: connects, writes `first`, then `drip` every `everyMs` (if
 * given) until the server closes the connection; gives up after `giveUpMs`.
 */
export function slowClient(url: string, first: string, drip?: { readonly data: string; readonly everyMs: number }, giveUpMs = 10_000): Promise<SlowClientResult> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = connect(Number(port), hostname.replace(/^\[|\]$/g, ''));
    let received = '';
    let drips = 0;
    const timer = drip
      ? setInterval(() => {
          socket.write(drip.data);
          drips++;
        }, drip.everyMs)
      : undefined;
    const giveUp = setTimeout(() => {
      socket.destroy();
      reject(new Error(`still open after ${giveUpMs} ms`));
    }, giveUpMs);
    socket.on('data', (d) => (received += d.toString('utf8')));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(timer);
      clearTimeout(giveUp);
      resolve({ closedAfterMs: Date.now() - started, received, drips });
    });
    if (first) socket.write(first);
  });
}
