import type { Etcd3, IKeyValue, Watcher } from "etcd3";
import type { Logger } from "../log.ts";
import type { ShardId } from "./shard.ts";

/** The holder of a shard lock: the runner, and the lease (incarnation) it holds it under. */
export interface ShardHolder {
  readonly runner: string;
  readonly lease: string;
}

export interface TopologyChange {
  readonly runnersChanged: boolean;
  /** Shards whose lock was released (its key deleted). */
  readonly freed: readonly ShardId[];
}

/**
 * The cluster as etcd sees it: live runners (`{prefix}runners/{address}`), the draining ones, and shard lock holders
 * (`{prefix}shards/{shard}`). Loaded once, then kept current by a watch from the next revision,
 * so no change is missed and nothing polls.
 */
export class Topology {
  readonly runners = new Set<string>();
  /** Runners draining (`{prefix}draining/{address}`, under the runner's lease): no shard is assigned to them. */
  readonly draining = new Set<string>();
  readonly holders = new Map<ShardId, ShardHolder>();
  private watcher: Watcher | undefined;

  constructor(
    private readonly client: Etcd3,
    private readonly prefix: string,
    private readonly log: Logger,
    private readonly onChange: (change: TopologyChange) => void,
  ) {}

  static runnerKey(prefix: string, runner: string): string {
    return `${prefix}runners/${runner}`;
  }

  static drainingKey(prefix: string, runner: string): string {
    return `${prefix}draining/${runner}`;
  }

  static shardKey(prefix: string, shard: ShardId): string {
    return `${prefix}shards/${shard}`;
  }

  async start(): Promise<void> {
    const snapshot = await this.client.getAll().prefix(this.prefix).exec();
    for (const kv of snapshot.kvs) this.apply("put", kv);
    const next = (BigInt(snapshot.header.revision) + 1n).toString();
    this.watcher = await this.client.watch().prefix(this.prefix).startRevision(next).create();
    this.watcher.on("put", (kv) => this.changed(this.apply("put", kv)));
    this.watcher.on("delete", (kv) => this.changed(this.apply("delete", kv)));
    this.watcher.on("error", (error) => this.log.warn({ err: error }, "etcd watch error"));
    this.onChange({ runnersChanged: true, freed: [] });
  }

  async stop(): Promise<void> {
    await this.watcher?.cancel();
  }

  private changed(change: TopologyChange | undefined): void {
    if (change) this.onChange(change);
  }

  private apply(kind: "put" | "delete", kv: IKeyValue): TopologyChange | undefined {
    const key = kv.key.toString();
    if (!key.startsWith(this.prefix)) return undefined;
    const [section, name] = key.slice(this.prefix.length).split("/", 2) as [string, string | undefined];
    if (section === "runners" && name) {
      const had = this.runners.has(name);
      if (kind === "put") this.runners.add(name);
      else this.runners.delete(name);
      return had === (kind === "put") ? undefined : { runnersChanged: true, freed: [] };
    }
    if (section === "draining" && name) {
      const had = this.draining.has(name);
      if (kind === "put") this.draining.add(name);
      else this.draining.delete(name);
      return had === (kind === "put") ? undefined : { runnersChanged: true, freed: [] };
    }
    if (section === "shards" && name !== undefined) {
      const shard = Number(name);
      if (!Number.isInteger(shard)) return undefined;
      if (kind === "put") {
        this.holders.set(shard, { runner: kv.value.toString(), lease: kv.lease });
        return undefined;
      }
      this.holders.delete(shard);
      return { runnersChanged: false, freed: [shard] };
    }
    return undefined;
  }
}
