import { and, asc, eq, inArray, type SQL, sql } from "drizzle-orm";
import { workflowExecutions, workflowJournal } from "../../../../drizzle/schema.ts";
import { ClusterError, executionCancelled } from "../../errors.ts";
import type { Json } from "../../json.ts";
import type { Database, SqlHandle, Storage } from "../database.ts";
import { query, type Statement } from "../statement.ts";
import { DurableSql, journalJson, parseJournal, recordActivity, resumable } from "./durable-sql.ts";
import { keyOf, preparedJournalOf, preparedKeyOf, unavailable } from "./keys.ts";
import type {
  Claim,
  Delivery,
  ExecutionKey,
  ExecutionRecord,
  ExecutionStatus,
  JournalEntry,
  Outcome,
  RunningExecution,
  Waited,
  WokenExecution,
  WorkflowStore,
} from "./store.ts";
import { WaitReads } from "./wait-reads.ts";

const e = workflowExecutions;
const j = workflowJournal;

/** Statuses an execution never leaves: claiming one returns it as it ended. */
const ENDED = ["completed", "cancelled", "compensated", "compensation_failed"] as const;

/**
 * The claim, and the journal a resumed run replays (none for a first attempt), in one round trip.
 * A compensating execution stays so (with its error): the next run continues compensating. An
 * execution that ended, or whose exec id another workflow or other arguments hold, matches no row.
 * Parameters: type, id, exec id, workflow, input.
 */
const CLAIM = `
  with c as (
    insert into workflow_executions as x (entity_type, entity_id, exec_id, workflow, input, status, attempts)
    values ($1, $2, $3, $4, $5, 'running', 1)
    on conflict (entity_type, entity_id, exec_id) do update set
      status = case when x.status = 'compensating' then 'compensating' else 'running' end,
      attempts = x.attempts + 1,
      error = case when x.status = 'compensating' then x.error end,
      finished_at = null
    where x.status not in (${ENDED.map((status) => `'${status}'`).join(", ")}) and x.workflow = $4 and x.input = $5
    returning attempts, status, error
  )
  select c.attempts, c.status, c.error, case when c.attempts > 1 then ${journalJson("$3")} end as journal from c`;

/** INSERT … SELECT: nothing is written unless `attempt` is still the execution's current one. */
function prepareStepWrite(db: Database) {
  const p = (name: string) => sql.placeholder(name);
  return db
    .insert(j)
    .select(
      sql`select ${p("type")}, ${p("id")}, ${p("execId")}, ${p("name")}, ${p("seq")}::integer, ${p("result")}, 1, 'step', ${p("attempt")}::integer, now() from ${e}
          where ${e.entityType} = ${p("type")} and ${e.entityId} = ${p("id")} and ${e.execId} = ${p("execId")}
            and ${e.attempts} = ${p("attempt")} and ${e.status} = 'running'`,
    )
    .onConflictDoUpdate({ target: [j.entityType, j.entityId, j.execId, j.name], set: { runs: sql`${j.runs} + 1` } })
    .returning({ name: j.name, seq: j.seq, result: j.result, runs: j.runs })
    .prepare("workflow_record_step");
}

/** The reads every wake-up and resume makes, prepared once: building a Drizzle query each time cost more than running it. */
function prepareReads(db: Database) {
  const journal = { name: j.name, seq: j.seq, result: j.result, runs: j.runs };
  return {
    journal: db.select(journal).from(j).where(preparedJournalOf).prepare("workflow_journal"),
    entry: db
      .select(journal)
      .from(j)
      .where(and(preparedJournalOf, eq(j.name, sql.placeholder("name"))))
      .prepare("workflow_entry"),
    load: db.select({ workflow: e.workflow, input: e.input, status: e.status }).from(e).where(preparedKeyOf).prepare("workflow_load"),
  };
}

/** The WorkflowStore on Postgres (or PGlite): one row per execution, one per journal entry. */
export class SqlWorkflowStore implements WorkflowStore {
  /** recordStep's statement, prepared once: it runs for every step, and parsing it each time would double its cost. */
  private readonly stepWrite: ReturnType<typeof prepareStepWrite>;
  private readonly durable: DurableSql;
  private readonly reads: ReturnType<typeof prepareReads>;
  private readonly waits: WaitReads;
  private readonly db: Database;

  constructor(storage: Storage) {
    this.db = storage.db;
    this.stepWrite = prepareStepWrite(this.db);
    this.reads = prepareReads(this.db);
    this.waits = new WaitReads(storage);
    this.durable = new DurableSql(this.db);
  }

  readonly suspend = (key: ExecutionKey, attempt: number, signal: string | undefined) => this.durable.suspend(key, attempt, signal);
  readonly wake = (key: ExecutionKey, woken: (execution: WokenExecution | undefined) => void) => this.durable.wake(key, woken);
  readonly recordUnlessSignalled = (key: ExecutionKey, entry: JournalEntry, journaled: (done: boolean) => void) =>
    this.durable.recordUnlessSignalled(key, entry, journaled);
  readonly readSignal = (key: ExecutionKey, name: string, found: (payload: string | undefined) => void) =>
    this.durable.readSignal(key, name, found);
  readonly deliver = (key: ExecutionKey, name: string, payload: string): Promise<Delivery> => this.durable.deliver(key, name, payload);
  readonly beginCompensation = (key: ExecutionKey, attempt: number, error: string) => this.durable.beginCompensation(key, attempt, error);
  readonly cancel = (tx: SqlHandle, key: ExecutionKey, error: string, mark: JournalEntry) => this.durable.cancel(tx, key, error, mark);

  /**
   * Claims `key` for a run of `workflow` with `input` (JSON text): a new execution starts as attempt
   * 1; a running or failed one becomes the next attempt (the previous run, if any is still going,
   * is fenced out); a completed one is returned as is. An exec id already used by another workflow
   * or with other arguments is refused.
   */
  async claim(key: ExecutionKey, workflow: string, input: string): Promise<Claim> {
    const claimed = await query(this.db, CLAIM, [key.type, key.id, key.execId, workflow, input]).catch(unavailable);
    const won = claimed[0];
    if (won !== undefined) {
      const attempt = Number(won.attempts);
      const compensating = won.status === "compensating" ? String(won.error ?? "failed") : undefined;
      return { status: "running", attempt, journal: parseJournal(won.journal), compensating };
    }

    const rows = await this.db
      .select({ workflow: e.workflow, input: e.input, status: e.status, result: e.result, error: e.error })
      .from(e)
      .where(keyOf(key))
      .catch(unavailable);
    const row = rows[0];
    if (!row) throw new ClusterError("UNAVAILABLE", `execution ${key.execId} vanished while being claimed`);
    if (row.status === "cancelled") throw executionCancelled(key.execId, `${key.type}/${key.id}`);
    if (row.workflow !== workflow || row.input !== input) {
      throw new ClusterError(
        "ALREADY_EXISTS",
        `exec id ${key.execId} is taken by a ${row.workflow} execution with arguments ${row.input}; use another exec id`,
      );
    }
    if (row.status === "completed") return { status: "completed", result: row.result ?? "null" };
    return { status: "ended", ended: row.status, error: row.error ?? row.status };
  }

  async journal(key: ExecutionKey): Promise<JournalEntry[]> {
    return this.reads.journal.execute({ ...key }).catch(unavailable);
  }

  waited(key: ExecutionKey, name: string): Promise<Waited> {
    return this.waits.read(key, name).catch(unavailable);
  }

  /** The journal entry of one step, if it has one. */
  async entry(key: ExecutionKey, name: string): Promise<JournalEntry | undefined> {
    const rows = await this.reads.entry.execute({ ...key, name }).catch(unavailable);
    return rows[0];
  }

  /**
   * Journals a step's result, if `attempt` is still the execution's current one. A step journaled
   * already keeps its first result (which is returned) and counts one run more. `undefined`: a newer
   * attempt has claimed the execution, nothing was written.
   */
  async recordStep(key: ExecutionKey, attempt: number, name: string, seq: number, result: string): Promise<JournalEntry | undefined> {
    const rows = await this.stepWrite.execute({ ...key, attempt, name, seq, result }).catch(unavailable);
    return rows[0];
  }

  /**
   * Journals an activity's result in `tx`, the transaction that commits the activity's state
   * change. Not fenced by attempt: the entity's version compare-and-set fences the whole turn. A
   * duplicate entry fails the transaction (the activity turn checks the journal first, so it cannot
   * happen short of a bug, and then nothing of the turn may commit).
   */
  recordActivity(key: ExecutionKey, entry: JournalEntry, attempt: number): Statement {
    return recordActivity(key, entry, attempt);
  }

  /** Records how the execution ended, if `attempt` is still its current one (false: superseded). */
  async finish(key: ExecutionKey, attempt: number, outcome: Outcome): Promise<boolean> {
    const values =
      outcome.status === "completed"
        ? { status: outcome.status, result: outcome.result }
        : { status: outcome.status, error: outcome.error };
    const rows = await this.db
      .update(e)
      .set({ ...values, finishedAt: sql`now()` })
      .where(and(keyOf(key), eq(e.attempts, attempt), inArray(e.status, ["running", "compensating"])))
      .returning({ attempts: e.attempts })
      .catch(unavailable);
    return rows.length > 0;
  }

  /** Executions a runner must drive: running, compensating, or suspended with an unconsumed signal. */
  running(): Promise<RunningExecution[]> {
    return this.executionsWhere(resumable());
  }

  unfinished(): Promise<RunningExecution[]> {
    return this.executionsWhere(inArray(e.status, ["running", "compensating"]));
  }

  private async executionsWhere(where: SQL | undefined): Promise<RunningExecution[]> {
    const rows = await this.db
      .select({ type: e.entityType, id: e.entityId, execId: e.execId, workflow: e.workflow, input: e.input })
      .from(e)
      .where(where)
      .catch(unavailable);
    return rows.map((r) => ({ key: { type: r.type, id: r.id, execId: r.execId }, workflow: r.workflow, input: r.input }));
  }

  async load(key: ExecutionKey): Promise<(RunningExecution & { readonly status: ExecutionStatus }) | undefined> {
    const rows = await this.reads.load.execute({ ...key }).catch(unavailable);
    const row = rows[0];
    return row && { key, ...row };
  }

  async get(key: ExecutionKey): Promise<ExecutionRecord | undefined> {
    return (await this.records(key.type, key.id, key.execId))[0];
  }

  /** The executions of one entity, oldest first. */
  async list(type: string, id: string): Promise<ExecutionRecord[]> {
    return this.records(type, id);
  }

  private async records(type: string, id: string, execId?: string): Promise<ExecutionRecord[]> {
    const entity = and(eq(e.entityType, type), eq(e.entityId, id), execId === undefined ? undefined : eq(e.execId, execId));
    const [executions, steps] = await Promise.all([
      this.db.select().from(e).where(entity).orderBy(asc(e.startedAt), asc(e.execId)),
      this.db
        .select({ execId: j.execId, name: j.name, runs: j.runs, result: j.result, at: j.createdAt })
        .from(j)
        .where(and(eq(j.entityType, type), eq(j.entityId, id), execId === undefined ? undefined : eq(j.execId, execId)))
        .orderBy(asc(j.execId), asc(j.seq)),
    ]).catch(unavailable);
    const stepsOf = new Map<string, { name: string; runs: number; result: string; at: Date }[]>();
    for (const s of steps) {
      const list = stepsOf.get(s.execId) ?? [];
      list.push({ name: s.name, runs: s.runs, result: s.result, at: s.at });
      stepsOf.set(s.execId, list);
    }
    return executions.map((x) => ({
      execId: x.execId,
      workflow: x.workflow,
      status: x.status,
      result: x.result === null ? null : (JSON.parse(x.result) as Json),
      error: x.error,
      attempts: x.attempts,
      startedAt: x.startedAt,
      finishedAt: x.finishedAt,
      steps: stepsOf.get(x.execId) ?? [],
    }));
  }
}
