import type { TurnContext, TurnImplementation } from "../entity/context.ts";

/** A read's outcome, kept for the handler (and its replays) once the read has settled. */
type Settled<R> = { readonly value: R } | { readonly error: unknown };

/**
 * A workflow turn (a mutation) whose handler starts from `read`: the mailbox runs the read ahead,
 * with those of the other turns of its batch, and applies the batch once they have settled
 * (`TurnImplementation.prefetch`). The handler is then synchronous: the mailbox can replay it
 * after a later turn of the batch fails, instead of checkpointing the whole state after it, as it
 * must after an asynchronous handler. A turn applied without a read ahead (a reentrant call) reads then.
 */
export function readingTurn<R>(
  read: () => Promise<R>,
  handler: (found: R, state: unknown, turn: TurnContext) => unknown,
): TurnImplementation {
  let ahead: Settled<R> | undefined;
  return {
    kind: "mutation",
    prefetch: async () => {
      ahead = undefined;
      try {
        ahead = { value: await read() };
      } catch (error) {
        // Its failure is the handler's to report.
        ahead = { error };
      }
    },
    handler: (state, _args, turn) => {
      if (!ahead) return read().then((found) => handler(found, state, turn));
      if ("error" in ahead) throw ahead.error;
      return handler(ahead.value, state, turn);
    },
  };
}
