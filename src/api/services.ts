import type { EntityInfo, Health, ShardInfo } from "../../contract/index.ts";
import { type ActiveEntity, type Cluster, ClusterError, type Json } from "../cluster/index.ts";

/** What the API needs from the runner: the resolvers of every procedure are built on these. */
export interface ApiServices {
  /** Calls an entity RPC wherever the entity lives. */
  callEntity(type: string, id: string, rpc: string, args: unknown, requestId: string | undefined): Promise<unknown>;
  /** Whether this runner hosts entities of `type` (the rest answer 501). */
  hasEntity(type: string): boolean;
  health(): Health;
  /** Delivers a workflow signal, exactly once. */
  signal(type: string, id: string, execId: string, name: string, payload: Json): Promise<null>;
  shards(): ShardInfo[];
  entities(localOnly: boolean): Promise<EntityInfo[]>;
}

/** Request-scoped context: the caller's idempotency key, if it sent one. */
export interface ApiContext {
  readonly requestId: string | undefined;
}

const entityInfo = ({ address, runner }: ActiveEntity): EntityInfo => ({
  entity_type: address.type,
  entity_id: address.id,
  shard_id: address.shard,
  runner,
});

/** The services of a runner's cluster, in the contract's shapes. */
export function clusterServices(cluster: Cluster): ApiServices {
  return {
    callEntity: (type, id, rpc, args, requestId) => cluster.call(type, id, rpc, args, { requestId }),
    hasEntity: (type) => cluster.has(type),
    health: () => ({
      status: "ok",
      runner: cluster.runnerId,
      mode: cluster.mode,
      shards_owned: cluster.shardsOwned,
      active_entities: cluster.activeEntityCount,
      active_executions: cluster.activeExecutionCount,
      entity_idle_ms: cluster.entityIdleMs,
    }),
    signal: async (type, id, execId, name, payload) => {
      if (!cluster.has(type)) throw new ClusterError("NOT_IMPLEMENTED", `${type} is not hosted by this runner`);
      await cluster.signal(type, id, execId, name, payload);
      return null;
    },
    shards: () => cluster.shards().map((p) => ({ shard_id: p.shard, owner: p.owner ?? null, local: p.local })),
    entities: async (localOnly) => (localOnly ? cluster.localEntities() : await cluster.allEntities()).map(entityInfo),
  };
}
