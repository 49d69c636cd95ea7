import type { TurnContext, TurnImplementation } from "../entity/context.ts";

/**
 * A workflow turn (a mutation) whose handler starts from `read`: the mailbox starts the read
 * ahead, with those of the other turns of its batch (`TurnImplementation.prefetch`). A read started
 * ahead is used once; a turn applied without one (a retry posted again, a reentrant call) reads then.
 */
export function readingTurn<R>(
  read: () => Promise<R>,
  handler: (found: R, state: unknown, turn: TurnContext) => unknown,
): TurnImplementation {
  let ahead: Promise<R> | undefined;
  return {
    kind: "mutation",
    prefetch: () => {
      ahead = read();
      // Its failure is the handler's to report; a read whose turn never runs is dropped.
      ahead.catch(() => {});
    },
    handler: async (state, _args, turn) => {
      const found = ahead ?? read();
      ahead = undefined;
      return handler(await found, state, turn);
    },
  };
}
