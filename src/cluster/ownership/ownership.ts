import { ClusterError } from "../errors.ts";
import type { ShardId } from "./shard.ts";

/** The runner's lease as operators see it (cluster mode only). */
export interface LeaseStatus {
  readonly lastKeepAlive: Date | undefined;
  readonly fencingDeadline: Date;
}

/** Told when this runner starts or stops serving shards (timers, workflows, singletons hook in). */
export interface ShardListener {
  /** The shards are now served here; runs before calls for them are accepted. */
  acquired?(shards: readonly ShardId[]): void | Promise<void>;
  /**
   * The shards are served here and calls for them accepted: start background work that makes
   * such calls (resumed workflows). Not awaited.
   */
  serving?(shards: readonly ShardId[]): void;
  /** The shards are leaving: new calls are already refused; settle in-flight work for them. */
  released?(shards: readonly ShardId[]): void | Promise<void>;
}

/**
 * Who serves which shard. Embedded and single mode own every shard; cluster mode derives ownership
 * from etcd membership and shard locks.
 */
export interface Ownership {
  readonly runnerId: string;
  start(): Promise<void>;
  /** The runner that serves `shard`, if any runner does right now. */
  ownerOf(shard: ShardId): string | undefined;
  /** True only while this runner accepts calls for `shard`. */
  isLocal(shard: ShardId): boolean;
  /** True while this runner may still write state of `shard` (also while handing it over). */
  mayCommit(shard: ShardId): boolean;
  ownedCount(): number;
  /** The live runners, this one included. */
  runners(): readonly string[];
  subscribe(listener: ShardListener): void;
  /** True while this runner holds its lease and is not draining: it may take shards. */
  ready(): boolean;
  /** Whether `runner` (this one by default) is draining, as this runner sees it. */
  isDraining(runner?: string): boolean;
  /** Drains (hands every shard to the others and takes none) or undrains this runner. */
  drain(on: boolean): Promise<void>;
  leaseStatus(): LeaseStatus | undefined;
  /** Hands every shard over (in-flight work finishes first) and leaves. */
  stop(): Promise<void>;
}

/** The runner is the whole cluster: it owns every shard, always. */
export class SoleOwnership implements Ownership {
  private readonly listeners: ShardListener[] = [];
  private started = false;
  private stopped = false;

  constructor(
    readonly runnerId: string,
    private readonly shardCount: number,
  ) {}

  private get all(): ShardId[] {
    return Array.from({ length: this.shardCount }, (_, s) => s);
  }

  async start(): Promise<void> {
    this.started = true;
    for (const l of this.listeners) await l.acquired?.(this.all);
    for (const l of this.listeners) l.serving?.(this.all);
  }
  ownerOf(): string {
    return this.runnerId;
  }
  isLocal(): boolean {
    return !this.stopped;
  }
  mayCommit(): boolean {
    return true;
  }
  ownedCount(): number {
    return this.stopped ? 0 : this.shardCount;
  }
  runners(): readonly string[] {
    return [this.runnerId];
  }
  subscribe(listener: ShardListener): void {
    this.listeners.push(listener);
  }
  ready(): boolean {
    return this.started && !this.stopped;
  }
  isDraining(): boolean {
    return false;
  }
  async drain(): Promise<void> {
    throw new ClusterError("CONFLICT", "a runner outside cluster mode is the whole cluster: there is no one to drain it to");
  }
  leaseStatus(): undefined {
    return undefined;
  }
  async stop(): Promise<void> {
    this.stopped = true;
    for (const l of this.listeners) await l.released?.(this.all);
  }
}
