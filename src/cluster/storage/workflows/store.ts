import type { Json } from "../../json.ts";
import type { SqlHandle } from "../database.ts";
import type { Statement } from "../statement.ts";

/** An execution: the entity it belongs to and the caller's exec id. */
export interface ExecutionKey {
  readonly type: string;
  readonly id: string;
  readonly execId: string;
}

export type ExecutionStatus =
  | "running"
  | "completed"
  | "failed"
  /** Ended by an operator, with nothing to compensate; never claimed again. */
  | "cancelled"
  /** Waiting for a durable sleep or a signal; no runner holds it (a timer fire or a delivery wakes it). */
  | "suspended"
  /** Failed terminally or cancelled by an operator; its compensations are running (a resume continues them). */
  | "compensating"
  | "compensated"
  | "compensation_failed";

/** A journaled step or activity result. */
export interface JournalEntry {
  readonly name: string;
  /** Its position among the steps the workflow reached (0-based). */
  readonly seq: number;
  /** JSON text. */
  readonly result: string;
  /** How many times its body produced a result that reached the journal. */
  readonly runs: number;
}

/** What running an exec id finds in storage. */
export type Claim =
  /** The execution is this run's to drive, as attempt `attempt`, from `journal` on. */
  | {
      readonly status: "running";
      readonly attempt: number;
      readonly journal: readonly JournalEntry[];
      /** Set when the execution is compensating: the error it failed with. */
      readonly compensating: string | undefined;
    }
  | { readonly status: "completed"; readonly result: string }
  /** Ended without a result, for good: compensated or compensation_failed. */
  | { readonly status: "ended"; readonly ended: ExecutionStatus; readonly error: string };

export type Outcome =
  | { readonly status: "completed"; readonly result: string }
  | { readonly status: "failed" | "cancelled" | "compensated" | "compensation_failed"; readonly error: string };

/** What a cancel found: the execution is now compensating, or it could not be cancelled (its status; undefined: no such execution). */
export type CancelOutcome = { readonly cancelled: true } | { readonly cancelled: false; readonly status: ExecutionStatus | undefined };

/** What a signal delivery found: delivered (and whether it woke a suspended execution), or refused. */
export type Delivery =
  | { readonly delivered: true; readonly woke: boolean }
  /** `duplicate`: delivered before; `consumed`: the wait of that name is over (it timed out). */
  | { readonly delivered: false; readonly reason: "duplicate" | "consumed" };

/** An execution as the entity's queries show it. */
export interface ExecutionRecord {
  readonly execId: string;
  readonly workflow: string;
  readonly status: ExecutionStatus;
  readonly result: Json;
  readonly error: string | null;
  readonly attempts: number;
  readonly startedAt: Date;
  readonly finishedAt: Date | null;
  /** The journaled steps and activities, in the order the workflow reached them. */
  readonly steps: readonly (Pick<JournalEntry, "name" | "runs" | "result"> & { readonly at: Date })[];
}

/** An execution left `running`, to be resumed by the owner of its entity's shard. */
export interface RunningExecution {
  readonly key: ExecutionKey;
  readonly workflow: string;
  /** JSON text of the arguments it was started with. */
  readonly input: string;
}

/** A claim that made the execution this run's to drive. */
export type RunningClaim = Claim & { readonly status: "running" };

/** An execution a wake-up claimed already (`WorkflowStore.wake`): the run that drives it needs no claim of its own. */
export interface WokenExecution extends RunningExecution {
  readonly claim: RunningClaim;
}

/** An execution as the operator API shows it (GET /admin/workflows…). */
export interface StoredExecution {
  readonly key: ExecutionKey;
  readonly workflow: string;
  readonly status: ExecutionStatus;
  readonly input: string;
  readonly result: string | null;
  readonly error: string | null;
  readonly attempts: number;
  readonly startedAt: Date;
  readonly finishedAt: Date | null;
}

/** A journal entry as the operator API shows it. */
export interface StoredJournalEntry extends JournalEntry {
  readonly kind: "step" | "activity";
  readonly attempt: number;
  readonly createdAt: Date;
}

/** Which executions to list, newest first; `after`: the last of the previous page (an opaque cursor's content). */
export interface ExecutionFilter {
  readonly status?: ExecutionStatus | undefined;
  readonly type?: string | undefined;
  readonly workflow?: string | undefined;
  readonly since?: Date | undefined;
  readonly limit: number;
  readonly after?: ExecutionCursor | undefined;
}

/** Where a page of executions ended: the sort key of its last row (`startedAt` as Postgres text, exact to the µs). */
export interface ExecutionCursor {
  readonly startedAt: string;
  readonly type: string;
  readonly id: string;
  readonly execId: string;
}

/** What the operator API reads and changes of executions. */
export interface WorkflowAdminStore {
  /** A page of executions, newest first, and the cursor after its last row (undefined when it is the last page). */
  search(filter: ExecutionFilter): Promise<{ rows: StoredExecution[]; next: ExecutionCursor | undefined }>;
  find(key: ExecutionKey): Promise<StoredExecution | undefined>;
  detailedJournal(key: ExecutionKey): Promise<StoredJournalEntry[]>;
}

/** A signal wait's state: its journal entry if it ended, its signal's payload (JSON text) if delivered. */
export interface Waited {
  readonly entry?: JournalEntry;
  readonly signal?: string;
}

/**
 * Workflow executions and their journal. Every write that drives an execution is fenced by its
 * attempt number: once a newer run has claimed the execution, an older one can no longer write.
 * Failures are UNAVAILABLE (transient for the engine, which retries them in place).
 */
export interface WorkflowStore {
  /**
   * Claims `key` for a run of `workflow` with `input` (JSON text): a new execution starts as attempt
   * 1; a running or failed one becomes the next attempt (the previous run, if any is still going,
   * is fenced out); a completed one is returned as is. An exec id already used by another workflow
   * or with other arguments is refused (ALREADY_EXISTS), and so is a cancelled one.
   */
  claim(key: ExecutionKey, workflow: string, input: string): Promise<Claim>;
  journal(key: ExecutionKey): Promise<JournalEntry[]>;
  /** The journal entry of one step, if it has one. */
  entry(key: ExecutionKey, name: string): Promise<JournalEntry | undefined>;
  /**
   * Journals a step's result, if `attempt` is still the execution's current one. A step journaled
   * already keeps its first result (which is returned) and counts one run more. `undefined`: a newer
   * attempt has claimed the execution, nothing was written.
   */
  recordStep(key: ExecutionKey, attempt: number, name: string, seq: number, result: string): Promise<JournalEntry | undefined>;
  /**
   * Journals an activity's result, in the transaction that commits the activity's state change
   * (a write of its turn). Not fenced by attempt: the entity's version compare-and-set fences the whole turn.
   */
  recordActivity(key: ExecutionKey, entry: JournalEntry, attempt: number): Statement;
  /** Records how the execution ended, if `attempt` is still its current one (false: superseded or cancelled). */
  finish(key: ExecutionKey, attempt: number, outcome: Outcome): Promise<boolean>;
  /**
   * Every execution a runner must drive, across all entities (the caller keeps those of its
   * shards): running, compensating, and suspended with a signal delivered that it has not consumed.
   */
  running(): Promise<RunningExecution[]>;
  /** The executions marked running or compensating, across all entities: those a run should be driving now. */
  unfinished(): Promise<RunningExecution[]>;
  /** What a wake-up needs to run the execution again, unless it has ended (or never started). */
  load(key: ExecutionKey): Promise<(RunningExecution & { readonly status: ExecutionStatus }) | undefined>;
  // Durable waits (sleep.ts, signal.ts): writes of the entity's turns, in its transaction.
  /** Marks the execution suspended, if `attempt` is current and no signal `signal` (if given) awaits it. */
  suspend(key: ExecutionKey, attempt: number, signal: string | undefined): Statement;
  /**
   * Marks a suspended execution running again (a wake-up that survives the waker's crash) and
   * claims it for the run the wake-up starts, as a new attempt; `woken` gets what that run needs,
   * its journal included, so it reads nothing more (undefined: it was not suspended).
   */
  wake(key: ExecutionKey, woken: (execution: WokenExecution | undefined) => void): Statement;
  /** Journals `entry` unless the signal of the same name was delivered (a timeout losing to it); `journaled` says which. */
  recordUnlessSignalled(key: ExecutionKey, entry: JournalEntry, journaled: (done: boolean) => void): Statement;
  /** A signal wait's state, read together with the others asked for at the same time. */
  waited(key: ExecutionKey, name: string): Promise<Waited>;
  /** Reads the payload (JSON text) of signal `name` into `found` (undefined: not delivered), as a statement of a turn. */
  readSignal(key: ExecutionKey, name: string, found: (payload: string | undefined) => void): Statement;
  /** Delivers signal `name` once, and marks the execution running if it was suspended. */
  deliver(key: ExecutionKey, name: string, payload: string): Promise<Delivery>;
  /** Records that the execution failed with `error` and is compensating (false: superseded). */
  beginCompensation(key: ExecutionKey, attempt: number, error: string): Promise<boolean>;
  /**
   * In `tx` (the cancel turn's transaction): a running, suspended or failed execution becomes
   * `compensating` with `error`, as a new attempt (the run that held it is fenced out), and `mark`
   * is journaled under that attempt. Any other execution is left as it is.
   */
  cancel(tx: SqlHandle, key: ExecutionKey, error: string, mark: JournalEntry): Promise<CancelOutcome>;
  get(key: ExecutionKey): Promise<ExecutionRecord | undefined>;
  /** The executions of one entity, oldest first. */
  list(type: string, id: string): Promise<ExecutionRecord[]>;
}
