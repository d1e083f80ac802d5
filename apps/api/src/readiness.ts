/**
 * What /readyz decides, as a pure function of what Redis holds and the wall
 * clock, so the rules are tested without waiting for real time.
 *
 * Ready means the data served is being kept up to date:
 * - the source: the ingester's status exists, its heartbeat is fresh and it
 *   is connected, replaying or done with its replay;
 * - the close jobs: the worker runs each served period's close job on time.
 *   A period P's job fires at `k*P + GRACE_MS` (when its buckets may close).
 *   We take the latest firing that is at least CLOSE_SLACK_MS old (the job
 *   has had that long to run) and require the job's last run
 *   (`close_run:<label>` in the stats hash) to be no earlier than that
 *   firing, less a tolerance under one period for clock skew between hosts.
 *   So a stopped worker shows within one period plus the slack. A period
 *   whose job has never run is excused only while the API itself has been
 *   up less than the startup grace (API and worker start together in dev).
 *   This assumes a worker that starts after a firing it missed runs that
 *   period's job at once (a catch-up); else a long period such as 1d would
 *   keep /readyz at 503 until its next firing, which is the truth anyway:
 *   that candle was not closed on time.
 * Gaps the source reported do not make the API unready, but are reported;
 * so are closed candles that differ from the exchange's own (docs/audit.md):
 * more than AUDIT_WARN_DIFFERS of them found in the last hour is a warning.
 */
import type { Period, SourceStatus } from '@candlestack/shared';

export const HEARTBEAT_MAX_AGE_MS = 15_000;
export const CLOSE_SLACK_MS = 10_000;
export const STARTUP_GRACE_MS = 30_000;
/** More differing candles than this found within AUDIT_WARN_WINDOW_MS is a warning of /readyz. */
export const AUDIT_WARN_DIFFERS = 10;
export const AUDIT_WARN_WINDOW_MS = 3_600_000;
const READY_STATES: ReadonlySet<string> = new Set(['connected', 'replaying', 'done']);

export interface ReadinessInput {
  readonly now: number;
  /** Wall time the API started. */
  readonly upSince: number;
  readonly startupGraceMs: number;
  readonly periods: readonly Period[];
  readonly graceMs: number;
  readonly source: SourceStatus | undefined;
  /** The stats hash (Stats.read()). */
  readonly stats: Readonly<Record<string, number>>;
  /** Closed candles the audit found differing within AUDIT_WARN_WINDOW_MS (counted up to AUDIT_WARN_DIFFERS + 1). */
  readonly recentAuditDifferences?: number;
}

export interface SourceCheck {
  readonly ok: boolean;
  readonly name: string | null;
  readonly state: string | null;
  readonly detail: string;
  readonly heartbeatAgeMs: number | null;
  readonly gaps: number;
}

export interface CloseJobCheck {
  readonly ok: boolean;
  /** Wall time (ms) of the job's last run, or null if it never ran. */
  readonly lastRun: number | null;
  /** The firing the last run must not be older than (ms). */
  readonly due: number;
}

export interface Readiness {
  readonly ready: boolean;
  readonly reasons: string[];
  readonly warnings: string[];
  readonly source: SourceCheck;
  readonly closeJobs: Record<string, CloseJobCheck>;
}

const iso = (t: number) => new Date(t).toISOString();

/** The latest firing of a period's close job that is at least `slackMs` old. */
export function dueFiring(now: number, periodMs: number, graceMs: number, slackMs = CLOSE_SLACK_MS): number {
  return Math.floor((now - slackMs - graceMs) / periodMs) * periodMs + graceMs;
}

function checkSource(s: SourceStatus | undefined, now: number, reasons: string[], warnings: string[]): SourceCheck {
  if (!s) {
    reasons.push('no source status: the ingester has not reported (is it running?)');
    return { ok: false, name: null, state: null, detail: '', heartbeatAgeMs: null, gaps: 0 };
  }
  const age = now - s.heartbeat;
  const before = reasons.length;
  if (age >= HEARTBEAT_MAX_AGE_MS) {
    reasons.push(`source ${s.source} last reported ${Math.round(age / 1000)} s ago: the ingester looks stopped`);
  }
  if (!READY_STATES.has(s.state)) reasons.push(`source ${s.source} is ${s.state}${s.detail ? `: ${s.detail}` : ''}`);
  if (s.gaps > 0) warnings.push(`source ${s.source} reported ${s.gaps} missed trade(s) (gaps)`);
  return { ok: reasons.length === before, name: s.source, state: s.state, detail: s.detail, heartbeatAgeMs: age, gaps: s.gaps };
}

function checkCloseJob(p: Period, input: ReadinessInput, reasons: string[], warnings: string[]): CloseJobCheck {
  const due = dueFiring(input.now, p.ms, input.graceMs);
  const run = input.stats[`close_run:${p.label}`];
  const lastRun = run !== undefined && Number.isFinite(run) ? run : null;
  if (lastRun === null) {
    const msg = `close job for ${p.label} has never run: is a worker running?`;
    if (input.now - input.upSince > input.startupGraceMs) {
      reasons.push(msg);
      return { ok: false, lastRun, due };
    }
    warnings.push(msg);
    return { ok: true, lastRun, due };
  }
  const tolerance = Math.min(p.ms / 2, 30_000);
  if (lastRun >= due - tolerance) return { ok: true, lastRun, due };
  reasons.push(`close job for ${p.label} has not run since ${iso(due)} (last run ${iso(lastRun)}): is a worker running?`);
  return { ok: false, lastRun, due };
}

export function assessReadiness(input: ReadinessInput): Readiness {
  const reasons: string[] = [];
  const warnings: string[] = [];
  const source = checkSource(input.source, input.now, reasons, warnings);
  const closeJobs: Record<string, CloseJobCheck> = {};
  for (const p of input.periods) closeJobs[p.label] = checkCloseJob(p, input, reasons, warnings);
  const differs = input.recentAuditDifferences ?? 0;
  if (differs > AUDIT_WARN_DIFFERS) {
    warnings.push(`more than ${AUDIT_WARN_DIFFERS} closed candles differ from the exchange's own in the last hour: see /admin/audit`);
  }
  return { ready: reasons.length === 0, reasons, warnings, source, closeJobs };
}
