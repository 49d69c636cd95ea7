import { setTimeout as sleep } from "node:timers/promises";
import { type Backoff, backoffDelay } from "../backoff.ts";
import { ClusterError } from "../errors.ts";
import type { Logger } from "../log.ts";

/** After a transient storage failure. */
export const STORAGE_BACKOFF: Backoff = { firstMs: 40, maxMs: 2_000, jitter: true };

const isTransient = (error: unknown) => error instanceof ClusterError && (error.code === "UNAVAILABLE" || error.code === "CONFLICT");

/**
 * Runs a storage operation of an execution, retrying transient failures in place with backoff
 * until it succeeds or `signal` aborts (NOT_OWNER).
 */
export async function persist<R>(op: () => Promise<R>, signal: AbortSignal, log: Logger): Promise<R> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await op();
    } catch (error) {
      if (!isTransient(error)) throw error;
      if (attempt === 1 || attempt % 20 === 0) log.warn({ err: error, attempt }, "workflow storage operation failed; retrying");
      const resumed = await sleep(backoffDelay(attempt, STORAGE_BACKOFF), true, { signal }).catch(() => false);
      if (!resumed) throw new ClusterError("NOT_OWNER", "this runner stopped running the execution", { cause: error });
    }
  }
}

export function superseded(what: string, attempt: number): ClusterError {
  return new ClusterError("NOT_OWNER", `${what} attempt ${attempt} was superseded by a newer attempt`);
}
