import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '@candlestack/shared';
import { apiUrl, feedEnv, wsUrl } from './env.js';

const url = (env: Record<string, string>) => apiUrl(parseConfig(feedEnv, env));

describe('the API address', () => {
  it('defaults to where the API listens by default', () => {
    expect(url({})).toBe('http://127.0.0.1:3000');
  });

  it('follows HOST and PORT, as the API does', () => {
    expect(url({ HOST: 'localhost', PORT: '8080' })).toBe('http://localhost:8080');
    expect(url({ HOST: '::1' })).toBe('http://[::1]:3000');
    // An API listening on every address is reached on loopback.
    expect(url({ HOST: '0.0.0.0' })).toBe('http://127.0.0.1:3000');
  });

  it('takes API_URL over HOST and PORT, without a trailing slash', () => {
    expect(url({ API_URL: 'https://candles.example.com/', HOST: 'x', PORT: '1' })).toBe('https://candles.example.com');
  });

  it('refuses a bad value with one line naming the variable', () => {
    expect(() => url({ API_URL: 'ws://x' })).toThrow(ConfigError);
    expect(() => url({ API_URL: 'ws://x' })).toThrow(/^invalid configuration: API_URL="ws:\/\/x": an http:\/\/ or https:\/\/ URL/);
    expect(() => url({ PORT: 'eighty' })).toThrow(/PORT="eighty"/);
  });
});

describe('wsUrl', () => {
  it('is /ws on the same server, ws or wss as the API is http or https', () => {
    expect(wsUrl('http://127.0.0.1:3000')).toBe('ws://127.0.0.1:3000/ws');
    expect(wsUrl('https://example.com/candles')).toBe('wss://example.com/candles/ws');
  });
});
