import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '@candlestack/shared';
import { apiEnv } from './env.js';

const parse = (env: Record<string, string>) => parseConfig(apiEnv, env);
const failure = (env: Record<string, string>) => {
  try {
    parse(env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('expected a ConfigError');
};

describe('apiEnv', () => {
  it('has the defaults of DESIGN.md', () => {
    const c = parse({});
    expect(c).toMatchObject({ HOST: '127.0.0.1', PORT: 3000, RATE_LIMIT: 1200, REDIS_PREFIX: 'candlestack', GRACE_MS: 2000 });
    expect(c.ADMIN_USER).toBeUndefined();
    expect(c.ADMIN_PASSWORD).toBeUndefined();
    expect(c.PERIODS.map((p) => p.label)).toEqual(['1m', '5m', '10m', '15m', '30m', '1h', '4h', '1d']);
  });

  it('reads every variable', () => {
    const c = parse({ HOST: '::1', PORT: '0', RATE_LIMIT: '0', ADMIN_USER: 'admin', ADMIN_PASSWORD: 'p:a ss', PERIODS: '5m,1m' });
    expect(c).toMatchObject({ HOST: '::1', PORT: 0, RATE_LIMIT: 0, ADMIN_USER: 'admin', ADMIN_PASSWORD: 'p:a ss' });
    expect(parse({ HOST: 'api.internal' }).HOST).toBe('api.internal');
    expect(parse({ HOST: '0.0.0.0' }).HOST).toBe('0.0.0.0');
  });

  it('reads CORS_ORIGINS as exact origins, none by default', () => {
    expect(parse({}).CORS_ORIGINS).toEqual([]);
    expect(parse({ CORS_ORIGINS: 'https://charts.example, http://localhost:5173,https://charts.example' }).CORS_ORIGINS).toEqual([
      'https://charts.example',
      'http://localhost:5173',
    ]);
    for (const bad of ['*', 'charts.example', 'https://charts.example/', 'https://Charts.example', 'https://charts.example:443', 'ftp://x.example', 'null']) {
      expect(failure({ CORS_ORIGINS: bad }), bad).toMatch(/^invalid configuration: CORS_ORIGINS=.*is not an origin: write http\(s\):\/\/host\[:port\]/);
    }
  });

  it('reads TRUST_PROXY as a hop count or addresses and subnets, none by default', () => {
    expect(parse({}).TRUST_PROXY).toBeUndefined();
    expect(parse({ TRUST_PROXY: '1' }).TRUST_PROXY).toBe(1);
    expect(parse({ TRUST_PROXY: ' 10.0.0.0/8, ::1,loopback , 192.168.1.7' }).TRUST_PROXY).toEqual(['10.0.0.0/8', '::1', 'loopback', '192.168.1.7']);
    expect(parse({ TRUST_PROXY: 'fd00::/8' }).TRUST_PROXY).toEqual(['fd00::/8']);
    expect(failure({ TRUST_PROXY: 'true' })).toBe(
      'invalid configuration: TRUST_PROXY="true": "true" is not an address or subnet: a hop count (e.g. 1) or addresses and CIDR subnets (e.g. 10.0.0.0/8,::1, or loopback, linklocal, uniquelocal)',
    );
    for (const bad of ['10.0.0.0/33', '10.0.0.1/8/2', 'proxy.internal', '1,2', '::1/129', '101', ',']) {
      expect(failure({ TRUST_PROXY: bad }), bad).toMatch(/^invalid configuration: TRUST_PROXY=/);
    }
  });

  it('treats an empty value as unset', () => {
    const c = parse({ PORT: '', ADMIN_USER: '', ADMIN_PASSWORD: '' });
    expect(c.PORT).toBe(3000);
    expect(c.ADMIN_USER).toBeUndefined();
  });

  it('stops on a bad value with one line naming variable, value and what is allowed', () => {
    expect(failure({ PORT: '70000' })).toBe('invalid configuration: PORT="70000": a whole number from 0 to 65535');
    expect(failure({ PORT: 'http' })).toBe('invalid configuration: PORT="http": a whole number from 0 to 65535');
    expect(failure({ RATE_LIMIT: '-1' })).toBe('invalid configuration: RATE_LIMIT="-1": a whole number from 0 to 1000000');
    expect(failure({ HOST: 'not a host!' })).toBe(
      'invalid configuration: HOST="not a host!": an IP address or a host name (e.g. 127.0.0.1, ::1, localhost)',
    );
    expect(failure({ ADMIN_USER: 'a:b', ADMIN_PASSWORD: 'x' })).toBe('invalid configuration: ADMIN_USER="a:b": a user name without ":"');
  });

  it('one line per bad variable', () => {
    expect(failure({ PORT: 'x', PERIODS: '7m' }).split('\n')).toHaveLength(2);
  });

  it('refuses half a credential, without printing the password', () => {
    const line = failure({ ADMIN_PASSWORD: 'hunter2' });
    expect(line).toBe(
      'invalid configuration: ADMIN_USER=(unset): ADMIN_PASSWORD is set, so ADMIN_USER must be too (set both ADMIN_USER and ADMIN_PASSWORD, or neither)',
    );
    expect(failure({ ADMIN_USER: 'admin' })).toBe(
      'invalid configuration: ADMIN_PASSWORD=(unset): ADMIN_USER is set, so ADMIN_PASSWORD must be too (set both ADMIN_USER and ADMIN_PASSWORD, or neither)',
    );
  });
});
