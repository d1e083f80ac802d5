import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { lines, log: createLogger('test', 'trace', stream) };
}

describe('createLogger', () => {
  it('never logs the password an ioredis error carries in its command', async () => {
    const redis = new Redis(REDIS_URL, { lazyConnect: true });
    await redis.connect();
    // A real refusal: ioredis puts the AUTH arguments on the error.
    const err = (await redis.call('AUTH', 'no-such-user', 's3cret-pw').catch((e: unknown) => e)) as Error & { command?: { args: string[] } };
    redis.disconnect();
    expect(err.command?.args).toContain('s3cret-pw');
    const { lines, log } = capture();
    log.error({ err }, 'redis failed');
    log.child({ component: 'x' }).warn(err, 'as the first argument');
    log.info({ context: { err } }, 'nested');
    expect(lines).toHaveLength(3);
    for (const line of lines) expect(line).not.toContain('s3cret');
    expect(JSON.parse(lines[0]!).err.command).toEqual({ name: 'AUTH', args: '***' });
  });

  it('never logs passwords, Authorization headers or a Redis URL by field name', () => {
    const { lines, log } = capture();
    log.info({ password: 's3cret', ADMIN_PASSWORD: 's3cret', REDIS_URL: 'redis://:s3cret@h:6379' }, 'top level');
    log.info({ config: { ADMIN_PASSWORD: 's3cret', REDIS_URL: 'redis://:s3cret@h' }, req: { headers: { authorization: 'Basic czNjcmV0' } } }, 'nested');
    log.info({ headers: { authorization: 'Basic czNjcmV0' } }, 'headers');
    expect(lines.join('')).not.toMatch(/s3cret|czNjcmV0/);
  });
});
