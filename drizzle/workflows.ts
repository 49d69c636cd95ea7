import { sql } from "drizzle-orm";
import { check, foreignKey, index, integer, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";

export const EXECUTION_STATUSES = [
  "running",
  "completed",
  "failed",
  "cancelled",
  "suspended",
  "compensating",
  "compensated",
  "compensation_failed",
] as const;

/**
 * One row per workflow execution, keyed by the entity it belongs to and the caller's exec id.
 * `input` is the JSON text of the validated arguments: running an exec id again with another
 * workflow or other arguments is refused. `attempts` counts the runs that claimed the execution
 * (first run, resumes, retries); it is also the fence: journal writes of an older attempt are refused.
 */
export const workflowExecutions = pgTable(
  "workflow_executions",
  {
    entityType: text("entity_type").notNull(),
    entityId: text("entity_id").notNull(),
    execId: text("exec_id").notNull(),
    workflow: text("workflow").notNull(),
    input: text("input").notNull(),
    /**
     * `suspended`: waiting for a durable sleep or a signal, held by no runner (a timer or a signal
     * delivery wakes it). `compensating`: failed or cancelled, running its compensations; it ends
     * `compensated` or `compensation_failed`. `cancelled`: ended by an operator with nothing to
     * compensate; never claimed again.
     */
    status: text("status", { enum: EXECUTION_STATUSES }).notNull(),
    /** JSON text of the workflow's return value, once completed. */
    result: text("result"),
    error: text("error"),
    attempts: integer("attempts").notNull(),
    startedAt: timestamp("started_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    finishedAt: timestamp("finished_at", { withTimezone: true, mode: "date" }),
  },
  (t) => [
    primaryKey({ columns: [t.entityType, t.entityId, t.execId] }),
    check(
      "workflow_executions_status",
      sql`${t.status} in ('running', 'completed', 'failed', 'cancelled', 'suspended', 'compensating', 'compensated', 'compensation_failed')`,
    ),
    // The operator API lists executions newest first.
    index("workflow_executions_started").on(t.startedAt.desc(), t.entityType, t.entityId, t.execId),
    // What a runner must be driving (resumed when it acquires shards, swept for when nobody does):
    // the executions running or compensating (few, normally).
    index("workflow_executions_running").on(t.entityType, t.entityId).where(sql`${t.status} in ('running', 'compensating')`),
    // Suspended ones are resumed only when a signal awaits them.
    index("workflow_executions_waiting").on(t.entityType, t.entityId).where(sql`${t.status} = 'suspended'`),
  ],
);

/**
 * The journal: the result of every step and activity an execution has completed, in the order the
 * workflow reached them (`seq`). `runs` counts how many times the body of that step produced a
 * result that reached the journal: a re-run of a journaled step adds one instead of replacing the
 * result, so a replay bug shows up as `runs > 1`.
 */
export const workflowJournal = pgTable(
  "workflow_journal",
  {
    entityType: text("entity_type").notNull(),
    entityId: text("entity_id").notNull(),
    execId: text("exec_id").notNull(),
    name: text("name").notNull(),
    seq: integer("seq").notNull(),
    /** JSON text of the step's result. */
    result: text("result").notNull(),
    runs: integer("runs").notNull(),
    /** `step` (ctx.step) or `activity` (ctx.activity, a turn of the entity). */
    kind: text("kind", { enum: ["step", "activity"] })
      .notNull()
      .default("step"),
    /** The execution attempt that journaled it. */
    attempt: integer("attempt").notNull().default(1),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.entityType, t.entityId, t.execId, t.name] }),
    foreignKey({
      name: "workflow_journal_execution",
      columns: [t.entityType, t.entityId, t.execId],
      foreignColumns: [workflowExecutions.entityType, workflowExecutions.entityId, workflowExecutions.execId],
    }).onDelete("cascade"),
  ],
);

/**
 * Signals delivered to executions (`cluster.signal`), one row per (execution, name): the primary
 * key makes a delivery exactly-once (a second one is refused). A signal may arrive before its
 * execution exists or reaches its wait; the wait consumes it when it gets there. No foreign key
 * for that reason.
 */
export const workflowSignals = pgTable(
  "workflow_signals",
  {
    entityType: text("entity_type").notNull(),
    entityId: text("entity_id").notNull(),
    execId: text("exec_id").notNull(),
    name: text("name").notNull(),
    /** JSON text of the payload. */
    payload: text("payload").notNull(),
    deliveredAt: timestamp("delivered_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.entityType, t.entityId, t.execId, t.name] })],
);
