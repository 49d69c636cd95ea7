import type { ShardId } from "./shard.ts";

/** Where an entity lives: its type, its id, and the shard its id hashes to. */
export interface EntityAddress {
  readonly type: string;
  readonly id: string;
  readonly shard: ShardId;
}

/** A compact, unambiguous key for maps (type names never contain a NUL). */
export function addressKey(type: string, id: string): string {
  return `${type}\u0000${id}`;
}

export function formatAddress(address: { type: string; id: string }): string {
  return `${address.type}/${address.id}`;
}
