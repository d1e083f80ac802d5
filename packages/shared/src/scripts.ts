/**
 * The Lua scripts, registered on a client with `defineCommand` (ioredis then
 * sends EVALSHA and falls back to EVAL). A line `--- @include "name"` pulls in
 * `lua/includes/name.lua`, so shared helpers are written once.
 */
import { readFileSync } from 'node:fs';
import type { Cluster, Redis, Result } from 'ioredis';

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
    addTicks(...keysAndArgs: (string | number | Buffer)[]): Result<(string | number)[], Context>;
    /** lua/close-pair.lua: returns [closed, revised, more, ...events]. */
    closePair(numKeys: number, ...keysAndArgs: (string | number)[]): Result<(string | number)[], Context>;
    /** lua/read-candles.lua: the forming candles' public JSON and the closed range as stored (candle-reads.ts candlesText). */
    readCandles(numKeys: number, ...keysAndArgs: (string | number)[]): Result<(string | number)[], Context>;
    /** lua/audit-record.lua: 1 when the batch was recorded, 0 when its cursor had moved meanwhile. */
    auditRecord(...keysAndArgs: (string | number)[]): Result<number, Context>;
  }
}

let sources: { addTicks: string; closePair: string; readCandles: string; auditRecord: string } | undefined;
const defined = new WeakSet<Redis | Cluster>();

/** Registers the scripts on a client (idempotent per client). */
export function defineScripts(redis: Redis | Cluster): void {
  sources ??= { addTicks: load('add-ticks.lua'), closePair: load('close-pair.lua'), readCandles: load('read-candles.lua'), auditRecord: load('audit-record.lua') };
  if (defined.has(redis)) return;
  defined.add(redis);
  redis.defineCommand('addTicks', { numberOfKeys: 6, lua: sources.addTicks });
  redis.defineCommand('closePair', { lua: sources.closePair });
  redis.defineCommand('readCandles', { lua: sources.readCandles, readOnly: true });
  redis.defineCommand('auditRecord', { numberOfKeys: 3, lua: sources.auditRecord });
}
