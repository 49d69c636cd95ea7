import type { ShardId } from "./shard.ts";

/**
 * Who serves which shard. Embedded and single mode own every shard; cluster mode derives ownership
 * from etcd membership and shard locks.
 */
export interface Ownership {
  readonly runnerId: string;
  /** The runner that serves `shard`, if any runner does right now. */
  ownerOf(shard: ShardId): string | undefined;
  /** True only while this runner may serve `shard` (it holds the lock and its lease is alive). */
  isLocal(shard: ShardId): boolean;
  ownedCount(): number;
  stop(): Promise<void>;
}

/** The runner is the whole cluster: it owns every shard, always. */
export class SoleOwnership implements Ownership {
  constructor(
    readonly runnerId: string,
    private readonly shardCount: number,
  ) {}
  ownerOf(): string {
    return this.runnerId;
  }
  isLocal(): boolean {
    return true;
  }
  ownedCount(): number {
    return this.shardCount;
  }
  async stop(): Promise<void> {}
}
