import type { Etcd3, Lease } from "etcd3";
import type { Logger } from "../log.ts";

/** Told the time left (ms) until a lease's new fencing deadline. */
export type FenceListener = (leaseId: string, remainingMs: number) => void;

/** Told of keep-alive failures and of the fencing deadline passing (for metrics). */
export interface LeaseEvents {
  keepAliveFailed(): void;
  fenced(): void;
}

/**
 * A runner's etcd lease, and the self-fencing deadline that goes with it: the instant until which
 * the lease is certainly alive. Each keep-alive that etcd confirms proves the lease lived when the
 * request was *sent*, so the deadline is that send time + TTL − margin. Past it the runner must not
 * serve: another runner may already hold its shards. Times are monotonic (performance.now).
 */
export class FencedLease {
  private deadline: number;
  private readonly sent: number[] = [];
  /** Wall-clock time (ms) of the last keep-alive etcd confirmed, for operators. */
  private confirmedAt: number | undefined;
  /** The deadline passed while the lease was held: reported once, until a keep-alive extends it again. */
  private fenced = false;

  private constructor(
    private readonly lease: Lease,
    readonly id: string,
    private readonly ttlMs: number,
    private readonly marginMs: number,
    grantSentAt: number,
    private readonly onExtend: FenceListener | undefined,
    private readonly events: LeaseEvents | undefined,
  ) {
    this.deadline = grantSentAt + ttlMs - marginMs;
    onExtend?.(id, this.remainingMs);
    lease.on("keepaliveFired", () => this.sent.push(performance.now()));
    lease.on("keepaliveSucceeded", () => this.confirm(this.sent.shift()));
    // A broken stream never answers the requests it carried.
    lease.on("keepaliveFailed", () => {
      this.sent.splice(0);
      events?.keepAliveFailed();
    });
  }

  /**
   * Grants a lease of `ttlMs` (whole seconds in etcd, rounded up) with automatic keep-alive.
   * `onExtend` hears of each new deadline just before it takes effect.
   */
  static async grant(
    client: Etcd3,
    ttlMs: number,
    log: Logger,
    onLost: (error: Error) => void,
    onExtend?: FenceListener,
    events?: LeaseEvents,
  ): Promise<FencedLease> {
    const ttlSeconds = Math.max(1, Math.ceil(ttlMs / 1000));
    const sentAt = performance.now();
    const lease = client.lease(ttlSeconds, { autoKeepAlive: true });
    let granted: FencedLease | undefined;
    lease.on("lost", (error: Error) => {
      granted?.expire();
      log.warn({ err: error }, "etcd lease lost");
      // Lost before it was granted: the grant itself fails, and its caller hears of it there.
      if (granted) onLost(error);
    });
    const id = await lease.grant();
    // A margin for clock-rate differences and scheduling delays, never less than 100 ms.
    granted = new FencedLease(lease, id, ttlSeconds * 1000, Math.max(100, ttlSeconds * 100), sentAt, onExtend, events);
    return granted;
  }

  get etcdLease(): Lease {
    return this.lease;
  }

  /** True while the lease is certainly alive. */
  get alive(): boolean {
    if (performance.now() < this.deadline) return true;
    // Expired by loss or revocation (deadline −∞) is not fencing: only a deadline that ran out is.
    if (!this.fenced && this.deadline !== Number.NEGATIVE_INFINITY) {
      this.fenced = true;
      this.events?.fenced();
    }
    return false;
  }

  /** Milliseconds of certain life left (negative once past the deadline). */
  get remainingMs(): number {
    return this.deadline - performance.now();
  }

  /** Gives the lease back: etcd deletes every key attached to it at once. */
  async revoke(): Promise<void> {
    this.expire();
    await this.lease.revoke();
  }

  /** For operators (GET /admin/runners): the last confirmed keep-alive and the fencing deadline, as wall-clock dates. */
  status(): { readonly lastKeepAlive: Date | undefined; readonly fencingDeadline: Date } {
    const remaining = this.remainingMs;
    return {
      lastKeepAlive: this.confirmedAt === undefined ? undefined : new Date(this.confirmedAt),
      fencingDeadline: new Date(Date.now() + (Number.isFinite(remaining) ? remaining : 0)),
    };
  }

  private confirm(sentAt: number | undefined): void {
    if (sentAt === undefined) return;
    this.confirmedAt = Date.now();
    const deadline = sentAt + this.ttlMs - this.marginMs;
    if (deadline <= this.deadline) return;
    this.onExtend?.(this.id, deadline - performance.now());
    this.deadline = deadline;
    this.fenced = false;
  }

  private expire(): void {
    this.deadline = Number.NEGATIVE_INFINITY;
  }
}
