import type { EntityAddress } from "../entity/address.ts";
import type { TurnImplementation } from "../entity/context.ts";
import type { ExecutionKey, JournalEntry, WokenExecution, WorkflowStore } from "../storage/workflows/store.ts";
import { EntityTimers } from "../timers/entity-timers.ts";
import type { FireOutcome } from "../timers/timer.ts";
import { readingTurn } from "./reading-turn.ts";

/**
 * Durable waits are timers of the execution's entity, in a namespace of the framework's own:
 * `$wf:` + JSON of [exec id, kind, name, journal position]. Its fire is a framework turn (not the
 * entity's onTimer) that journals the wait's end and wakes the execution.
 */
const PREFIX = "$wf:";

export interface WaitTimer {
  readonly execId: string;
  /** A sleep's due time, or a signal wait's timeout. */
  readonly kind: "sleep" | "signal";
  readonly name: string;
  readonly seq: number;
}

export const waitTimerId = (t: WaitTimer): string => PREFIX + JSON.stringify([t.execId, t.kind, t.name, t.seq]);

export function parseWaitTimer(timerId: string): WaitTimer | undefined {
  if (!timerId.startsWith(PREFIX)) return undefined;
  try {
    const [execId, kind, name, seq] = JSON.parse(timerId.slice(PREFIX.length)) as [string, WaitTimer["kind"], string, number];
    return { execId, kind, name, seq };
  } catch {
    return undefined;
  }
}

/** The journal result of a signal wait that timed out. */
export const TIMED_OUT = JSON.stringify({ timeout: true });

/**
 * What a wait's turn found: the wait is over (journaled), or the execution is now suspended
 * (`signalled`: a signal wait's signal was found delivered as it suspended: it must be woken).
 */
export type WaitOutcome = { readonly done: JournalEntry } | { readonly suspended: true; readonly signalled: boolean };

/**
 * The turn a sleep reaches: a journaled sleep is over; a due one is journaled now; otherwise its
 * timer is scheduled (unless already pending: a replay keeps the first due time) and the
 * execution is marked suspended, in the same transaction.
 */
export function sleepTurn(
  store: WorkflowStore,
  key: ExecutionKey,
  attempt: number,
  name: string,
  seq: number,
  dueAt: (now: Date) => number,
): TurnImplementation {
  return readingTurn(
    () => store.entry(key, name),
    (journaled, state, turn): WaitOutcome => {
      if (journaled) return { done: journaled };
      const timers = new EntityTimers(state, turn, true);
      const timerId = waitTimerId({ execId: key.execId, kind: "sleep", name, seq });
      const pending = timers.dueAt(timerId);
      const fireAt = pending ?? dueAt(turn.now);
      const now = turn.now.getTime();
      if (!(fireAt > now)) {
        if (pending !== undefined) timers.cancel(timerId);
        const entry: JournalEntry = { name, seq, result: "null", runs: 1 };
        turn.transact(store.recordActivity(key, entry, attempt));
        return { done: entry };
      }
      if (pending === undefined) timers.schedule(timerId, fireAt - now);
      turn.transact(store.suspend(key, attempt, undefined));
      return { suspended: true, signalled: false };
    },
  );
}

/**
 * The fire turn of a wait timer: ends the wait in the journal (a sleep is over; a signal wait
 * timed out, unless its signal was delivered), marks the execution running and claims it for the
 * run it wakes (so a crash before the wake-up leaves it to the next owner's resume), and wakes it
 * once that has committed, with what that run needs: its claim and journal.
 */
export function waitFireTurn(
  store: WorkflowStore,
  address: EntityAddress,
  timerId: string,
  wake: (key: ExecutionKey, woken: WokenExecution | undefined) => void,
): TurnImplementation {
  return {
    kind: "mutation",
    handler: (state, _args, turn): FireOutcome => {
      const timer = parseWaitTimer(timerId);
      const timers = new EntityTimers(state, turn, true);
      const fired = timers.takeDue(timerId);
      if ("kind" in fired) return fired;
      const lateMs = Date.parse(fired.fired_at) - Date.parse(fired.fire_at);
      if (!timer) return { kind: "fired", lateMs };
      const key: ExecutionKey = { type: address.type, id: address.id, execId: timer.execId };
      const entry: JournalEntry = { name: timer.name, seq: timer.seq, result: timer.kind === "sleep" ? "null" : TIMED_OUT, runs: 1 };
      // The wake write first: it takes the execution's row lock, which orders it against a delivery.
      let woken: WokenExecution | undefined;
      turn.transact(store.wake(key, (execution) => (woken = execution)));
      const journaled = (done: boolean) => {
        if (done && woken) woken = { ...woken, claim: { ...woken.claim, journal: [...woken.claim.journal, entry] } };
      };
      turn.transact(store.recordUnlessSignalled(key, entry, journaled));
      turn.afterCommit(() => wake(key, woken));
      return { kind: "fired", lateMs };
    },
  };
}
