import type { Call } from "./call.ts";
import { formatAddress } from "./entity/address.ts";
import { ClusterError } from "./errors.ts";

/**
 * Per-call deadlines. A call carries the instant after which nobody waits for it (Call.deadline);
 * entity-to-entity calls inherit it, so a chain that waits on itself (A → B while B → A) ends at
 * the first caller's deadline instead of holding both mailboxes. A call still queued when its
 * deadline passes is dropped unapplied; its caller already got TIMEOUT.
 */

/** Whether `call`'s caller has stopped waiting. */
export const expired = (call: Call, now = Date.now()): boolean => call.deadline <= now;

/** The TIMEOUT a caller gets: which entity did not answer in time, and along which chain. */
export function deadlineExceeded(call: Call, what = "did not answer before the call's deadline"): ClusterError {
  const chain = call.callChain.length > 0 ? ` (call chain ${[...call.callChain, formatAddress(call.address)].join(" → ")})` : "";
  return new ClusterError("TIMEOUT", `${formatAddress(call.address)}.${call.rpc} ${what}${chain}`);
}

/** The UNAVAILABLE a caller that gave up (its `signal` aborted) gets: nothing more is sent for it. */
export function abandoned(call: Call, why: string): ClusterError {
  return new ClusterError("UNAVAILABLE", `${formatAddress(call.address)}.${call.rpc} abandoned: its caller gave up (${why})`);
}

/**
 * `work`, or `abandoned` as soon as `call.signal` aborts: a caller that gave up (a halted
 * singleton) stops waiting for an attempt already sent, which may still apply, as after a crash.
 */
export function untilAbandoned<T>(call: Call, work: Promise<T>): Promise<T> {
  const { signal } = call;
  if (!signal) return work;
  return new Promise<T>((resolve, reject) => {
    const abandon = () => reject(abandoned(call, "while it waited"));
    signal.addEventListener("abort", abandon, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", abandon));
  });
}

/** `work`, or TIMEOUT once `call`'s deadline passes, whichever comes first. */
export function withDeadline<T>(call: Call, work: Promise<T>, budgetMs: number): Promise<T> {
  if (!Number.isFinite(call.deadline)) return work;
  return new Promise<T>((resolve, reject) => {
    const timer: DeadlineTimer = {};
    atDeadline(call, timer, () => reject(deadlineExceeded(call, `did not answer within ${budgetMs} ms (the call's deadline)`)));
    work.then(
      (value) => {
        clearTimeout(timer.handle);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer.handle);
        reject(error);
      },
    );
  });
}

interface DeadlineTimer {
  handle?: ReturnType<typeof setTimeout>;
}

/**
 * Runs `fire` once `call` has `expired` by the clock a mailbox reads before applying a queued
 * call. libuv counts a timer from the event loop's cached time, which lags `Date.now()` while the
 * loop is busy, so a timer may fire a millisecond early: a caller told TIMEOUT then, while a call
 * it made still sat in a mailbox, could see that call apply after all.
 */
function atDeadline(call: Call, timer: DeadlineTimer, fire: () => void): void {
  timer.handle = setTimeout(() => (expired(call) ? fire() : atDeadline(call, timer, fire)), Math.max(1, call.deadline - Date.now()));
}
