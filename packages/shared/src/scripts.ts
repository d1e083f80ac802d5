/**
 * The Lua scripts, registered on a client with `defineCommand` (ioredis then
 * sends EVALSHA and falls back to EVAL). A line `--- @include "name"` pulls in
 * `lua/includes/name.lua`, so shared helpers are written once.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Command, Redis, type Cluster, type Result } from 'ioredis';
import { slab, slabAt, slabUsed } from './slab.js';

const LUA_DIR = new URL('./lua/', import.meta.url);

function load(file: string): string {
  const text = readFileSync(new URL(file, LUA_DIR), 'utf8');
  return text.replace(/^--- @include "([a-z-]+)"$/gm, (_, name: string) =>
    readFileSync(new URL(`includes/${name}.lua`, LUA_DIR), 'utf8'),
  );
}

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** lua/add-ticks.lua: returns [added, late], or [-1, index, kind, ...] when some trades are not new or too old. */
    addTicks(numKeys: number, ...keysAndArgs: (string | number | Buffer)[]): Result<(string | number)[], Context>;
    /** lua/close-pair.lua: returns [closed, revised, more, ...events]. */
    closePair(numKeys: number, ...keysAndArgs: (string | number)[]): Result<(string | number)[], Context>;
    /** lua/read-candles.lua: the forming candles' public JSON and the closed range as stored (candle-reads.ts candlesText). */
    readCandles(numKeys: number, ...keysAndArgs: (string | number)[]): Result<(string | number)[], Context>;
    /** lua/audit-record.lua: 1 when the batch was recorded, 0 when its cursor had moved meanwhile. */
    auditRecord(...keysAndArgs: (string | number)[]): Result<number, Context>;
    /** lua/import-history.lua: { status, hs, hp, hm, hb, hx } after the step (history.ts). */
    importHistory(...keysAndArgs: (string | number)[]): Result<(string | number)[], Context>;
    /** lua/renew-lease-1.lua: 1 if renewed (or taken again, being free), 0 if another holds the lease. */
    renewLease(key: string, owner: string, ttlMs: number): Result<number, Context>;
    /** lua/release-lease-1.lua: 1 if released, 0 if the caller did not hold the lease. */
    releaseLease(key: string, owner: string): Result<number, Context>;
    /** lua/heartbeat-1.lua: the number of live ingesters, the caller included. */
    heartbeat(key: string, id: string, ttlMs: number): Result<number, Context>;
  }
}

let sources: Record<'addTicks' | 'closePair' | 'readCandles' | 'auditRecord' | 'importHistory' | 'renewLease' | 'releaseLease' | 'heartbeat', string> | undefined;
const defined = new WeakSet<Redis | Cluster>();

/** Registers the scripts on a client (idempotent per client). */
export function defineScripts(redis: Redis | Cluster): void {
  sources ??= {
    addTicks: load('add-ticks.lua'),
    closePair: load('close-pair.lua'),
    readCandles: load('read-candles.lua'),
    auditRecord: load('audit-record.lua'),
    importHistory: load('import-history.lua'),
    renewLease: load('renew-lease-1.lua'),
    releaseLease: load('release-lease-1.lua'),
    heartbeat: load('heartbeat-1.lua'),
  };
  if (defined.has(redis)) return;
  defined.add(redis);
  redis.defineCommand('addTicks', { lua: sources.addTicks });
  // The ingester's one hot call: framed in one Buffer (see oneBufferScript).
  if (redis instanceof Redis && !redis.options.keyPrefix && !redis.options.enableAutoPipelining) {
    redis.addTicks = oneBufferScript(redis, sources.addTicks) as Redis['addTicks'];
  }
  redis.defineCommand('closePair', { lua: sources.closePair });
  redis.defineCommand('readCandles', { lua: sources.readCandles, readOnly: true });
  redis.defineCommand('auditRecord', { numberOfKeys: 3, lua: sources.auditRecord });
  redis.defineCommand('importHistory', { numberOfKeys: 2, lua: sources.importHistory });
  redis.defineCommand('renewLease', { numberOfKeys: 1, lua: sources.renewLease });
  redis.defineCommand('releaseLease', { numberOfKeys: 1, lua: sources.releaseLease });
  redis.defineCommand('heartbeat', { numberOfKeys: 1, lua: sources.heartbeat });
}

type Arg = string | number | Buffer;

/**
 * A script call as ioredis's defineCommand makes it (EVAL with the source
 * the first time on a connection, EVALSHA after; on NOSCRIPT, sent again
 * as EVAL), the same bytes on the wire, but written by frameCommand into
 * one Buffer: ioredis's own framing measures, encodes and copies each
 * argument through a list of strings and Buffers, about a tenth of the
 * ingester's CPU when a script call carries hundreds of arguments. The
 * Command holds only the script and its keys as its arguments (what ioredis
 * reads of them: a debug line, the keys), the whole list for toWritable.
 * For a standalone client without a key prefix or auto-pipelining (a
 * Cluster, or either option, keeps defineCommand's).
 */
export function oneBufferScript(redis: Redis, lua: string, numberOfKeys?: number): (...args: Arg[]) => Promise<unknown> {
  const sha = createHash('sha1').update(lua).digest('hex');
  // Connections the script was sent on (Script's own rule).
  const loaded = new WeakSet<object>();
  class OneBufferCommand extends Command {
    constructor(
      private readonly keyCount: number,
      private readonly all: readonly Arg[],
    ) {
      super('evalsha', [sha, keyCount, ...all.slice(0, keyCount)], { replyEncoding: 'utf8' });
    }

    override toWritable(socket: object): Buffer {
      const reject = this.reject;
      this.reject = (err: Error) => {
        if (err.message.includes('NOSCRIPT')) loaded.delete(socket);
        reject.call(this, err);
      };
      if (!loaded.has(socket)) {
        loaded.add(socket);
        this.name = 'eval';
        return frameCommand('eval', lua, this.keyCount, this.all);
      }
      this.name = 'evalsha';
      return frameCommand('evalsha', sha, this.keyCount, this.all);
    }
  }
  // Without numberOfKeys, the call's first argument is the number of keys (as for ioredis's own).
  return (...args: Arg[]) => {
    const keys = numberOfKeys ?? Number(args[0]);
    const all = numberOfKeys === undefined ? args.slice(1) : args;
    const cmd = new OneBufferCommand(keys, all);
    cmd.promise = cmd.promise.catch((err: Error) => {
      if (!err.message.includes('NOSCRIPT')) throw err;
      return redis.sendCommand(new OneBufferCommand(keys, all));
    });
    return redis.sendCommand(cmd) as Promise<unknown>;
  };
}

/**
 * The bytes ioredis writes for `name script numberOfKeys ...args` (RESP:
 * `*<count>`, then `$<byte length>` and the bytes of each), with its rules
 * for arguments: strings as UTF-8, Buffers as they are, numbers as their
 * decimal text (an integer beyond 2^53 written in full), null and undefined
 * empty.
 */
export function frameCommand(name: string, script: string, numberOfKeys: number, args: readonly Arg[]): Buffer {
  const count = String(numberOfKeys);
  // `*`, the count and CRLF; then three arguments as below.
  let size = 19 + 3 * 21 + name.length + count.length + Buffer.byteLength(script);
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    // `$`, at most 16 digits of length, CRLF twice.
    size += 21 + (typeof a === 'number' ? (Number.isSafeInteger(a) && a >= 0 ? 16 : argText(a).length) : typeof a === 'string' ? Buffer.byteLength(a) : a.length);
  }
  const b = slab(size);
  const start = slabAt;
  let o = start;
  b[o++] = STAR;
  o = writeInt(b, o, args.length + 3);
  o = crlf(b, o);
  o = stringArg(b, o, name);
  o = stringArg(b, o, script);
  o = stringArg(b, o, count);
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (typeof a === 'string') o = stringArg(b, o, a);
    else if (typeof a === 'number') {
      if (Number.isSafeInteger(a) && a >= 0) {
        b[o++] = DOLLAR;
        o = writeInt(b, o, digitCount(a));
        o = crlf(b, o);
        o = writeInt(b, o, a);
        o = crlf(b, o);
      } else o = stringArg(b, o, argText(a));
    } else if (a == null) o = stringArg(b, o, '');
    else {
      b[o++] = DOLLAR;
      o = writeInt(b, o, a.length);
      o = crlf(b, o);
      b.set(a, o);
      o = crlf(b, o + a.length);
    }
  }
  slabUsed(o);
  if (o - start > size) throw new Error(`frameCommand: ${o - start} bytes written into ${size}`);
  return b.subarray(start, o);
}

const STAR = 0x2a;
const DOLLAR = 0x24;

/** ioredis's toArg of a number. */
const argText = (a: number) => (Number.isInteger(a) && !Number.isSafeInteger(a) ? BigInt(a).toString() : String(a));

function crlf(b: Buffer, o: number): number {
  b[o] = 0x0d;
  b[o + 1] = 0x0a;
  return o + 2;
}

function stringArg(b: Buffer, o: number, s: string): number {
  b[o++] = DOLLAR;
  // ASCII (keys, numbers, the sha) byte by byte; anything else as UTF-8.
  let ascii = true;
  for (let k = 0; k < s.length; k++) {
    if (s.charCodeAt(k) > 0x7f) {
      ascii = false;
      break;
    }
  }
  if (ascii) {
    o = writeInt(b, o, s.length);
    o = crlf(b, o);
    for (let k = 0; k < s.length; k++) b[o++] = s.charCodeAt(k);
  } else {
    o = writeInt(b, o, Buffer.byteLength(s));
    o = crlf(b, o);
    o += b.write(s, o, 'utf8');
  }
  return crlf(b, o);
}

function digitCount(v: number): number {
  let n = 1;
  while (v >= 10) {
    v = Math.floor(v / 10);
    n++;
  }
  return n;
}

/** A non-negative safe integer's digits at `o`. */
function writeInt(b: Buffer, o: number, v: number): number {
  const end = o + digitCount(v);
  let k = end;
  do {
    const q = Math.floor(v / 10);
    b[--k] = 48 + (v - q * 10);
    v = q;
  } while (v > 0);
  return end;
}
