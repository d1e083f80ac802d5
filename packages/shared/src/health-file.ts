/**
 * A process's own health, for a container's health check with no extra tool
 * in the image: while `check()` says healthy, the file at `HEALTH_FILE` is
 * rewritten every few seconds; the check (`isHealthFileFresh`, or the
 * one-line `node -e` of docker-compose.yml) reads its age. A process that
 * hangs, loses Redis or (the ingester) its source stops rewriting it, and
 * the file goes stale: the container turns unhealthy. An HTTP port would
 * say the same, at the cost of one more port per process to configure.
 */
import { statSync, writeFileSync } from 'node:fs';
import type { Logger } from './logger.js';

/** How often the file is rewritten while healthy (ms). */
export const HEALTH_FILE_EVERY_MS = 5_000;
/** Older than this (ms), the file says "unhealthy": three missed beats. */
export const HEALTH_FILE_MAX_AGE_MS = 20_000;

export interface HealthFile {
  /** Stops rewriting (the file stays, and goes stale). Idempotent. */
  stop(): void;
}

/**
 * Rewrites `path` with the time now after each `check()` that resolves
 * true; a check that resolves false or throws leaves it alone. A check
 * still running when the next beat comes is not doubled.
 */
export function keepHealthFile(path: string, check: () => Promise<boolean>, log: Logger, everyMs = HEALTH_FILE_EVERY_MS): HealthFile {
  let busy = false;
  let stopped = false;
  let said = '';
  const beat = async () => {
    if (busy || stopped) return;
    busy = true;
    try {
      const ok = await check().catch(() => false);
      if (ok && !stopped) writeFileSync(path, `${new Date().toISOString()}\n`);
      const now = ok ? 'healthy' : 'unhealthy';
      // One line per change, not one per beat.
      if (now !== said) log[ok ? 'debug' : 'warn']({ healthFile: path }, `health file: ${now}`);
      said = now;
    } catch (err) {
      log.warn({ healthFile: path, err: (err as Error).message }, 'health file: cannot write it');
    } finally {
      busy = false;
    }
  };
  void beat();
  const timer = setInterval(() => void beat(), everyMs);
  timer.unref();
  return {
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}

/** True when the file exists and was written less than `maxAgeMs` ago. */
export function isHealthFileFresh(path: string, maxAgeMs = HEALTH_FILE_MAX_AGE_MS, now = Date.now()): boolean {
  try {
    return now - statSync(path).mtimeMs < maxAgeMs;
  } catch {
    return false;
  }
}
