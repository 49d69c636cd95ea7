/**
 * The framework's public face: what an entity author, or a runner that hosts entities, imports.
 * Everything else under src/cluster/ is machinery (mailboxes, ownership, transport, storage SQL)
 * that may change without notice; tests of that machinery reach in directly.
 */

// Running a cluster.
export type { ExecutionListing, Operator } from "./admin/operator.ts";
export type { CallOptions } from "./call.ts";
export { Cluster } from "./cluster.ts";
export type { ActiveEntity, ClusterMode, ClusterOptions, ShardPlacement } from "./cluster-options.ts";
export type { CronOptions, CronRun } from "./cron/cron.ts";
// Declaring entities, traits and workflows.
export type { EntityAddress } from "./entity/address.ts";
export type { EntityContext, ExecutionReader, Handler, SqlTransaction, TxWrite } from "./entity/context.ts";
export { defineEntity, type EntityDefinitionInput, type EntityType, type Handlers, type Workflows } from "./entity/definition.ts";
export { dictionary } from "./entity/dictionary.ts";
export type { EntityProtocol, RpcProtocol } from "./entity/protocol.ts";
export { defineStatelessEntity, type StatelessHandlers } from "./entity/stateless.ts";
// Errors.
export {
  badRequest,
  CLUSTER_ERROR_CODES,
  ClusterError,
  type ClusterErrorCode,
  DefinitionError,
  notFound,
  Overloaded,
  SignalTimeout,
  StepFailed,
  toClusterError,
} from "./errors.ts";
export type { Json } from "./json.ts";
export { limits } from "./limits.ts";
export { createLogger, type Logger, type LogLevel, silentLogger } from "./log.ts";
export { ClusterMetrics } from "./metrics/metrics.ts";
export type { RunnerTraffic, TrafficSample } from "./metrics/traffic.ts";
export { Admission, type AdmissionLimits, type RefusalHook, type RefusalReason } from "./overload.ts";
export { type ShardId, shardOf } from "./ownership/shard.ts";
export type { SingletonContext, SingletonOptions, SingletonRun, SingletonShutdownContext } from "./singleton/manager.ts";
export { openStorage, type Storage, type StorageOptions } from "./storage/database.ts";
/** For a runner process's uncaughtException handler: a known, harmless driver bug. */
export { isPostgresJsClosedSocketWrite } from "./storage/driver-bugs.ts";
export type { ListedTimer } from "./storage/timers/store.ts";
export type { ExecutionRecord, ExecutionStatus, StoredExecution, StoredJournalEntry } from "./storage/workflows/store.ts";
export type { PendingTimer, TimerEvent, Timers } from "./timers/timer.ts";
export type { ClusterTls, EtcdSecurity, HttpTls, PostgresSsl } from "./tls.ts";
export { formatTraceparent, parseTraceparent, startSpan, type TraceContext, traceFields } from "./trace.ts";
export { Auditable } from "./traits/auditable.ts";
export { defineTrait, type MutationEvent, type Trait, type TraitDefinition, type TraitRpc } from "./traits/trait.ts";
export { Versioned } from "./traits/versioned.ts";
export type { RunnerStatus } from "./transport/wire.ts";
export {
  type ActivityGroup,
  type BoundActivities,
  defineActivityGroup,
  type GroupActivities,
  type GroupActivity,
} from "./workflow/activity-group.ts";
export type {
  ActivityOptions,
  RetryPolicy,
  Signal,
  StepOptions,
  WorkflowContext,
  WorkflowDefinition,
} from "./workflow/definition.ts";
