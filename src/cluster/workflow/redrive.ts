import { setTimeout as sleep } from "node:timers/promises";
import { type Backoff, backoffDelay } from "../backoff.ts";
import { ClusterError } from "../errors.ts";

/** Between tries to drive an execution that was left running with nobody driving it. */
const REDRIVE_BACKOFF: Backoff = { firstMs: 200, maxMs: 15_000, jitter: true };
/** Tries while this runner's fence stays down (about four minutes); a shard gone by then is resumed by its new owner. */
const REDRIVE_TRIES = 20;

export interface Redrive {
  /** This runner stopped running workflows. */
  readonly stopped: () => boolean;
  /** This runner serves the execution's shard now. */
  readonly serving: () => boolean;
  /** Runs the execution again (if storage still has it unfinished); `attempt` is the next redrive's number. */
  readonly awaken: (attempt: number) => Promise<void>;
}

/**
 * A run that ended NOT_OWNER although nobody halted it (`halted` false) leaves its execution
 * `running` with no one driving it: the fence went down for a moment (an etcd restart) or a newer
 * attempt fenced it out (a zombie's, itself fenced since). No caller may come back for it, and the
 * shard did not move, so no resume follows either. It is driven again, with backoff, once this
 * runner serves the shard; storage's attempt number keeps any other run of it from writing.
 */
export function redriveIfAbandoned(error: unknown, halted: boolean, attempt: number, redrive: Redrive): void {
  if (halted || !(error instanceof ClusterError) || error.code !== "NOT_OWNER") return;
  void (async () => {
    for (let n = attempt; n < attempt + REDRIVE_TRIES && !redrive.stopped(); n++) {
      await sleep(backoffDelay(n, REDRIVE_BACKOFF), undefined, { ref: false });
      if (redrive.stopped()) return;
      if (redrive.serving()) return redrive.awaken(n + 1);
    }
  })();
}
