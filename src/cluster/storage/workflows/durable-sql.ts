import { and, eq, inArray, or, sql } from "drizzle-orm";
import { workflowExecutions, workflowJournal, workflowSignals } from "../../../../drizzle/schema.ts";
import type { Database, SqlHandle } from "../database.ts";
import { type SetForm, type Statement, type StatementRow, setRows } from "../statement.ts";
import { journalOf, keyOf, unavailable } from "./keys.ts";
import type { CancelOutcome, Delivery, ExecutionKey, JournalEntry, WokenExecution } from "./store.ts";

const e = workflowExecutions;
const j = workflowJournal;
const s = workflowSignals;

const signalOf = (k: ExecutionKey, name: string) =>
  and(eq(s.entityType, k.type), eq(s.entityId, k.id), eq(s.execId, k.execId), eq(s.name, name));

/** A signal delivered to execution row `e` whose wait has not consumed it yet (no journal entry of its name). */
const unconsumedSignal = sql`exists (select 1 from ${s} where ${s.entityType} = ${e.entityType} and ${s.entityId} = ${e.entityId}
  and ${s.execId} = ${e.execId} and not exists (select 1 from ${j} where ${j.entityType} = ${s.entityType}
  and ${j.entityId} = ${s.entityId} and ${j.execId} = ${s.execId} and ${j.name} = ${s.name}))`;

/** An execution's journal (entity $1, $2; exec id `execId`) as JSON text `[[name, seq, result, runs], …]` (see `parseJournal`). */
export const journalJson = (execId: string) => `(
  select coalesce(json_agg(json_build_array(j.name, j.seq, j.result, j.runs)), '[]')::text from workflow_journal j
  where j.entity_type = $1 and j.entity_id = $2 and j.exec_id = ${execId}
)`;

export function parseJournal(json: unknown): JournalEntry[] {
  if (json === null || json === undefined) return [];
  return (JSON.parse(String(json)) as [string, number, string, number][]).map(([name, seq, result, runs]) => ({ name, seq, result, runs }));
}

// The writes of the entities' turns (fixed statements; $1–$3: the execution's key), each with its
// set form (`SetForm`: $1, $2 the entity, $3 the rows of table k).
const EXECUTION = "entity_type = $1 and entity_id = $2 and exec_id = $3";
const SUSPEND = `update workflow_executions set status = 'suspended' where ${EXECUTION} and attempts = $4::integer and status = 'running'`;
const SUSPEND_UNLESS_SIGNALLED = `${SUSPEND}
  and not exists (select 1 from workflow_signals s where s.entity_type = $1 and s.entity_id = $2 and s.exec_id = $3 and s.name = $5)`;
const SUSPEND_SET = `
  update workflow_executions x set status = 'suspended' from ${setRows("e text, a integer, n text")}
  where x.entity_type = $1 and x.entity_id = $2 and x.exec_id = k.e and x.attempts = k.a and x.status = 'running'
    and (k.n is null or not exists (select 1 from workflow_signals s
      where s.entity_type = $1 and s.entity_id = $2 and s.exec_id = k.e and s.name = k.n))`;
const WAKE = `
  with w as (
    update workflow_executions set status = 'running', attempts = attempts + 1 where ${EXECUTION} and status = 'suspended'
    returning workflow, input, attempts
  )
  select w.workflow, w.input, w.attempts, ${journalJson("$3")} as journal from w`;
const WAKE_SET = `
  with w as (
    update workflow_executions x set status = 'running', attempts = x.attempts + 1 from ${setRows("e text")}
    where x.entity_type = $1 and x.entity_id = $2 and x.exec_id = k.e and x.status = 'suspended'
    returning k.i, x.exec_id, x.workflow, x.input, x.attempts
  )
  select w.i, w.workflow, w.input, w.attempts, ${journalJson("w.exec_id")} as journal from w`;
// A wait's end is journaled like an activity (a turn of the entity), under the execution's current attempt.
// Only into a running execution: a stray timer of one that was cancelled or has ended journals nothing.
const RECORD_UNLESS_SIGNALLED = `
  insert into workflow_journal (entity_type, entity_id, exec_id, name, seq, result, runs, kind, attempt, created_at)
  select $1, $2, $3, $4, $5::integer, $6, 1, 'activity', e.attempts, now() from workflow_executions e
  where e.entity_type = $1 and e.entity_id = $2 and e.exec_id = $3 and e.status = 'running'
    and not exists (select 1 from workflow_signals s where s.entity_type = $1 and s.entity_id = $2 and s.exec_id = $3 and s.name = $4)
  on conflict do nothing
  returning name`;
const RECORD_UNLESS_SIGNALLED_SET = `
  with k as (select * from ${setRows("e text, n text, q integer, r text")}),
  done as (
    insert into workflow_journal (entity_type, entity_id, exec_id, name, seq, result, runs, kind, attempt, created_at)
    select $1, $2, k.e, k.n, k.q, k.r, 1, 'activity', x.attempts, now() from k join workflow_executions x
      on x.entity_type = $1 and x.entity_id = $2 and x.exec_id = k.e
    where x.status = 'running'
      and not exists (select 1 from workflow_signals s where s.entity_type = $1 and s.entity_id = $2 and s.exec_id = k.e and s.name = k.n)
    on conflict do nothing
    returning exec_id, name
  )
  select k.i from done join k on k.e = done.exec_id and k.n = done.name`;
const SIGNAL = `select payload from workflow_signals where ${EXECUTION} and name = $4`;
const SIGNAL_SET = `
  select k.i, s.payload from ${setRows("e text, n text")}
  join workflow_signals s on s.entity_type = $1 and s.entity_id = $2 and s.exec_id = k.e and s.name = k.n`;
/** An activity's journal entry; not fenced by attempt: the entity's version compare-and-set fences the turn. */
const RECORD_ACTIVITY = `
  insert into workflow_journal (entity_type, entity_id, exec_id, name, seq, result, runs, kind, attempt)
  values ($1, $2, $3, $4, $5::integer, $6, $7::integer, 'activity', $8::integer)`;
const RECORD_ACTIVITY_SET = `
  insert into workflow_journal (entity_type, entity_id, exec_id, name, seq, result, runs, kind, attempt)
  select $1, $2, k.e, k.n, k.q, k.r, k.u, 'activity', k.a from ${setRows("e text, n text, q integer, r text, u integer, a integer")}`;

/** A statement on execution `key`, with its set form `text` of `row` (`e`, its exec id, added). */
function onExecution(key: ExecutionKey, statement: Omit<Statement, "many">, text: string, row: SetForm["row"]): Statement {
  return { ...statement, many: { text, entity: [key.type, key.id], row: { e: key.execId, ...row }, touches: `exec\u0000${key.execId}` } };
}

export function recordActivity(key: ExecutionKey, entry: JournalEntry, attempt: number): Statement {
  const { name, seq, result, runs } = entry;
  const params = [key.type, key.id, key.execId, name, seq, result, runs, attempt];
  return onExecution(key, { text: RECORD_ACTIVITY, params }, RECORD_ACTIVITY_SET, { n: name, q: seq, r: result, u: runs, a: attempt });
}

/** Executions a runner must drive when it takes their shard. */
export const resumable = () => or(inArray(e.status, ["running", "compensating"]), and(eq(e.status, "suspended"), unconsumedSignal));

/**
 * The SQL of durable waits, compensation and cancels. The suspend, wake, timeout and cancel writes
 * run in entity turns (in the transaction that commits the entity's state and timers), so the
 * mailbox orders them against each other; a delivery runs outside any turn and takes the
 * execution's row lock, as the wake write in a timeout's fire turn does, so a delivery and a
 * timeout never both win.
 */
export class DurableSql {
  constructor(private readonly db: Database) {}

  suspend(key: ExecutionKey, attempt: number, signal: string | undefined): Statement {
    const params = [key.type, key.id, key.execId, attempt];
    const statement = signal === undefined ? { text: SUSPEND, params } : { text: SUSPEND_UNLESS_SIGNALLED, params: [...params, signal] };
    return onExecution(key, statement, SUSPEND_SET, { a: attempt, n: signal ?? null });
  }

  wake(key: ExecutionKey, woken: (execution: WokenExecution | undefined) => void): Statement {
    const execution = (row: StatementRow): WokenExecution => ({
      key,
      workflow: String(row.workflow),
      input: String(row.input),
      claim: { status: "running", attempt: Number(row.attempts), journal: parseJournal(row.journal), compensating: undefined },
    });
    const statement = {
      text: WAKE,
      params: [key.type, key.id, key.execId],
      rows: ([row]: readonly StatementRow[]) => woken(row && execution(row)),
    };
    return onExecution(key, statement, WAKE_SET, {});
  }

  recordUnlessSignalled(key: ExecutionKey, entry: JournalEntry, journaled: (done: boolean) => void): Statement {
    const params = [key.type, key.id, key.execId, entry.name, entry.seq, entry.result];
    const statement = { text: RECORD_UNLESS_SIGNALLED, params, rows: (rows: readonly StatementRow[]) => journaled(rows.length > 0) };
    return onExecution(key, statement, RECORD_UNLESS_SIGNALLED_SET, { n: entry.name, q: entry.seq, r: entry.result });
  }

  readSignal(key: ExecutionKey, name: string, found: (payload: string | undefined) => void): Statement {
    const statement = {
      text: SIGNAL,
      params: [key.type, key.id, key.execId, name],
      rows: ([row]: readonly StatementRow[]) => found(row && String(row.payload)),
    };
    return onExecution(key, statement, SIGNAL_SET, { n: name });
  }

  async deliver(key: ExecutionKey, name: string, payload: string): Promise<Delivery> {
    return this.db
      .transaction(async (tx): Promise<Delivery> => {
        // The execution's row lock orders this delivery against a timeout's fire turn (see above).
        await tx.select({ attempts: e.attempts }).from(e).where(keyOf(key)).for("update");
        const [signalled] = await tx.select({ name: s.name }).from(s).where(signalOf(key, name));
        if (signalled) return { delivered: false, reason: "duplicate" };
        const [waited] = await tx
          .select({ name: j.name })
          .from(j)
          .where(and(journalOf(key), eq(j.name, name)));
        if (waited) return { delivered: false, reason: "consumed" };
        await tx.insert(s).values({ entityType: key.type, entityId: key.id, execId: key.execId, name, payload });
        const woke = await tx
          .update(e)
          .set({ status: "running" })
          .where(and(keyOf(key), eq(e.status, "suspended")))
          .returning({ attempts: e.attempts });
        return { delivered: true, woke: woke.length > 0 };
      })
      .catch(unavailable);
  }

  async beginCompensation(key: ExecutionKey, attempt: number, error: string): Promise<boolean> {
    const rows = await this.db
      .update(e)
      .set({ status: "compensating", error })
      .where(and(keyOf(key), eq(e.attempts, attempt), eq(e.status, "running")))
      .returning({ attempts: e.attempts })
      .catch(unavailable);
    return rows.length > 0;
  }

  async cancel(tx: SqlHandle, key: ExecutionKey, error: string, mark: JournalEntry): Promise<CancelOutcome> {
    const [won] = await tx
      .update(e)
      .set({ status: "compensating", error, attempts: sql`${e.attempts} + 1`, finishedAt: null })
      .where(and(keyOf(key), inArray(e.status, ["running", "suspended", "failed"])))
      .returning({ attempts: e.attempts })
      .catch(unavailable);
    if (won) {
      await tx
        .insert(j)
        .values({ entityType: key.type, entityId: key.id, execId: key.execId, ...mark, kind: "activity", attempt: won.attempts })
        .catch(unavailable);
      return { cancelled: true };
    }
    const [found] = await tx.select({ status: e.status }).from(e).where(keyOf(key)).catch(unavailable);
    return { cancelled: false, status: found?.status };
  }
}
