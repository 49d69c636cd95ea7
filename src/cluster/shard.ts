/** Shards are numbered 0 … shardCount−1. */
export type ShardId = number;

/**
 * The shard of an entity id (or singleton name): djb2 over UTF-16 code units, mod `shardCount`.
 * Stable across processes and runtimes, so every runner computes the same placement.
 */
export function shardOf(key: string, shardCount: number): ShardId {
  let hash = 5381;
  for (let i = 0; i < key.length; i++) {
    hash = (Math.imul(hash, 33) + key.charCodeAt(i)) >>> 0;
  }
  return hash % shardCount;
}
