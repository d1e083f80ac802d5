import { describe, expect, it } from 'vitest';
import { parsePeriods, type SourceStatus } from '@candlestack/shared';
import { assessReadiness, dueFiring, type ReadinessInput } from './readiness.js';

const MIN = 60_000;
// 00:05:30 UTC: the 1m job fired at 00:05:02; the 5m job at 00:05:02 too.
const NOW = Date.UTC(2024, 0, 1, 0, 5, 30);
const source: SourceStatus = { source: 'poloniex', state: 'connected', detail: '', heartbeat: NOW - 2000, gaps: 0 };

function input(over: Partial<ReadinessInput> = {}): ReadinessInput {
  return {
    now: NOW,
    upSince: NOW - 3_600_000,
    startupGraceMs: 30_000,
    periods: parsePeriods('1m,5m,1h'),
    graceMs: 2000,
    source,
    stats: { 'close_run:1m': NOW - 28_000, 'close_run:5m': NOW - 28_000, 'close_run:1h': Date.UTC(2024, 0, 1, 0, 0, 2) },
    ...over,
  };
}

describe('dueFiring', () => {
  it('is the latest k*P + grace at least the slack old', () => {
    expect(dueFiring(NOW, MIN, 2000)).toBe(Date.UTC(2024, 0, 1, 0, 5, 2));
    // 5 s after a firing, the job still has time: the one before is due.
    expect(dueFiring(Date.UTC(2024, 0, 1, 0, 5, 7), MIN, 2000)).toBe(Date.UTC(2024, 0, 1, 0, 4, 2));
    expect(dueFiring(NOW, 3_600_000, 2000)).toBe(Date.UTC(2024, 0, 1, 0, 0, 2));
  });
});

describe('assessReadiness', () => {
  it('warns, and stays ready, when more than 10 closed candles differed from the exchange in the last hour', () => {
    expect(assessReadiness(input({ recentAuditDifferences: 10 })).warnings).toEqual([]);
    const r = assessReadiness(input({ recentAuditDifferences: 11 }));
    expect(r.ready).toBe(true);
    expect(r.warnings).toEqual(["more than 10 closed candles differ from the exchange's own in the last hour: see /admin/audit"]);
  });

  it('is ready when the source is fresh and every close job ran since its due firing', () => {
    const r = assessReadiness(input());
    expect(r).toMatchObject({ ready: true, reasons: [], warnings: [] });
    expect(r.closeJobs['1m']).toEqual({ ok: true, lastRun: NOW - 28_000, due: Date.UTC(2024, 0, 1, 0, 5, 2) });
  });

  it('tolerates a little clock skew, never a missed firing', () => {
    const due = dueFiring(NOW, MIN, 2000);
    expect(assessReadiness(input({ stats: { ...input().stats, 'close_run:1m': due - 1500 } })).ready).toBe(true);
    const missed = assessReadiness(input({ stats: { ...input().stats, 'close_run:1m': due - MIN } }));
    expect(missed.ready).toBe(false);
    expect(missed.reasons).toEqual([
      'close job for 1m has not run since 2024-01-01T00:05:02.000Z (last run 2024-01-01T00:04:02.000Z): is a worker running?',
    ]);
  });

  it('a job that never ran is excused only during the startup grace', () => {
    const stats = { 'close_run:1m': NOW - 1000, 'close_run:5m': NOW - 1000 };
    const early = assessReadiness(input({ stats, upSince: NOW - 10_000 }));
    expect(early).toMatchObject({ ready: true, warnings: ['close job for 1h has never run: is a worker running?'] });
    const late = assessReadiness(input({ stats, upSince: NOW - 31_000 }));
    expect(late).toMatchObject({ ready: false, reasons: ['close job for 1h has never run: is a worker running?'] });
    expect(late.closeJobs['1h']).toMatchObject({ ok: false, lastRun: null });
  });

  it('a stale job is not excused by the startup grace', () => {
    const r = assessReadiness(input({ upSince: NOW - 1000, stats: { ...input().stats, 'close_run:5m': NOW - 10 * MIN } }));
    expect(r.ready).toBe(false);
    expect(r.reasons[0]).toMatch(/^close job for 5m has not run since/);
  });

  it('needs a source status with a fresh heartbeat in a serving state', () => {
    expect(assessReadiness(input({ source: undefined })).reasons).toEqual([
      'no source status: the ingester has not reported (is it running?)',
    ]);
    expect(assessReadiness(input({ source: { ...source, heartbeat: NOW - 15_000 } })).reasons).toEqual([
      'source poloniex last reported 15 s ago: the ingester looks stopped',
    ]);
    for (const state of ['connecting', 'disconnected', 'failed'] as const) {
      const r = assessReadiness(input({ source: { ...source, state, detail: 'why' } }));
      expect(r.reasons).toEqual([`source poloniex is ${state}: why`]);
      expect(r.source.ok).toBe(false);
    }
    for (const state of ['connected', 'replaying', 'done'] as const) {
      expect(assessReadiness(input({ source: { ...source, state } })).ready).toBe(true);
    }
  });

  it('reports gaps as a warning only', () => {
    const r = assessReadiness(input({ source: { ...source, gaps: 12 } }));
    expect(r).toMatchObject({ ready: true, warnings: ['source poloniex reported 12 missed trade(s) (gaps)'] });
    expect(r.source).toMatchObject({ ok: true, gaps: 12, heartbeatAgeMs: 2000 });
  });

  it('gives every reason at once', () => {
    expect(assessReadiness(input({ source: undefined, stats: {} })).reasons).toHaveLength(4);
  });
});
