import { backoffDelay } from "../backoff.ts";
import { StepFailed } from "../errors.ts";
import type { RetryPolicy } from "./definition.ts";

/** What the retry loop needs of a run. */
export interface RetryRun {
  /** The journal position of the next thing the workflow reaches. */
  reach(): number;
  /** The journaled result of `name` at position `seq`, if any. */
  replay<T>(name: string, seq: number): T | undefined;
  /** Journals a failed attempt and its error. */
  recordFailure(name: string, seq: number, error: string): Promise<void>;
  sleep(name: string, ms: number): Promise<void>;
}

/** The journal name of failed attempt `k` of `name`, and of the durable wait after it. */
export const attemptName = (name: string, k: number) => `${name}#${k}`;
const backoffName = (name: string, k: number) => `${name}#${k}.backoff`;

export function checkPolicy(name: string, p: RetryPolicy): void {
  const ok = Number.isInteger(p.maxAttempts) && p.maxAttempts >= 1 && p.initialMs >= 0 && (p.factor ?? 2) >= 1;
  if (!ok || (p.maxMs !== undefined && !(p.maxMs >= 0)))
    throw new TypeError(`${name}: a retry policy needs maxAttempts ≥ 1, initialMs ≥ 0, factor ≥ 1, maxMs ≥ 0`);
}

/**
 * Runs `once` (a step or activity attempt at a journal position) up to `maxAttempts` times. A
 * failed attempt takes the position its success would have taken, journaled as `name#k` with its
 * error (so an operator sees why it failed, and a replay skips it), then a durable sleep
 * `name#k.backoff` takes the next one. The last failure is journaled too, so a replay of a failed
 * execution fails the same way instead of trying again.
 */
export async function withRetry<T>(run: RetryRun, name: string, policy: RetryPolicy, once: (seq: number) => Promise<T>): Promise<T> {
  checkPolicy(name, policy);
  const wait = { firstMs: policy.initialMs, maxMs: policy.maxMs ?? Number.POSITIVE_INFINITY, factor: policy.factor ?? 2, jitter: false };
  for (let k = 1; ; k++) {
    const seq = run.reach();
    const failed = run.replay<{ error: string }>(attemptName(name, k), seq);
    if (failed === undefined) {
      try {
        return await once(seq);
      } catch (error) {
        if (!(error instanceof StepFailed)) throw error;
        const cause = error.cause instanceof Error ? error.cause.message : String(error.cause);
        await run.recordFailure(attemptName(name, k), seq, cause);
        if (k >= policy.maxAttempts) throw error;
      }
    } else if (k >= policy.maxAttempts) {
      throw new StepFailed(name, new Error(failed.error));
    }
    await run.sleep(backoffName(name, k), backoffDelay(k, wait));
  }
}
