import type { Json } from "../../json.ts";
import type { Database } from "../database.ts";

/** An execution: the entity it belongs to and the caller's exec id. */
export interface ExecutionKey {
  readonly type: string;
  readonly id: string;
  readonly execId: string;
}

export type ExecutionStatus = "running" | "completed" | "failed" | "cancelled";

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
  | { readonly status: "running"; readonly attempt: number; readonly journal: readonly JournalEntry[] }
  | { readonly status: "completed"; readonly result: string };

export type Outcome = { readonly status: "completed"; readonly result: string } | { readonly status: "failed"; readonly error: string };

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
  readonly steps: readonly Pick<JournalEntry, "name" | "runs">[];
}

/** An execution left `running`, to be resumed by the owner of its entity's shard. */
export interface RunningExecution {
  readonly key: ExecutionKey;
  readonly workflow: string;
  /** JSON text of the arguments it was started with. */
  readonly input: string;
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
  /**
   * Marks a running or failed execution `cancelled` (a running one's next fenced write is refused).
   * NOT_FOUND if there is no such execution, ALREADY_EXISTS if it has completed or is cancelled.
   */
  cancel(key: ExecutionKey): Promise<StoredExecution>;
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
   * Journals an activity's result in `tx`, the transaction that commits the activity's state
   * change. Not fenced by attempt: the entity's version compare-and-set fences the whole turn.
   */
  recordActivity(tx: Database, key: ExecutionKey, entry: JournalEntry, attempt: number): Promise<void>;
  /** Records how the execution ended, if `attempt` is still its current one (false: superseded or cancelled). */
  finish(key: ExecutionKey, attempt: number, outcome: Outcome): Promise<boolean>;
  /** Every execution still running, across all entities (the caller keeps those of its shards). */
  running(): Promise<RunningExecution[]>;
  get(key: ExecutionKey): Promise<ExecutionRecord | undefined>;
  /** The executions of one entity, oldest first. */
  list(type: string, id: string): Promise<ExecutionRecord[]>;
}
