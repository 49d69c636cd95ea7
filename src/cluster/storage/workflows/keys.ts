import { and, eq, sql } from "drizzle-orm";
import { workflowExecutions as e, workflowJournal as j } from "../../../../drizzle/schema.ts";
import { ClusterError } from "../../errors.ts";
import type { ExecutionKey } from "./store.ts";

export const keyOf = (k: ExecutionKey) => and(eq(e.entityType, k.type), eq(e.entityId, k.id), eq(e.execId, k.execId));
export const journalOf = (k: ExecutionKey) => and(eq(j.entityType, k.type), eq(j.entityId, k.id), eq(j.execId, k.execId));

/** `keyOf` and `journalOf` for prepared statements: the key as placeholders `type`, `id` and `execId`. */
const p = sql.placeholder;
export const preparedKeyOf = and(eq(e.entityType, p("type")), eq(e.entityId, p("id")), eq(e.execId, p("execId")));
export const preparedJournalOf = and(eq(j.entityType, p("type")), eq(j.entityId, p("id")), eq(j.execId, p("execId")));

/** Storage failures are transient for the engine: it retries them in place. */
export function unavailable(error: unknown): never {
  if (error instanceof ClusterError) throw error;
  throw new ClusterError("UNAVAILABLE", `workflow storage: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
}
