/**
 * The 'error' listener every library EventEmitter gets (BullMQ's Queue,
 * Worker and QueueEvents, and any other). Without one, BullMQ prints the
 * error with console.error: an ioredis error with its command, so after a
 * Redis password change, `HELLO 3 AUTH default <password>` with a stack, a
 * dozen times in seconds. (A plain EventEmitter with no listener would
 * crash the process instead.) Here the error goes through our logger: its
 * message only, redacted, and at most once per `everyMs` per kind, so an
 * outage, where every connection fails on every retry, is a line and not
 * a flood.
 */
import type { Logger } from 'pino';
import { redactText } from './redact.js';

/** What emits 'error' (structural, so that shared needs no BullMQ). */
export interface ErrorEmitter {
  on(event: 'error', listener: (err: Error) => void): unknown;
}

export interface LibraryErrorOptions {
  /** At most one line per kind of error this often (ms); default 30 s. */
  readonly everyMs?: number;
  /** Default warn: these are retried by the library, not lost. */
  readonly level?: 'debug' | 'info' | 'warn' | 'error';
}

export const LIBRARY_ERROR_EVERY_MS = 30_000;
/** Kinds remembered at once; past it, those whose window has passed are forgotten. */
const MAX_KINDS = 100;

/** Logs `emitter`'s errors as `<what>: <message>`, redacted and rate-limited per kind. */
export function onLibraryError(emitter: ErrorEmitter, log: Logger, what: string, opts: LibraryErrorOptions = {}): void {
  const everyMs = opts.everyMs ?? LIBRARY_ERROR_EVERY_MS;
  const level = opts.level ?? 'warn';
  // kind -> until when it is quiet, and how many were held back meanwhile.
  const kinds = new Map<string, { until: number; held: number }>();
  emitter.on('error', (err: unknown) => {
    const message = redactText(err instanceof Error ? err.message : String(err));
    // One kind whatever its numbers (a port, a job id, a count).
    const kind = message.replace(/\d+/g, '#');
    const now = Date.now();
    const seen = kinds.get(kind);
    if (seen && now < seen.until) {
      seen.held++;
      return;
    }
    if (kinds.size >= MAX_KINDS) for (const [k, v] of kinds) if (v.until <= now) kinds.delete(k);
    kinds.set(kind, { until: now + everyMs, held: 0 });
    const code = (err as { code?: unknown } | null)?.code;
    const held = seen?.held ?? 0;
    log[level](
      { what, err: message, ...(typeof code === 'string' ? { code } : {}), ...(held > 0 ? { held } : {}) },
      `${what}: ${message}${held > 0 ? ` (${held} more like it since the last such line)` : ''}`,
    );
  });
}
