import { and, asc, desc, eq, gte, type SQL, sql } from "drizzle-orm";
import { workflowExecutions, workflowJournal } from "../../../../drizzle/schema.ts";
import type { Database } from "../database.ts";
import { journalOf, keyOf, unavailable } from "./keys.ts";
import type { ExecutionCursor, ExecutionFilter, ExecutionKey, StoredExecution, StoredJournalEntry, WorkflowAdminStore } from "./store.ts";

const e = workflowExecutions;
const j = workflowJournal;

/** The operator API's reads of executions and journals (GET /admin/workflows…), on Postgres (or PGlite). */
export class SqlWorkflowAdminStore implements WorkflowAdminStore {
  constructor(private readonly db: Database) {}

  async search(filter: ExecutionFilter): Promise<{ rows: StoredExecution[]; next: ExecutionCursor | undefined }> {
    const { after } = filter;
    const where: (SQL | undefined)[] = [
      filter.status && eq(e.status, filter.status),
      filter.type === undefined ? undefined : eq(e.entityType, filter.type),
      filter.workflow === undefined ? undefined : eq(e.workflow, filter.workflow),
      filter.since && gte(e.startedAt, filter.since),
      // Keyset pagination on the sort key (a row comparison: exact, and stable under inserts).
      after &&
        sql`(${e.startedAt}, ${e.entityType}, ${e.entityId}, ${e.execId}) < (${after.startedAt}::timestamptz, ${after.type}, ${after.id}, ${after.execId})`,
    ];
    const rows = await this.db
      .select({ ...EXECUTION_COLUMNS, startedText: sql<string>`${e.startedAt}::text` })
      .from(e)
      .where(and(...where))
      .orderBy(desc(e.startedAt), desc(e.entityType), desc(e.entityId), desc(e.execId))
      .limit(filter.limit + 1)
      .catch(unavailable);
    const page = rows.slice(0, filter.limit);
    const last = page.at(-1);
    const next =
      rows.length > filter.limit && last ? { startedAt: last.startedText, type: last.type, id: last.id, execId: last.execId } : undefined;
    return { rows: page.map(({ startedText: _, ...row }) => stored(row)), next };
  }

  async find(key: ExecutionKey): Promise<StoredExecution | undefined> {
    const rows = await this.db.select(EXECUTION_COLUMNS).from(e).where(keyOf(key)).catch(unavailable);
    return rows[0] && stored(rows[0]);
  }

  async detailedJournal(key: ExecutionKey): Promise<StoredJournalEntry[]> {
    return this.db
      .select({ name: j.name, seq: j.seq, result: j.result, runs: j.runs, kind: j.kind, attempt: j.attempt, createdAt: j.createdAt })
      .from(j)
      .where(journalOf(key))
      .orderBy(asc(j.seq))
      .catch(unavailable);
  }
}

const EXECUTION_COLUMNS = {
  type: e.entityType,
  id: e.entityId,
  execId: e.execId,
  workflow: e.workflow,
  status: e.status,
  input: e.input,
  result: e.result,
  error: e.error,
  attempts: e.attempts,
  startedAt: e.startedAt,
  finishedAt: e.finishedAt,
};

function stored(row: ExecutionRow): StoredExecution {
  const { type, id, execId, ...rest } = row;
  return { key: { type, id, execId }, ...rest };
}

type ExecutionRow = {
  type: string;
  id: string;
  execId: string;
  workflow: string;
  status: StoredExecution["status"];
  input: string;
  result: string | null;
  error: string | null;
  attempts: number;
  startedAt: Date;
  finishedAt: Date | null;
};
