import type { EntityInfo, Health, ShardInfo } from "../../contract/index.ts";
import { type ActiveEntity, Admission, type AdmissionLimits, type Cluster } from "../cluster/index.ts";

/** What the API needs from the runner: the resolvers of every procedure are built on these. */
export interface ApiServices {
  /** Calls an entity RPC wherever the entity lives. */
  callEntity(type: string, id: string, rpc: string, args: unknown, ctx: ApiContext): Promise<unknown>;
  /** Whether this runner hosts entities of `type` (the rest answer 501). */
  hasEntity(type: string): boolean;
  health(): Health;
  shards(): ShardInfo[];
  entities(localOnly: boolean): Promise<EntityInfo[]>;
}

/** Request-scoped context: the caller's idempotency key and deadline, if it sent them. */
export interface ApiContext {
  readonly requestId: string | undefined;
  /** `Request-Timeout` (ms): how long the caller waits; the cluster's default when absent. */
  readonly timeoutMs?: number | undefined;
}

const entityInfo = ({ address, runner }: ActiveEntity): EntityInfo => ({
  entity_type: address.type,
  entity_id: address.id,
  shard_id: address.shard,
  runner,
});

/**
 * The services of a runner's cluster, in the contract's shapes. With `admission`, the entity calls
 * this API has in flight (those waiting on a peer included) are bounded too: past `maxInflight`
 * a call is refused (503 overloaded) before any routing work.
 */
export function clusterServices(cluster: Cluster, admission?: Pick<AdmissionLimits, "maxInflight" | "onRefused">): ApiServices {
  const entry = admission && new Admission({ mailboxLimit: Number.POSITIVE_INFINITY, ...admission });
  const call = (type: string, id: string, rpc: string, args: unknown, { requestId, timeoutMs }: ApiContext) =>
    cluster.call(type, id, rpc, args, { requestId, timeoutMs });
  return {
    callEntity: entry ? (type, id, rpc, args, ctx) => entry.admit(0, `${type}/${id}`, () => call(type, id, rpc, args, ctx)) : call,
    hasEntity: (type) => cluster.has(type),
    health: () => ({
      status: "ok",
      runner: cluster.runnerId,
      mode: cluster.mode,
      shards_owned: cluster.shardsOwned,
      active_entities: cluster.activeEntityCount,
      entity_idle_ms: cluster.entityIdleMs,
    }),
    shards: () => cluster.shards().map((p) => ({ shard_id: p.shard, owner: p.owner ?? null, local: p.local })),
    entities: async (localOnly) => (localOnly ? cluster.localEntities() : await cluster.allEntities()).map(entityInfo),
  };
}
