import type { EntityAddress } from "../entity/address.ts";
import type { EntityContext } from "../entity/context.ts";
import type { Json } from "../json.ts";
import type { ActivityGroup, BoundActivities, GroupActivities } from "./activity-group.ts";

/**
 * Retries a step or activity body before the workflow sees its error: attempt 2 waits `initialMs`,
 * each next wait `factor` (default 2) times longer, at most `maxMs`. Each failed attempt is
 * journaled with its error, and each wait is a durable sleep (it survives restarts).
 */
export interface RetryPolicy {
  readonly maxAttempts: number;
  readonly initialMs: number;
  readonly factor?: number;
  readonly maxMs?: number;
}

export interface StepOptions {
  readonly retry?: RetryPolicy;
}

export interface ActivityOptions<S, T> extends StepOptions {
  /**
   * Undoes the completed activity, as a turn of the entity, if the workflow later fails for good
   * (or is cancelled): compensations run in reverse order, each journaled and exactly-once.
   */
  readonly compensate?: (state: S, ctx: EntityContext, result: T) => Json | undefined | Promise<Json | undefined>;
}

/** A signal an execution may wait for; `cluster.signal(...)` delivers it, exactly once. */
export interface Signal<T> {
  readonly name: string;
  /**
   * Suspends the execution (no runner holds it) until the signal is delivered, and returns its
   * payload; a signal delivered earlier is returned at once. After `timeoutMs` without it, throws
   * SignalTimeout (the workflow fails, and compensates, unless it catches it).
   */
  wait(timeoutMs?: number): Promise<T>;
}

/**
 * What a workflow body may use. Each `step`, `activity`, `sleep` and signal wait is journaled under
 * its name (names are unique within an execution): when the execution runs again (a retry after a
 * failure, a resume after a crash, a handover or a wake-up) it returns the journaled result instead
 * of running the body again. A workflow body must therefore reach the same steps in the same order
 * on every run; its own code between steps runs again on each run.
 */
export interface WorkflowContext<S> {
  readonly self: EntityAddress;
  readonly execId: string;
  /** 1 on the first run of the execution; each resume, retry or wake-up adds one. */
  readonly attempt: number;
  /** Aborted when this runner stops running the execution (shard handed over, shutdown). */
  readonly abortSignal: AbortSignal;
  /**
   * Runs `body` unless `name` is journaled, and journals its result. A body that throws is not
   * journaled: the workflow gets the error, and a later run of the execution runs the body again.
   */
  step<T extends Json>(name: string, body: (signal: AbortSignal) => T | Promise<T>, options?: StepOptions): Promise<T>;
  /**
   * Runs `body` as a turn of this workflow's entity, unless `name` is journaled: its state change
   * and its journal entry commit in one transaction, or neither does (when it throws).
   */
  activity<T extends Json>(
    name: string,
    body: (state: S, ctx: EntityContext) => T | Promise<T>,
    options?: ActivityOptions<S, T>,
  ): Promise<T>;
  /** The activities of a group the entity mixes in (`activityGroups`), each run like `activity`. */
  use<A extends GroupActivities>(group: ActivityGroup<A>): BoundActivities<A>;
  /**
   * A durable sleep: the execution is suspended (dropped from memory) and a timer of its entity
   * wakes it `ms` after it first got here, on whichever runner then owns the shard.
   */
  sleep(name: string, ms: number): Promise<void>;
  /** A durable sleep until `until` (returns at once if that has passed). */
  sleepUntil(name: string, until: Date): Promise<void>;
  /** The signal `name` of this execution (see Signal). */
  signal<T extends Json>(name: string): Signal<T>;
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
