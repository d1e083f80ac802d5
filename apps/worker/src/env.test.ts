import { describe, expect, it } from 'vitest';
import { parseConfig } from '@candlestack/shared';
import { workerEnv } from './env.js';

describe('workerEnv', () => {
  it('audits by default, against the exchange, and takes AUDIT=off', () => {
    const c = parseConfig(workerEnv, {});
    expect(c.AUDIT).toBe('on');
    expect(c.POLONIEX_REST_URL).toBe('https://api.poloniex.com');
    expect(parseConfig(workerEnv, { AUDIT: 'off' }).AUDIT).toBe('off');
  });

  it('refuses another AUDIT or a REST URL that is not http(s), one line each', () => {
    expect(() => parseConfig(workerEnv, { AUDIT: 'yes', POLONIEX_REST_URL: 'ftp://x' })).toThrow(
      'invalid configuration: AUDIT="yes": on or off\ninvalid configuration: POLONIEX_REST_URL="ftp://x": a http: or https:// URL',
    );
  });
});
