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
  redis.defineCommand('closePair', { lua: sources.closePair });
  redis.defineCommand('readCandles', { lua: sources.readCandles, readOnly: true });
  redis.defineCommand('auditRecord', { numberOfKeys: 3, lua: sources.auditRecord });
  redis.defineCommand('importHistory', { numberOfKeys: 2, lua: sources.importHistory });
  redis.defineCommand('renewLease', { numberOfKeys: 1, lua: sources.renewLease });
  redis.defineCommand('releaseLease', { numberOfKeys: 1, lua: sources.releaseLease });
  redis.defineCommand('heartbeat', { numberOfKeys: 1, lua: sources.heartbeat });
}
