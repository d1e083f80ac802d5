/**
 * `candlestack_close_lag_seconds`: a Prometheus histogram whose counts live
 * in Redis (every worker adds to them, shared status.ts closeRun), so any
 * API replica reports the whole deployment's. prom-client's Histogram can
 * only observe values one by one in this process; this metric gives the
 * registry the stored counts instead, in the shape the registry prints
 * (prom-client reads `get()` of any registered metric).
 */
import type { Registry } from 'prom-client';
import { CLOSE_LAG_BUCKETS, closeLagFields, type Period } from '@candlestack/shared';

export const CLOSE_LAG_NAME = 'candlestack_close_lag_seconds';

interface Value {
  readonly value: number;
  readonly labels: Record<string, string | number>;
  readonly metricName: string;
}

export function registerCloseLag(registry: Registry, periods: readonly Period[], snapshot: () => Promise<Record<string, number> | undefined>): void {
  const metric = {
    name: CLOSE_LAG_NAME,
    help: "How long after its bucket's end a close job closed the newest bucket, per period (seconds; live sources only)",
    type: 'histogram',
    aggregator: 'sum',
    reset() {},
    async get() {
      const s = (await snapshot()) ?? {};
      const values: Value[] = [];
      for (const p of periods) {
        const f = closeLagFields(p.label);
        const count = s[f.count];
        if (count === undefined) continue; // never closed with a lag: no series
        let cumulative = 0;
        f.buckets.forEach((field, i) => {
          cumulative += s[field] ?? 0;
          const le = i < CLOSE_LAG_BUCKETS.length ? CLOSE_LAG_BUCKETS[i]! : '+Inf';
          values.push({ value: cumulative, labels: { period: p.label, le }, metricName: `${CLOSE_LAG_NAME}_bucket` });
        });
        values.push({ value: (s[f.sumMs] ?? 0) / 1000, labels: { period: p.label }, metricName: `${CLOSE_LAG_NAME}_sum` });
        values.push({ value: count, labels: { period: p.label }, metricName: `${CLOSE_LAG_NAME}_count` });
      }
      return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
    },
  };
  registry.registerMetric(metric as unknown as Parameters<Registry['registerMetric']>[0]);
}
