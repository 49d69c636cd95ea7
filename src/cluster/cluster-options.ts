import type { EntityAddress } from "./entity/address.ts";
import type { EntityType } from "./entity/definition.ts";
import type { Logger } from "./log.ts";
import type { AdmissionLimits } from "./overload.ts";
import type { ShardId } from "./ownership/shard.ts";
import type { Storage } from "./storage/database.ts";
import type { ClusterTls, EtcdSecurity } from "./tls.ts";

/** What a Cluster is made with, and the views of it that it gives out. */

export type ClusterMode = "embedded" | "single" | "cluster";

export interface ClusterOptions {
  readonly mode: ClusterMode;
  readonly runnerId: string;
  readonly shardCount: number;
  readonly entityIdleMs: number;
  readonly storage: Storage;
  readonly log: Logger;
  readonly entities: readonly EntityType[];
  /** Cluster mode: membership and shard locks in etcd, calls forwarded over gRPC. */
  readonly etcd?: {
    readonly endpoints: readonly string[];
    readonly prefix: string;
    readonly leaseTtlMs: number;
    /** Where the gRPC server binds, when not on the runner's address. */
    readonly grpcListen?: string | undefined;
    /** JSON-lines file receiving this runner's shard ownership intervals. */
    readonly ownershipLog?: string | undefined;
    /** TLS and user for etcd. */
    readonly security?: EtcdSecurity | undefined;
  };
  /** Shared secret peers present on gRPC calls. */
  readonly secret?: string | undefined;
  /** Instrumentation (on by default); `processMetrics` adds prom-client's process metrics (one per process). */
  readonly metrics?: { readonly enabled: boolean; readonly processMetrics?: boolean };
  /** Mutual TLS between runners. */
  readonly tls?: ClusterTls | undefined;
  /** Bounds past which calls are refused (OVERLOADED), and the refusal hook for metrics. */
  readonly admission?: AdmissionLimits;
}

/** Who serves a shard, as this runner sees it. */
export interface ShardPlacement {
  readonly shard: ShardId;
  readonly owner: string | undefined;
  readonly local: boolean;
}

/** An entity active in memory on some runner. */
export interface ActiveEntity {
  readonly address: EntityAddress;
  readonly runner: string;
}
