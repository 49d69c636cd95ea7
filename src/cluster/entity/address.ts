import type { ShardId } from "../ownership/shard.ts";

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

/**
 * Why an entity id cannot be stored, if it cannot: ids are Postgres text (no U+0000) and travel as
 * UTF-8 (an unpaired surrogate would arrive as U+FFFD, in another shard, as another entity).
 */
export function unstorableId(id: string): string | undefined {
  return /[\0\p{Cs}]/u.test(id) ? "entity ids must not contain U+0000 or unpaired surrogates" : undefined;
}

export function formatAddress(address: { type: string; id: string }): string {
  return `${address.type}/${address.id}`;
}
