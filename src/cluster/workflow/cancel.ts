import { z } from "zod";
import { formatAddress } from "../entity/address.ts";
import type { TurnImplementation } from "../entity/context.ts";
import { ClusterError, executionCancelled, notFound } from "../errors.ts";
import type { ExecutionKey, ExecutionStatus, JournalEntry, WorkflowStore } from "../storage/workflows/store.ts";
import { EntityTimers } from "../timers/entity-timers.ts";
import { COMPENSATION_SEQ } from "./compensation.ts";
import { parseWaitTimer } from "./sleep.ts";

/**
 * The framework's RPC that cancels an execution (the operator API's): a turn on its entity, routed
 * to the owner of its shard like any call, so the mailbox orders it against the execution's
 * activities and wait turns, and the entity's fence keeps a stale owner from committing it.
 */
export const CANCEL_EXECUTION_RPC = "$workflow.cancel";
export const CancelExecutionArgs = z.object({ exec_id: z.string().min(1) });

/** The error a cancelled execution ends with. */
export const CANCELLED = "cancelled by an operator";

/**
 * Journaled by the cancel, before the compensations: what tells a compensating execution resumed
 * after a crash that it was cancelled (and ends `cancelled` if it has nothing to compensate).
 */
const CANCEL_ENTRY: JournalEntry = { name: "$cancel", seq: COMPENSATION_SEQ - 1, result: JSON.stringify(CANCELLED), runs: 1 };

export const wasCancelled = (journal: readonly JournalEntry[]) => journal.some((entry) => entry.name === CANCEL_ENTRY.name);

/**
 * The cancel turn. A running, suspended or failed execution becomes `compensating` as a new attempt
 * (the run that held it is fenced out), the cancel is journaled, and its pending wait timers go (a
 * sleep or a signal timeout firing later finds nothing): all in the transaction of the entity's
 * state. `committed` runs once that is durable. Any other execution is refused, and nothing
 * changes: NOT_FOUND, or ALREADY_EXISTS for one that has ended or is compensating already.
 */
export function cancelTurn(store: WorkflowStore, key: ExecutionKey, committed: () => void): TurnImplementation {
  return {
    kind: "mutation",
    handler: async (state, _args, turn): Promise<null> => {
      // In the turn's transaction, so the outcome is known here, and a refusal commits nothing.
      const found = await turn.sql((tx) => store.cancel(tx, key, CANCELLED, CANCEL_ENTRY));
      if (!found.cancelled) throw refusal(key, found.status);
      const timers = new EntityTimers(state, turn, true);
      for (const t of timers.pending()) if (parseWaitTimer(t.timer_id)?.execId === key.execId) timers.cancel(t.timer_id);
      turn.afterCommit(committed);
      return null;
    },
  };
}

function refusal(key: ExecutionKey, status: ExecutionStatus | undefined): ClusterError {
  if (status === undefined) return notFound(`no execution ${key.execId} of ${formatAddress(key)}`);
  return new ClusterError(
    "ALREADY_EXISTS",
    `execution ${key.execId} is ${status}: only running, suspended or failed executions can be cancelled`,
  );
}

/**
 * How a run that stopped short (NOT_OWNER: aborted, or a fenced write refused) ends for its
 * callers: one an operator cancelled (`here`: the cancel stopped it on this runner, or storage has
 * it `cancelled`) says so (409); any other is a hand-over, which the router retries at the owner
 * (where a retry joins the compensating execution, if a cancel made it one).
 */
export async function stoppedShort(store: WorkflowStore, key: ExecutionKey, here: boolean, error: unknown): Promise<never> {
  if (!(error instanceof ClusterError) || error.code !== "NOT_OWNER") throw error;
  const status = here ? "cancelled" : (await store.load(key).catch(() => undefined))?.status;
  if (status === "cancelled") throw executionCancelled(key.execId, formatAddress(key));
  throw error;
}
