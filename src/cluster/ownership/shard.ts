/** Shards are numbered 0 … shardCount−1. */
export type ShardId = number;

/**
 * djb2 over UTF-16 code units, as an unsigned 32-bit integer: stable across processes and
 * runtimes, so every runner computes the same placement.
 */
export function keyHash(key: string): number {
  let hash = 5381;
  for (let i = 0; i < key.length; i++) {
    hash = (Math.imul(hash, 33) + key.charCodeAt(i)) >>> 0;
  }
  return hash;
}

/** The shard of an entity id (or singleton name). */
export function shardOf(key: string, shardCount: number): ShardId {
  return keyHash(key) % shardCount;
}
