/**
 * The ingester's script call framed in one Buffer (scripts.ts
 * oneBufferScript, frameCommand): the same bytes as ioredis's own framing of
 * the same command, whatever the arguments, and the same answers from a
 * Redis, through EVAL on a new connection and NOSCRIPT after a SCRIPT FLUSH
 * (on a Redis of the test's own: the shared one is not flushed).
 */
import fc from 'fast-check';
import { Command, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { frameCommand, oneBufferScript } from '@candlestack/shared';
import { fuzzParams, unicode } from './support/fuzz.js';
import { PrivateRedis } from './support/redis-server.js';

const SHA = '0123456789abcdef0123456789abcdef01234567';

const arg = fc.oneof(
  unicode(40),
  fc.stringMatching(/^[ -~]{0,40}$/),
  fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  fc.integer(),
  fc.double(),
  fc.constantFrom(0, -0, 2 ** 53, 2 ** 60, 1e21, -1e300, Number.MAX_SAFE_INTEGER + 2),
  fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
  // A view of a larger Buffer (as the batch's candles are).
  fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 100 }), fc.nat(), fc.nat()).map(([a, x, y]) => Buffer.from(a).subarray(Math.min(x, y) % a.length, Math.max(x, y) % a.length)),
);

/** What ioredis writes to the socket for the command. */
function ioredisBytes(name: string, script: string, keys: number, args: readonly (string | number | Buffer)[]): Buffer {
  const w = new Command(name, [script, keys, ...args]).toWritable({});
  return typeof w === 'string' ? Buffer.from(w, 'utf8') : w;
}

describe('frameCommand', () => {
  it('writes the bytes ioredis writes for the same command (fuzzed)', () => {
    fc.assert(
      fc.property(fc.array(arg, { maxLength: 60 }), fc.nat(6), fc.boolean(), (args, keys, withEval) => {
        const name = withEval ? 'eval' : 'evalsha';
        const script = withEval ? 'return {KEYS[1], ARGV[1]} -- é ☃' : SHA;
        expect(frameCommand(name, script, keys, args).equals(ioredisBytes(name, script, keys, args))).toBe(true);
      }),
      fuzzParams(500),
    );
  });
});

describe('oneBufferScript', () => {
  const LUA = `-- ${Date.now()} ${Math.random()}\nreturn {KEYS[1], KEYS[2], ARGV[1], ARGV[2], tostring(#ARGV), ARGV[#ARGV]}`;
  let server: PrivateRedis;
  let a: Redis;
  let b: Redis;
  beforeAll(async () => {
    server = await PrivateRedis.start();
    a = new Redis(server.url);
    b = new Redis(server.url);
    b.defineCommand('viaIoredis', { numberOfKeys: 2, lua: LUA });
  });
  afterAll(async () => {
    a.disconnect();
    b.disconnect();
    await server.destroy();
  });

  it('answers as defineCommand does: on a new connection (EVAL), after (EVALSHA), and after SCRIPT FLUSH (NOSCRIPT, sent again)', async () => {
    const call = oneBufferScript(a, LUA, 2);
    const args: (string | number | Buffer)[] = ['k:{x}:1', 'k:{x}:2', 60_000, 'é', Buffer.from('{"time":1}'), Buffer.alloc(0), 1_704_067_200_000];
    const viaIoredis = () => (b as unknown as { viaIoredis(...a: unknown[]): Promise<unknown> }).viaIoredis(...args);
    const expected = ['k:{x}:1', 'k:{x}:2', '60000', 'é', '5', '1704067200000'];
    expect(await viaIoredis()).toEqual(expected);
    expect(await call(...args)).toEqual(expected);
    expect(await call(...args)).toEqual(expected);
    await a.script('FLUSH');
    expect(await call(...args)).toEqual(expected);
    expect(await call(...args)).toEqual(expected);
    // A script error reaches the caller as ioredis's would.
    const failing = oneBufferScript(a, 'return redis.call("INCR", KEYS[1])', 1);
    await a.set('k:{x}:text', 'x');
    await expect(failing('k:{x}:text')).rejects.toThrow(/not an integer/);
  });
});
