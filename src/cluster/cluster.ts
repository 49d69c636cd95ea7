import { type EntityAddress, formatAddress } from "./address.ts";
import type { EntityType } from "./entity.ts";
import { ClusterError } from "./errors.ts";
import type { Logger } from "./log.ts";
import { type Ownership, SoleOwnership } from "./ownership.ts";
import { type CallOptions, EntityRuntime } from "./runtime.ts";
import { shardOf } from "./shard.ts";
import type { Storage } from "./storage/database.ts";
import { EntityStore } from "./storage/entity-store.ts";

export type ClusterMode = "embedded" | "single" | "cluster";

export interface ClusterOptions {
  readonly mode: ClusterMode;
  readonly runnerId: string;
  readonly shardCount: number;
  readonly entityIdleMs: number;
  readonly storage: Storage;
  readonly log: Logger;
  readonly entities: readonly EntityType[];
}

export interface ShardView {
  readonly shard_id: number;
  readonly owner: string | null;
  readonly local: boolean;
}

export interface ActiveEntityView {
  readonly entity_type: string;
  readonly entity_id: string;
  readonly shard_id: number;
  readonly runner: string;
}

/** How long stored replies are kept for retries to find. */
const REPLY_RETENTION_MS = 24 * 3600 * 1000;

/**
 * A runner's view of the cluster: it routes each call to the owner of the entity's shard and
 * runs the calls for the shards it owns.
 */
export class Cluster {
  private readonly runtime: EntityRuntime;
  private readonly store: EntityStore;
  private readonly ownership: Ownership;
  private pruner: NodeJS.Timeout | undefined;

  constructor(private readonly options: ClusterOptions) {
    this.store = new EntityStore(options.storage.db);
    this.runtime = new EntityRuntime({ store: this.store, log: options.log, idleMs: options.entityIdleMs });
    for (const type of options.entities) this.runtime.register(type);
    this.ownership = new SoleOwnership(options.runnerId, options.shardCount);
  }

  get runnerId(): string {
    return this.options.runnerId;
  }

  get mode(): ClusterMode {
    return this.options.mode;
  }

  start(): void {
    this.runtime.start();
    const prune = () =>
      this.store
        .pruneReplies(new Date(Date.now() - REPLY_RETENTION_MS))
        .catch((err: unknown) => this.options.log.warn({ err }, "reply pruning failed"));
    this.pruner = setInterval(prune, 600_000);
    this.pruner.unref();
  }

  has(entityType: string): boolean {
    return this.runtime.has(entityType);
  }

  address(type: string, id: string): EntityAddress {
    return { type, id, shard: shardOf(id, this.options.shardCount) };
  }

  /** Calls `rpc` on the entity `(type, id)`, wherever it lives. */
  async call(type: string, id: string, rpc: string, args: unknown, options: CallOptions = {}): Promise<unknown> {
    const address = this.address(type, id);
    if (!this.ownership.isLocal(address.shard)) {
      throw new ClusterError("UNAVAILABLE", `no runner serves shard ${address.shard} of ${formatAddress(address)}`);
    }
    return this.runtime.call(address, rpc, args, options);
  }

  shards(): ShardView[] {
    return Array.from({ length: this.options.shardCount }, (_, shard) => ({
      shard_id: shard,
      owner: this.ownership.ownerOf(shard) ?? null,
      local: this.ownership.isLocal(shard),
    }));
  }

  /** Entities active on this runner. */
  localEntities(): ActiveEntityView[] {
    return this.runtime.activeEntities().map((a) => ({ entity_type: a.type, entity_id: a.id, shard_id: a.shard, runner: this.runnerId }));
  }

  get shardsOwned(): number {
    return this.ownership.ownedCount();
  }

  get activeEntityCount(): number {
    return this.runtime.activeCount;
  }

  /** Finishes in-flight turns, leaves the cluster, closes storage. */
  async shutdown(): Promise<void> {
    clearInterval(this.pruner);
    await this.runtime.stop();
    await this.ownership.stop();
    await this.options.storage.close();
  }
}
