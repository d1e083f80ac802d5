/**
 * Ownership by lease: one key per owned thing holding its owner's id, taken
 * with `SET NX PX`, renewed well before it lapses and given up on a clean
 * stop, each only by its holder (renew-lease-1.lua, release-lease-1.lua).
 * A holder that dies stops renewing: the key lapses and a live member takes
 * it. Members announce themselves with a heartbeat (heartbeat-1.lua) so each
 * can take its fair share.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { RedisClient } from './redis.js';
import { defineScripts } from './scripts.js';

/** An id unique to this process: the host and pid say where to look, the random part that a restart is someone else. */
export function processId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}

export class Leases {
  constructor(
    private readonly redis: RedisClient,
    /** This process's id, the value of every lease it holds. */
    readonly owner: string,
    /** How long a lease lives without a renewal (ms). */
    readonly ttlMs: number,
  ) {
    defineScripts(redis);
  }

  /** Takes the lease if nobody holds it. */
  async take(key: string): Promise<boolean> {
    return (await this.redis.set(key, this.owner, 'PX', this.ttlMs, 'NX')) === 'OK';
  }

  /**
   * Extends the lease if this process holds it, or takes it again if nobody
   * does (Redis lost it); false if another holds it. The caller must stop
   * renewing a lease it has not renewed for ttlMs (see renew-lease-1.lua).
   */
  async renew(key: string): Promise<boolean> {
    return (await this.redis.renewLease(key, this.owner, this.ttlMs)) === 1;
  }

  /** Gives the lease up if this process holds it. */
  async release(key: string): Promise<boolean> {
    return (await this.redis.releaseLease(key, this.owner)) === 1;
  }

  /** Who holds the lease now (null: nobody). */
  holder(key: string): Promise<string | null> {
    return this.redis.get(key);
  }

  /** This process is alive for another ttlMs; resolves with the number of live members, itself included. */
  heartbeat(members: string): Promise<number> {
    return this.redis.heartbeat(members, this.owner, this.ttlMs);
  }

  /** Leaves the members at once (a clean stop), so the others count without it. */
  async leave(members: string): Promise<void> {
    await this.redis.zrem(members, this.owner);
  }
}
