import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { onLibraryError } from './library-errors.js';
import { createLogger } from './logger.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { lines, log: createLogger('test', 'debug', stream) };
}

/** An error as ioredis makes it for a refused HELLO: the password in its command. */
function refusedHello(): Error {
  return Object.assign(new Error('WRONGPASS invalid username-password pair or user is disabled.'), {
    command: { name: 'hello', args: ['3', 'AUTH', 'default', 's3cret'] },
  });
}

describe('onLibraryError', () => {
  beforeEach(() => vi.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => vi.useRealTimers());

  it('logs the message only, once per kind per window, then how many were held back', () => {
    const { lines, log } = capture();
    const emitter = new EventEmitter();
    onLibraryError(emitter, log, 'close queue', { everyMs: 10_000 });
    // An outage: every connection fails on every retry.
    for (let i = 0; i < 50; i++) {
      emitter.emit('error', refusedHello());
      emitter.emit('error', Object.assign(new Error(`connect ECONNREFUSED 127.0.0.1:${6000 + i}`), { code: 'ECONNREFUSED' }));
      vi.advanceTimersByTime(100);
    }
    // 5 s in: one line of each kind.
    expect(lines.map((l) => l.msg)).toEqual([
      'close queue: WRONGPASS invalid username-password pair or user is disabled.',
      'close queue: connect ECONNREFUSED 127.0.0.1:6000',
    ]);
    expect(lines[0]).toMatchObject({ level: 40, what: 'close queue', err: 'WRONGPASS invalid username-password pair or user is disabled.' });
    expect(lines[1]).toMatchObject({ code: 'ECONNREFUSED' });
    vi.advanceTimersByTime(5_000);
    emitter.emit('error', refusedHello());
    expect(lines).toHaveLength(3);
    expect(lines[2]).toMatchObject({ held: 49 });
    expect(String(lines[2]!.msg)).toMatch(/\(49 more like it since the last such line\)$/);
    expect(JSON.stringify(lines)).not.toMatch(/s3cret|AUTH|args/);
  });

  it('redacts what a message may carry, and takes errors that are not Errors', () => {
    const { lines, log } = capture();
    const emitter = new EventEmitter();
    onLibraryError(emitter, log, 'worker', { level: 'error' });
    emitter.emit('error', new Error('Command queue state error. Last reply: HELLO 3 AUTH default s3cret'));
    emitter.emit('error', new Error('cannot reach redis://default:s3cret@10.0.0.1:6379'));
    emitter.emit('error', 'a string');
    expect(lines.map((l) => l.err)).toEqual([
      'Command queue state error. Last reply: HELLO 3 AUTH ***',
      'cannot reach redis://default:***@10.0.0.1:6379',
      'a string',
    ]);
    expect(lines.every((l) => l.level === 50)).toBe(true);
  });

  it('keeps an emitter from crashing the process, as a listener', () => {
    const { log } = capture();
    const emitter = new EventEmitter();
    onLibraryError(emitter, log, 'x');
    expect(() => emitter.emit('error', new Error('boom'))).not.toThrow();
  });
});

describe('createLogger with secrets', () => {
  it('hides each secret in every field and message, whatever put it there', () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const log = createLogger('test', 'info', stream, ['pa/ss@word', undefined]);
    log.info({ any: 'pa/ss@word', nested: { url: `redis://:${encodeURIComponent('pa/ss@word')}@h` } }, 'the password is pa/ss@word');
    log.child({ component: 'c' }).warn(new Error('pa/ss@word'), 'as an error');
    expect(lines).toHaveLength(2);
    for (const line of lines) {
      expect(line).not.toContain('pa/ss');
      expect(line).not.toContain('ss%40word');
      expect(() => JSON.parse(line) as unknown).not.toThrow();
    }
    expect(JSON.parse(lines[0]!)).toMatchObject({ any: '***', msg: 'the password is ***', nested: { url: 'redis://:***@h' } });
  });
});
