/** The workflow engine's storage retries and small helpers. */
import { setTimeout as sleep } from "node:timers/promises";
import { type Backoff, backoffDelay } from "../backoff.ts";
import { addressKey, type EntityAddress } from "../entity/address.ts";
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

/** Aborts the executions and waits until each has stopped (or finished). */
export async function halt(
  executions: readonly { readonly controller: AbortController; readonly done: Promise<unknown> }[],
): Promise<void> {
  for (const x of executions) x.controller.abort();
  await Promise.allSettled(executions.map((x) => x.done));
}

export function superseded(what: string, attempt: number): ClusterError {
  return new ClusterError("NOT_OWNER", `${what} attempt ${attempt} was superseded by a newer attempt`);
}

export function executionKey(address: EntityAddress, execId: string): string {
  return `${addressKey(address.type, address.id)}\u0000${execId}`;
}
