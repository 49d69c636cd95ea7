import { z } from "zod";
import type { TurnImplementation } from "../entity/context.ts";
import { ClusterError } from "../errors.ts";
import { type Json, toJsonText } from "../json.ts";
import type { ExecutionKey, JournalEntry, WorkflowStore } from "../storage/workflows/store.ts";
import { EntityTimers } from "../timers/entity-timers.ts";
import { readingTurn } from "./reading-turn.ts";
import { type WaitOutcome, waitTimerId } from "./sleep.ts";

/** The framework's RPC name for a signal delivery routed to the owner of the entity's shard. */
export const SIGNAL_RPC = "$signal";

export const SignalArgs = z.object({ exec_id: z.string().min(1), name: z.string().min(1), payload: z.json() });
export type SignalArgs = z.infer<typeof SignalArgs>;

/** The journal result of a signal wait that got its signal (`TIMED_OUT` when it did not). */
export const signalled = (payload: string) => `{"signal":${payload}}`;

/**
 * The turn a signal wait reaches: journaled → over; the signal delivered already → consumed now
 * (journaled, its timeout timer cancelled); otherwise the timeout timer is scheduled (unless
 * pending) and the execution is marked suspended unless the signal arrived meanwhile; the signal is
 * read once more behind that write, so a delivery racing this turn is not lost (the engine wakes it).
 */
export function waitTurn(
  store: WorkflowStore,
  key: ExecutionKey,
  attempt: number,
  name: string,
  seq: number,
  timeoutMs: number | undefined,
): TurnImplementation {
  return readingTurn(
    () => store.waited(key, name),
    ({ entry: journaled, signal: payload }, state, turn): WaitOutcome => {
      if (journaled) return { done: journaled };
      const timers = new EntityTimers(state, turn, true);
      const timerId = waitTimerId({ execId: key.execId, kind: "signal", name, seq });
      if (payload !== undefined) {
        timers.cancel(timerId);
        const entry: JournalEntry = { name, seq, result: signalled(payload), runs: 1 };
        turn.transact(store.recordActivity(key, entry, attempt));
        return { done: entry };
      }
      const pending = timers.dueAt(timerId) !== undefined;
      if (timeoutMs !== undefined && !pending) timers.schedule(timerId, timeoutMs);
      turn.transact(store.suspend(key, attempt, name));
      // A delivery that committed while the suspend write waited for the execution's row lock saw
      // it running, and woke nothing; the write's own subquery (its statement's snapshot) missed
      // it. A statement of its own after it, in the same transaction, sees it.
      const outcome = { suspended: true as const, signalled: false };
      turn.transact(store.readSignal(key, name, (payload) => (outcome.signalled = payload !== undefined)));
      return outcome;
    },
  );
}

/** Delivers signal `name` once; true when that woke the suspended execution. A second delivery, or one after the wait timed out, is refused (ALREADY_EXISTS). */
export async function deliverSignal(store: WorkflowStore, key: ExecutionKey, name: string, payload: Json): Promise<boolean> {
  const delivery = await store.deliver(key, name, toJsonText(payload));
  if (delivery.delivered) return delivery.woke;
  const why = delivery.reason === "duplicate" ? "was delivered already (the first payload stands)" : "is no longer awaited (it timed out)";
  throw new ClusterError("ALREADY_EXISTS", `signal ${name} of exec ${key.execId} ${why}`);
}
