import type { EntityAddress } from "../entity/address.ts";
import type { EntityContext } from "../entity/context.ts";
import type { Json } from "../json.ts";
import type { ActivityGroup, BoundActivities, GroupActivities } from "./activity-group.ts";

/**
 * What a workflow body may use. Each `step` and `activity` is journaled under its name: when the
 * execution runs again (a retry after a failure, a resume after a crash or a handover) it returns
 * the journaled result instead of running the body again. A workflow body must therefore reach the
 * same steps in the same order on every run; its own code between steps runs again on each run.
 */
export interface WorkflowContext<S> {
  readonly self: EntityAddress;
  readonly execId: string;
  /** 1 on the first run of the execution; each resume or retry adds one. */
  readonly attempt: number;
  /** Aborted when this runner stops running the execution (shard handed over, shutdown). */
  readonly signal: AbortSignal;
  /**
   * Runs `body` unless `name` is journaled, and journals its result. A body that throws is not
   * journaled: the workflow gets the error, and a later run of the execution runs the body again.
   */
  step<T extends Json>(name: string, body: (signal: AbortSignal) => T | Promise<T>): Promise<T>;
  /**
   * Runs `body` as a turn of this workflow's entity, unless `name` is journaled: its state change
   * and its journal entry commit in one transaction, or neither does (when it throws).
   */
  activity<T extends Json>(name: string, body: (state: S, ctx: EntityContext) => T | Promise<T>): Promise<T>;
  /** The activities of a group the entity mixes in (`activityGroups`), each run like `activity`. */
  use<A extends GroupActivities>(group: ActivityGroup<A>): BoundActivities<A>;
}

/** An RPC that runs as a durable workflow of its entity, outside the entity's mailbox. */
export interface WorkflowDefinition<S, A, O> {
  /** The execution's id, from the arguments: running an id again joins or resumes that execution. */
  readonly execId: (args: A) => string;
  readonly run: (wf: WorkflowContext<S>, args: A) => Promise<O>;
}

export type WorkflowImplementation = WorkflowDefinition<unknown, unknown, unknown> & {
  /** The activity groups its entity mixes in. */
  readonly groups?: readonly ActivityGroup[];
};
