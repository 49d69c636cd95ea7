import { Overloaded } from "./errors.ts";
import { limits } from "./limits.ts";

/** Which bound refused a call. */
export type RefusalReason = "mailbox" | "inflight" | "forwarding";

/**
 * Told of every refusal: the hook for a metrics counter (wired where the metrics live). The
 * framework does not log refusals one by one: that would cost most when the runner can least afford it.
 */
export type RefusalHook = (reason: RefusalReason) => void;

export interface AdmissionLimits {
  /** Most calls queued in one entity's mailbox (`MAILBOX_LIMIT`). */
  readonly mailboxLimit: number;
  /** Most calls a runner applies at once, queued or running, across its entities (`MAX_INFLIGHT`). */
  readonly maxInflight: number;
  readonly onRefused?: RefusalHook | undefined;
}

export const DEFAULT_ADMISSION: AdmissionLimits = { mailboxLimit: limits.mailboxLimit, maxInflight: limits.maxInflight };

/**
 * Bounded work: a call past a limit is refused at once (OVERLOADED, with a retry hint), before it
 * is queued, so it is never applied and its caller may retry it with its idempotency key. What a
 * runner holds therefore stays bounded at any load: its calls in flight, each mailbox's queue, and
 * with them its commit queue (at most one commit per mailbox with calls in flight).
 */
export class Admission {
  private inflight = 0;

  constructor(private readonly bounds: AdmissionLimits = DEFAULT_ADMISSION) {}

  /** Calls accepted and not yet answered. */
  get inFlight(): number {
    return this.inflight;
  }

  /**
   * The refusal a call arriving now gets for the runner's bound, counted as one; undefined while
   * there is room. For a caller that can refuse before doing any work for the call (the HTTP entry).
   */
  refusalNow(): Overloaded | undefined {
    if (this.inflight < this.bounds.maxInflight) return undefined;
    this.bounds.onRefused?.("inflight");
    return overloaded("inflight", `runner has ${this.inflight} calls in flight (MAX_INFLIGHT ${this.bounds.maxInflight})`);
  }

  /**
   * Runs `work` if the runner and the entity have room (the entity's mailbox holds `backlog`
   * queued calls), else refuses it without running it.
   */
  admit<T>(backlog: number, entity: string, work: () => Promise<T>): Promise<T> {
    const busy = this.refusalNow();
    if (busy) return Promise.reject(busy);
    if (backlog >= this.bounds.mailboxLimit) {
      return this.refuse("mailbox", `${entity} has ${backlog} calls queued (MAILBOX_LIMIT ${this.bounds.mailboxLimit})`);
    }
    this.inflight++;
    const pending = work();
    pending.then(this.release, this.release);
    return pending;
  }

  // Made once: tsx (esbuild's keepNames) gives every named function expression a defineProperty
  // call where it is created, which per call cost ~5 % of a runner's throughput (see README, Benchmarks).
  private readonly release = (): void => {
    this.inflight--;
  };

  private refuse(reason: RefusalReason, message: string): Promise<never> {
    this.bounds.onRefused?.(reason);
    return Promise.reject(overloaded(reason, message));
  }
}

/** The refusal of one call; the hint grows with how deep the runner is in trouble. */
export function overloaded(reason: RefusalReason, message: string): Overloaded {
  return new Overloaded(`overloaded: ${message}`, reason === "mailbox" ? limits.overloadRetryAfterMs : 2 * limits.overloadRetryAfterMs);
}
