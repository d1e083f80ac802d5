/**
 * Random PERIODS, MAX_LATE and CANDLE_RETENTION given to the worker as a
 * real process (the parse itself is fuzzed in packages/shared): a bad one
 * stops it at once with exit code 1 and one line per bad variable naming it;
 * a good one starts it and it runs until told to stop. Never a crash, never
 * a stack trace.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { fuzzParams } from './support/fuzz.js';
import { AppProcess } from './support/processes.js';
import { TEST_REDIS_URL, deletePrefix, testPrefix } from './support/redis.js';

const prefixes: string[] = [];
afterAll(async () => {
  await Promise.all(prefixes.map((p) => deletePrefix(p)));
});

const periods = fc.subarray(['1s', '5s', '7s', '1m', '5m', '1h', '5h', '1d'], { minLength: 1 }).map((p) => p.join(','));
const maxLate = fc.constantFrom('1s', '30m', '24h', '7d', '8d', '0s', 'soon');
const retention = fc.oneof(
  fc.constant(''),
  fc.tuple(fc.constantFrom('1s', '1m', '5m', '1h', '2m'), fc.constantFrom('1m', '1d', '30d', 'x')).map(([p, d]) => `${p}=${d}`),
);

describe('configuration, as a process', () => {
  it('a bad value stops the worker with one line per bad variable; a good one runs', async () => {
    const envs = fc.sample(fc.record({ PERIODS: periods, MAX_LATE: maxLate, CANDLE_RETENTION: retention }), { seed: fuzzParams(1).seed, numRuns: 6 });
    let ran = 0;
    let refused = 0;
    for (const env of envs) {
      const prefix = testPrefix('config-process');
      prefixes.push(prefix);
      const p = AppProcess.start('worker', { REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: prefix, ...env });
      const started = await Promise.race([
        p.waitForLog((l) => /close schedulers in place/.test(String(l.msg)), 'start', 15_000).then(() => true),
        p.waitExit().then(() => false),
      ]);
      const what = JSON.stringify(env);
      if (started) {
        ran++;
        await p.stop();
        expect(p.exitCode, what).toBe(0);
      } else {
        refused++;
        expect(p.exitCode, what).toBe(1);
        expect(p.lines.length, what).toBeGreaterThanOrEqual(1);
        for (const line of p.lines) expect(line, what).toMatch(/^invalid configuration: (PERIODS|MAX_LATE|CANDLE_RETENTION)=.+: .+/);
        expect(new Set(p.lines.map((l) => l.split('=')[0])).size, what).toBe(p.lines.length);
      }
    }
    expect(ran + refused).toBe(envs.length);
  }, 90_000);

  it('a stop asked for the moment the schedulers are in place (the audit still starting) closes the worker and exits 0', async () => {
    for (let i = 0; i < 3; i++) {
      const prefix = testPrefix('config-process');
      prefixes.push(prefix);
      // 1m is a period Poloniex serves: the audit starts after the schedulers' line.
      const p = AppProcess.start('worker', { REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: prefix, PERIODS: '1m', POLONIEX_REST_URL: 'http://127.0.0.1:9' });
      p.proc.stdout!.on('data', (d: Buffer) => {
        if (d.toString().includes('close schedulers in place')) p.proc.kill('SIGTERM');
      });
      await p.waitExit();
      expect(p.signal, p.lines.join('\n')).toBeNull();
      expect(p.exitCode, p.lines.join('\n')).toBe(0);
      expect(p.logs().some((l) => l.msg === 'stopping')).toBe(true);
    }
  }, 60_000);
});
