import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fuzzParams } from '../../../test/support/fuzz.js';
import { configSecrets, redactText, redactUrl, secretHider, urlSecrets } from './redact.js';

const SECRET = 's3cret';

/** `out` holds neither the secret nor any form of it a reader could decode. */
function expectHidden(out: string, secret: string, input: string): void {
  for (const form of new Set([secret, encodeURIComponent(secret), decodeURIComponentSafe(secret)])) {
    expect(out, `${input} -> ${out}`).not.toContain(form);
  }
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

describe('redactUrl', () => {
  it('hides the password of every form, keeping what is not secret', () => {
    // [input, the secret in it, what is shown]
    const cases: [string, string, string][] = [
      ['redis://user:s3cret@host:6379/0', SECRET, 'redis://user:***@host:6379/0'],
      ['redis://:s3cret@host:6379', SECRET, 'redis://:***@host:6379'],
      ['rediss://default:s3cret@host:6380', SECRET, 'rediss://default:***@host:6380'],
      ['REDIS://user:s3cret@host', SECRET, 'REDIS://user:***@host'],
      // Unescaped `/`, `@`, `:` in the password: each makes another URL (or none).
      ['redis://user:s3c/ret@host:6379', 's3c/ret', 'redis://user:***@host:6379'],
      ['redis://:/s3cret/@host', '/s3cret/', 'redis://:***@host'],
      ['redis://user:s3c@ret@host:6379', 's3c@ret', 'redis://user:***@host:6379'],
      ['redis://user:s3c:ret@host', 's3c:ret', 'redis://user:***@host'],
      ['redis://user:s3c?ret#x@host', 's3c?ret#x', 'redis://user:***@host'],
      ['redis://user:s3c ret@ host', 's3c ret', 'redis://user:***@ host'],
      // Escaped, as a URL should have it.
      ['redis://user:s3c%40r%2Fet%3A@host', 's3c%40r%2Fet%3A', 'redis://user:***@host'],
      // A password where the user goes (ioredis sends it as AUTH's first argument).
      ['redis://s3cret@host:6379', SECRET, 'redis://***@host:6379'],
      // The query parameter ioredis reads as the password option, any case.
      ['redis://host:6379?password=s3cret', SECRET, 'redis://host:6379?password=***'],
      ['redis://host:6379/0?db=1&PASSWORD=s3cret', SECRET, 'redis://host:6379/0?db=1&PASSWORD=***'],
      ['redis://host?Password=s3c&ret#x&db=2', 's3c&ret#x', 'redis://host?Password=***'],
      ['redis://host?sentinelPassword=s3cret', SECRET, 'redis://host?sentinelPassword=***'],
      ['redis://host?password=s3c@ret', 's3c@ret', 'redis://***'],
      ['redis://u:a?password=s3cret@host', 'a?password=s3cret', 'redis://***'],
      // A host forgotten: the password sits where a port would.
      ['redis://:s3cret', SECRET, 'redis://:***'],
      ['redis://user:s3cret/0', SECRET, 'redis://user:***'],
      ['redis://:s3c/r?e#t', 's3c/r?e#t', 'redis://:***'],
      // Lists: cluster-style nodes, with or without a scheme.
      ['redis://:s3cret@h1:7000,redis://:s3cret@h2:7001', SECRET, 'redis://:***@h2:7001'],
      [':s3cret@h1:7000,h2:7001', SECRET, ':***@h1:7000,h2:7001'],
      ['h1:7000,user:s3cret@h2:7001', SECRET, 'h1:***@h2:7001'],
      ['s3cret@h1:7000,h2:7001', SECRET, '***@h1:7000,h2:7001'],
    ];
    for (const [input, secret, shown] of cases) {
      const out = redactUrl(input);
      expectHidden(out, secret, input);
      expect(out, input).toBe(shown);
    }
  });

  it('leaves a URL without a secret as it is', () => {
    for (const url of [
      'redis://127.0.0.1:6379',
      'redis://host:6379/2',
      'rediss://[::1]:6380',
      'redis://host?db=2&family=6',
      'h1:7000,h2:7001',
      'http://x',
      'BTC_USDT,ETH_USDT',
    ]) {
      expect(redactUrl(url)).toBe(url);
    }
  });

  it('hides random passwords of any characters, in any form (fast-check)', () => {
    const alphabet = 'abcXYZ019/@:?#&=%,;. !*\'"[]$';
    // The host is lower case and the password starts with "Q9" and ends
    // with "Z8": neither can be in what is legitimately shown, and any part
    // of the password left showing would hold one of them.
    const forms = [
      (p: string) => `redis://user:${p}@host:6379/0`,
      (p: string) => `redis://:${p}@host:6379`,
      (p: string) => `rediss://default:${encodeURIComponent(p)}@host:6380`,
      (p: string) => `redis://host:6379?password=${p}`,
      (p: string) => `redis://host:6379?db=0&Password=${encodeURIComponent(p)}`,
      (p: string) => `:${p}@h1:7000,h2:7001`,
      (p: string) => `redis://:${p}@h1:7000,redis://:${p}@h2:7001`,
      // A user name has no colon: the first one would end it.
      (p: string) => `redis://${p.replaceAll(':', '')}@host`,
      // Without a host, an `@` in the password would make one (`redis://:pw@rd`).
      (p: string) => `redis://:${p.replaceAll('@', '')}`,
    ];
    const middle = fc.array(fc.constantFrom(...alphabet), { maxLength: 12 }).map((cs) => cs.join(''));
    fc.assert(
      fc.property(middle, fc.nat(forms.length - 1), (m, f) => {
        const input = forms[f]!(`Q9${m}Z8`);
        const out = redactUrl(input);
        expect(/Q9|Z8/.test(out), `${JSON.stringify(input)} -> ${JSON.stringify(out)}`).toBe(false);
      }),
      fuzzParams(2_000),
    );
  });
});

describe('redactText', () => {
  it('hides URLs and the arguments of commands that carry a password', () => {
    const cases = [
      'Reached the max retries: redis://default:s3cret@127.0.0.1:6379 is unreachable',
      'Command queue state error. Last reply: HELLO 3 AUTH default s3cret',
      'ERR wrong number of arguments for AUTH default s3cret',
      'auth s3cret',
      'CONFIG SET requirepass s3cret',
      'ACL SETUSER app on >s3cret ~* +@all',
    ];
    for (const text of cases) expectHidden(redactText(text), SECRET, text);
    expect(redactText('WRONGPASS invalid username-password pair or user is disabled.')).toBe(
      'WRONGPASS invalid username-password pair or user is disabled.',
    );
    expect(redactText('connect ECONNREFUSED 127.0.0.1:6379')).toBe('connect ECONNREFUSED 127.0.0.1:6379');
  });
});

describe('secretHider', () => {
  it('replaces each secret as is, percent-encoded and JSON-escaped', () => {
    const hide = secretHider(['p@ss "word"\\x', undefined, 'ab'])!;
    const line = JSON.stringify({ a: 'p@ss "word"\\x', b: `redis://:${encodeURIComponent('p@ss "word"\\x')}@h`, c: 'ab stays' });
    const out = hide(line);
    expect(out).not.toContain('p@ss');
    expect(out).not.toContain('word');
    // Too short to hide without garbling everything: left alone.
    expect(out).toContain('ab stays');
    expect(JSON.parse(out)).toEqual({ a: '***', b: 'redis://:***@h', c: 'ab stays' });
    expect(secretHider([undefined, ''])).toBeUndefined();
  });

  it("takes an app's secrets from its configuration", () => {
    expect(configSecrets({ REDIS_URL: 'redis://u:s3c%40ret@h?sentinelPassword=other1', ADMIN_PASSWORD: 'admin-pw' }).sort()).toEqual(
      ['admin-pw', 'other1', 's3c%40ret', 's3c@ret'].sort(),
    );
    expect(urlSecrets('redis://127.0.0.1:6379')).toEqual([]);
    expect(urlSecrets('not a url')).toEqual([]);
  });
});
