/** Resolves once the clock is past `epochMs` (a due time the test must let pass). */
export const untilPast = (epochMs: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, epochMs - Date.now()) + 1));

/**
 * Polls `probe` until it returns a value other than `undefined`, or fails after `timeoutMs`.
 * For conditions that no event announces (an entity evicted by a timer, a peer restarted).
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 10_000,
  everyMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ""}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** What `settled` resolves with, or `late` if it has not settled after `ms` (what a hung call looks like). */
export function within<T, L extends string>(settled: Promise<T>, ms: number, late: L): Promise<T | L> {
  let timer: NodeJS.Timeout | undefined;
  const waiting = new Promise<L>((resolve) => {
    timer = setTimeout(() => resolve(late), ms);
  });
  return Promise.race([settled, waiting]).finally(() => clearTimeout(timer));
}
