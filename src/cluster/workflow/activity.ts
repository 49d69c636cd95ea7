import type { EntityContext, TurnImplementation } from "../entity/context.ts";
import { handlerContext } from "../entity/definition.ts";
import { ClusterError, StepFailed } from "../errors.ts";
import { toJsonText } from "../json.ts";
import type { ExecutionKey, JournalEntry, WorkflowStore } from "../storage/workflows/store.ts";
import { readingTurn } from "./reading-turn.ts";

/**
 * The turn that runs activity `name` of an execution in its entity's mailbox. It reads the journal
 * first, once the batches ahead of it committed (the read starts with its batch): an entry there
 * (committed by an earlier run, possibly on another runner) is returned and the body does not run. Otherwise the body changes the state and the journal entry
 * joins the turn's transaction, so both commit or neither does. The entity's version
 * compare-and-set makes the check sound: an entry committed after this entity's state was loaded
 * came with a newer state version, and this turn's commit then fails and is retried.
 *
 * Resolves with the journal entry; a body that throws rejects with StepFailed (its state change is
 * rolled back by the mailbox and no entry is written), unless it threw UNAVAILABLE.
 */
export function activityTurn(
  store: WorkflowStore,
  key: ExecutionKey,
  name: string,
  seq: number,
  attempt: number,
  body: (state: unknown, ctx: EntityContext) => unknown,
): TurnImplementation {
  return readingTurn(
    () => store.entry(key, name),
    async (journaled, state, turn): Promise<JournalEntry> => {
      if (journaled) return journaled;
      const ctx = handlerContext(turn);
      let value: unknown;
      try {
        value = await body(state, ctx);
      } catch (error) {
        // Storage trouble (ctx.sql losing its connection) is the turn's, retried by the engine: not the activity failing.
        if (error instanceof ClusterError && error.code === "UNAVAILABLE") throw error;
        throw new StepFailed(name, error);
      }
      const entry: JournalEntry = { name, seq, result: toJsonText(value), runs: 1 };
      ctx.transact(store.recordActivity(key, entry, attempt));
      return entry;
    },
  );
}
