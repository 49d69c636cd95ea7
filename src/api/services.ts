import type { EntityInfo, Health, ShardInfo } from "../../contract/index.ts";
import {
  type ActiveEntity,
  Admission,
  type AdmissionLimits,
  type Cluster,
  ClusterError,
  type Json,
  type Operator,
  type Overloaded,
  type TraceContext,
} from "../cluster/index.ts";
import type { DashboardSource } from "./dashboard/dashboard.ts";

/** What the API needs from the runner: the resolvers of every procedure are built on these. */
export interface ApiServices {
  /** Calls an entity RPC wherever the entity lives. */
  callEntity(type: string, id: string, rpc: string, args: unknown, ctx: ApiContext): Promise<unknown>;
  /** Whether this runner hosts entities of `type` (the rest answer 501). */
  hasEntity(type: string): boolean;
  health(): Health;
  /** False until the runner holds its lease, and while it drains (GET /ready, Kubernetes readiness). */
  ready(): boolean;
  /** The operator API's view of the cluster (the /admin routes), if the service has them. */
  readonly operator?: Operator;
  /** Delivers a workflow signal, exactly once. */
  signal(type: string, id: string, execId: string, name: string, payload: Json, ctx: ApiContext): Promise<null>;
  shards(): ShardInfo[];
  entities(localOnly: boolean): Promise<EntityInfo[]>;
  /** The dashboard's sources (a runner serving a contract without the dashboard needs none). */
  readonly dashboard?: DashboardSource;
  /** The Prometheus text of this runner's metrics. */
  metrics(): Promise<string>;
  /** Records an HTTP request, by route template (never the raw path). */
  observeRequest(method: string, route: string, status: number, seconds: number): void;
  /** With an entry bound: the refusal an entity call arriving now gets (see api/early-refusal.ts), if any. */
  refusalNow?(): Overloaded | undefined;
}

/** Request-scoped context: the caller's idempotency key and deadline, if it sent them. */
export interface ApiContext {
  readonly requestId: string | undefined;
  /** `Request-Timeout` (ms): how long the caller waits; the cluster's default when absent. */
  readonly timeoutMs?: number | undefined;
  /** The request's span: the call carries it to the owner and into the calls it makes. */
  readonly trace?: TraceContext | undefined;
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
export function clusterServices(
  cluster: Cluster,
  extras: { dashboard?: DashboardSource; admission?: Pick<AdmissionLimits, "maxInflight" | "onRefused"> } = {},
): ApiServices {
  const { admission, ...rest } = extras;
  const entry = admission && new Admission({ mailboxLimit: Number.POSITIVE_INFINITY, ...admission });
  const call = (type: string, id: string, rpc: string, args: unknown, { requestId, timeoutMs, trace }: ApiContext) =>
    cluster.call(type, id, rpc, args, { requestId, timeoutMs, trace });
  return {
    ...rest,
    callEntity: entry ? (type, id, rpc, args, ctx) => entry.admit(0, `${type}/${id}`, () => call(type, id, rpc, args, ctx)) : call,
    ...(entry ? { refusalNow: () => entry.refusalNow() } : {}),
    hasEntity: (type) => cluster.has(type),
    ready: () => cluster.ready,
    operator: cluster.operator,
    health: () => ({
      status: "ok",
      runner: cluster.runnerId,
      mode: cluster.mode,
      ready: cluster.ready,
      shards_owned: cluster.shardsOwned,
      active_entities: cluster.activeEntityCount,
      active_executions: cluster.activeExecutionCount,
      entity_idle_ms: cluster.entityIdleMs,
    }),
    signal: async (type, id, execId, name, payload, { trace }) => {
      if (!cluster.has(type)) throw new ClusterError("NOT_IMPLEMENTED", `${type} is not hosted by this runner`);
      await cluster.signal(type, id, execId, name, payload, { trace });
      return null;
    },
    shards: () => cluster.shards().map((p) => ({ shard_id: p.shard, owner: p.owner ?? null, local: p.local })),
    entities: async (localOnly) => (localOnly ? cluster.localEntities() : await cluster.allEntities()).map(entityInfo),
    metrics: () => cluster.metrics.text(),
    observeRequest: (method, route, status, seconds) => {
      const http = cluster.metrics.http;
      http.requests.inc({ method, route, status: String(status) });
      http.duration.observe({ method, route }, seconds);
    },
  };
}
