import { describe, expect, it } from 'vitest';
import { ConfigError } from '@candlestack/shared';
import { boardAccess, isLoopbackAddress, parseBasicAuth } from './board.js';

describe('isLoopbackAddress', () => {
  it('knows 127.0.0.0/8 and ::1', () => {
    for (const a of ['127.0.0.1', '127.1.2.3', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) expect(isLoopbackAddress(a), a).toBe(true);
    for (const a of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.1', '128.0.0.1', '::ffff:10.0.0.1']) expect(isLoopbackAddress(a), a).toBe(false);
  });
});

describe('boardAccess', () => {
  it('opens the board on a loopback listener without credentials', async () => {
    expect(await boardAccess({ HOST: '127.0.0.1' })).toBeUndefined();
    expect(await boardAccess({ HOST: '::1' })).toBeUndefined();
    expect(await boardAccess({ HOST: 'localhost' })).toBeUndefined();
  });

  it('uses the credentials when given, wherever it listens', async () => {
    expect(await boardAccess({ HOST: '0.0.0.0', ADMIN_USER: 'a', ADMIN_PASSWORD: 'b' })).toEqual({ user: 'a', password: 'b' });
  });

  it('refuses any other address without credentials, in one line naming both variables', async () => {
    for (const HOST of ['0.0.0.0', '::', '10.1.2.3']) {
      const refusal = boardAccess({ HOST });
      await expect(refusal).rejects.toBeInstanceOf(ConfigError);
      await expect(refusal).rejects.toThrow(/^[^\n]*ADMIN_USER and ADMIN_PASSWORD[^\n]*$/);
    }
  });
});

describe('parseBasicAuth', () => {
  const header = (s: string) => `Basic ${Buffer.from(s).toString('base64')}`;
  it('splits at the first colon', () => {
    expect(parseBasicAuth(header('admin:pa:ss'))).toEqual({ user: 'admin', password: 'pa:ss' });
    expect(parseBasicAuth(header('admin:'))).toEqual({ user: 'admin', password: '' });
    expect(parseBasicAuth(`basic  ${Buffer.from('ünï:cødé').toString('base64')}`)).toEqual({ user: 'ünï', password: 'cødé' });
  });
  it('rejects anything else', () => {
    for (const h of [undefined, '', 'Basic', 'Bearer abc', header('no-colon'), 'Basic !!!', `${header('a:b')}==`, 'Basic YQ', 'Basic YR==']) {
      expect(parseBasicAuth(h), h).toBeUndefined();
    }
  });
});
