import { and, eq, inArray, or, sql } from "drizzle-orm";
import { workflowExecutions, workflowJournal, workflowSignals } from "../../../../drizzle/schema.ts";
import type { Database, SqlHandle } from "../database.ts";
import { journalOf, keyOf, unavailable } from "./keys.ts";
import type { CancelOutcome, Delivery, ExecutionKey, JournalEntry, RunningExecution } from "./store.ts";

const e = workflowExecutions;
const j = workflowJournal;
const s = workflowSignals;

const signalOf = (k: ExecutionKey, name: string) =>
  and(eq(s.entityType, k.type), eq(s.entityId, k.id), eq(s.execId, k.execId), eq(s.name, name));

/** A signal delivered to execution row `e` whose wait has not consumed it yet (no journal entry of its name). */
const unconsumedSignal = sql`exists (select 1 from ${s} where ${s.entityType} = ${e.entityType} and ${s.entityId} = ${e.entityId}
  and ${s.execId} = ${e.execId} and not exists (select 1 from ${j} where ${j.entityType} = ${s.entityType}
  and ${j.entityId} = ${s.entityId} and ${j.execId} = ${s.execId} and ${j.name} = ${s.name}))`;

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

  async suspend(tx: Database, key: ExecutionKey, attempt: number, signal: string | undefined): Promise<void> {
    const awaited = signal === undefined ? undefined : sql`not exists (select 1 from ${s} where ${signalOf(key, signal)})`;
    await tx
      .update(e)
      .set({ status: "suspended" })
      .where(and(keyOf(key), eq(e.attempts, attempt), eq(e.status, "running"), awaited));
  }

  async wake(tx: Database, key: ExecutionKey): Promise<RunningExecution | undefined> {
    const [woken] = await tx
      .update(e)
      .set({ status: "running" })
      .where(and(keyOf(key), eq(e.status, "suspended")))
      .returning({ workflow: e.workflow, input: e.input });
    return woken && { key, ...woken };
  }

  async recordUnlessSignalled(tx: Database, key: ExecutionKey, entry: JournalEntry): Promise<void> {
    const v = (x: string | number) => sql`${x}`;
    await tx
      .insert(j)
      .select(
        // A wait's end is journaled like an activity (a turn of the entity), under the execution's current attempt.
        // Only into a running execution: a stray timer of one that was cancelled or has ended journals nothing.
        sql`select ${v(key.type)}, ${v(key.id)}, ${v(key.execId)}, ${v(entry.name)}, ${v(entry.seq)}::integer, ${v(entry.result)}, 1,
              'activity', ${e.attempts}, now() from ${e}
            where ${keyOf(key)} and ${e.status} = 'running' and not exists (select 1 from ${s} where ${signalOf(key, entry.name)})`,
      )
      .onConflictDoNothing();
  }

  async signal(key: ExecutionKey, name: string): Promise<string | undefined> {
    const rows = await this.db.select({ payload: s.payload }).from(s).where(signalOf(key, name)).catch(unavailable);
    return rows[0]?.payload;
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
