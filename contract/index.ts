/**
 * The whole API surface, declared once. Entity groups carry their entity type; the others are
 * served by the runner itself (health, debug).
 */
import { activity } from "./activity.ts";
import { activityGroup } from "./activity-group.ts";
import { admin } from "./admin.ts";
import { approval } from "./approval.ts";
import { counter } from "./counter.ts";
import { cron } from "./cron.ts";
import { cross } from "./cross.ts";
import { dashboard } from "./dashboard.ts";
import { type EntityContract, isRouted } from "./entity.ts";
import { kv } from "./kv.ts";
import type { Procedure } from "./procedure.ts";
import { singleton } from "./singleton.ts";
import { sqlActivity } from "./sql-activity.ts";
import { statelessCounter } from "./stateless-counter.ts";
import { system } from "./system.ts";
import { ticker } from "./ticker.ts";
import { timer } from "./timer.ts";
import { trait } from "./trait.ts";
import { workflow } from "./workflow.ts";

export const entities = {
  counter,
  kv,
  workflow,
  activity,
  trait,
  timer,
  cross,
  singleton,
  sqlActivity,
  statelessCounter,
  ticker,
  activityGroup,
  approval,
  cron,
};
export const services = { system, admin, dashboard };
export const contract = { ...entities, ...services };
export type Contract = typeof contract;

/** A contract: groups of entity RPCs (with their entity type) or of the runner's own procedures. */
export type AnyContract = Readonly<Record<string, EntityContract | Readonly<Record<string, Procedure>>>>;

/** One routed procedure of a contract, with its group (and its entity, for entity groups). */
export interface ListedProcedure {
  readonly group: string;
  readonly name: string;
  readonly procedure: Procedure;
  readonly entity: EntityContract | undefined;
}

/** Every routed procedure of `of` (the runner's contract by default): what the adapters and the client iterate. */
export function procedureList(of: AnyContract = contract): ListedProcedure[] {
  return Object.entries(of).flatMap(([group, declared]): ListedProcedure[] => {
    if (isEntityContract(declared)) {
      return Object.entries(declared.rpcs).flatMap(([name, rpc]) =>
        isRouted(rpc) ? [{ group, name, procedure: rpc, entity: declared }] : [],
      );
    }
    return Object.entries(declared).map(([name, procedure]) => ({ group, name, procedure, entity: undefined }));
  });
}

function isEntityContract(group: EntityContract | Readonly<Record<string, Procedure>>): group is EntityContract {
  return typeof group.type === "string" && "rpcs" in group;
}

export { ActivityRecord } from "./activity.ts";
export { OrderResult, OrderStep } from "./activity-group.ts";
export * from "./admin.ts";
export { ApprovalExecution, CHARGE_MAX_ATTEMPTS, MAX_APPROVAL_WAIT_MS } from "./approval.ts";
export { CRON_TEST_NAME, CronRunRecord, MAX_CRON_RUNS } from "./cron.ts";
export { Message } from "./cross.ts";
export * from "./dashboard.ts";
export * from "./entity.ts";
export * from "./procedure.ts";
export { LeaderRecord, SINGLETON_NAME } from "./singleton.ts";
export { SqlAccountState, TransferAmount } from "./sql-activity.ts";
export { DOCS_ASSETS, EntityInfo, Health, PROMETHEUS_TEXT, RawAsset, ShardInfo } from "./system.ts";
export { TICKER_NAME, TickerState } from "./ticker.ts";
export { MAX_TIMER_DELAY_MS, TimerFire, TimerInfo } from "./timer.ts";
export { AuditEntry, auditable, versioned } from "./traits.ts";
export * from "./values.ts";
export { WorkflowExecution, WorkflowStatus } from "./workflow.ts";
export {
  activity,
  activityGroup,
  approval,
  counter,
  cron,
  cross,
  kv,
  singleton,
  sqlActivity,
  statelessCounter,
  system,
  ticker,
  timer,
  trait,
  workflow,
};
