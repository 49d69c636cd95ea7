/** How a retry loop waits: `firstMs` before the second attempt, doubling (or `factor`), at most `maxMs`. */
export interface Backoff {
  readonly firstMs: number;
  readonly maxMs: number;
  readonly factor?: number;
  /**
   * Waits a random 50–100 % of the delay, so that many callers failing together (a shard moving, a
   * database restarting) do not retry together.
   */
  readonly jitter: boolean;
}

/** The pause after failed attempt number `attempt` (1, 2, …). */
export function backoffDelay(attempt: number, { firstMs, maxMs, jitter, factor = 2 }: Backoff): number {
  const delay = Math.min(maxMs, firstMs * factor ** (Math.min(Math.max(attempt, 1), 32) - 1));
  return jitter ? delay * (0.5 + Math.random() / 2) : delay;
}
