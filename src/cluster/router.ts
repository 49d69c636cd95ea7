import { setTimeout as sleep } from "node:timers/promises";
import { type Backoff, backoffDelay } from "./backoff.ts";
import type { Call } from "./call.ts";
import { abandoned, deadlineExceeded, expired, untilAbandoned, withDeadline } from "./deadline.ts";
import { formatAddress } from "./entity/address.ts";
import type { EntityRuntime } from "./entity/runtime.ts";
import { ClusterError, Overloaded, toClusterError } from "./errors.ts";
import type { Logger } from "./log.ts";
import { type ClusterMetrics, noMetrics } from "./metrics/metrics.ts";
import { MintedIds } from "./minted-ids.ts";
import type { Ownership } from "./ownership/ownership.ts";
import { traceFields } from "./trace.ts";
import type { GrpcTransport } from "./transport/grpc.ts";

/** While ownership moves: short, since a new owner usually serves within a lease round. */
const OWNER_BACKOFF: Backoff = { firstMs: 20, maxMs: 500, jitter: true };

/**
 * Sends each call to the owner of its entity's shard: the local runtime, or a peer over gRPC.
 * When ownership is moving (NOT_OWNER, a peer gone, a fenced write) it retries with backoff until
 * the caller's deadline. Every forwarded attempt carries the same request id, so an attempt whose
 * reply was lost is answered from the stored reply instead of being applied twice.
 */
export class Router {
  private readonly debug: boolean;
  readonly minted = new MintedIds();

  constructor(
    private readonly ownership: Ownership,
    private readonly runtime: EntityRuntime,
    private readonly transport: GrpcTransport | undefined,
    private readonly log: Logger,
    private readonly metrics: ClusterMetrics = noMetrics,
  ) {
    this.debug = log.isLevelEnabled("debug");
  }

  /** Counts and times the call as it entered here: one outcome per call, whatever its retries. */
  async call(call: Call): Promise<unknown> {
    const started = performance.now();
    const labels = this.runtime.labels(call.address.type, call.rpc);
    let outcome = "ok";
    try {
      return await this.route(call);
    } catch (error) {
      outcome = toClusterError(error).code;
      throw error;
    } finally {
      this.metrics.calls.total.inc({ ...labels, outcome });
      this.metrics.calls.duration.observe(labels, (performance.now() - started) / 1000);
    }
  }

  /** Forwarded calls without a request id get one minted, kept by every retry. */
  private async route(call: Call): Promise<unknown> {
    if (expired(call)) throw deadlineExceeded(call, "was not sent: its deadline had passed");
    const minted: { id?: Minted } = {};
    try {
      return await this.attempts(call, minted);
    } finally {
      if (minted.id) this.minted.settle(minted.id.entity, minted.id.seq);
    }
  }

  private async attempts(call: Call, minted: { id?: Minted }): Promise<unknown> {
    const { address, deadline } = call;
    const budgetMs = Math.round(deadline - Date.now());
    let requestId = call.requestId;
    /** An attempt reached a peer and its outcome is unknown: it may still apply. */
    let uncertain = false;
    for (let attempt = 1; ; attempt++) {
      if (call.signal?.aborted) throw abandoned(call, "before it was sent");
      // Which errors are safe to retry depends on where the attempt ran: a local turn that failed
      // with NOT_OWNER or CONFLICT never committed, while a forwarded call is protected by its id.
      let remote = false;
      try {
        if (this.ownership.isLocal(address.shard)) {
          // A local call may wait behind a turn that waits on it (a cycle): the deadline ends the wait.
          const id = minted.id;
          const local = id ? { ...call, requestId, fresh: false, minted: this.minted.id(id.entity, id.seq) } : call;
          return await untilAbandoned(call, withDeadline(local, this.runtime.call(local), budgetMs));
        }
        const owner = this.ownership.ownerOf(address.shard);
        // Nothing was attempted, so waiting for an owner is always safe.
        if (!owner || !this.transport) throw new ClusterError("NOT_OWNER", `no runner serves shard ${address.shard} yet`);
        // An id minted for this attempt has no earlier attempt: the owner need not doubt it. Only calls a
        // retry could apply twice get one: the others would hold back what the entity may forget.
        const fresh = !requestId;
        if (!requestId && this.runtime.needsRequestId(address.type, call.rpc)) {
          const entity = formatAddress(address);
          minted.id = { entity, seq: this.minted.mint(entity) };
          requestId = this.minted.requestId(minted.id.seq);
        }
        remote = true;
        this.metrics.calls.forwarded.inc(this.runtime.labels(address.type, call.rpc));
        if (this.debug)
          this.log.debug({ entity: formatAddress(address), rpc: call.rpc, owner, attempt, ...traceFields(call.trace) }, "call forwarded");
        const id = minted.id && this.minted.id(minted.id.entity, minted.id.seq);
        return await untilAbandoned(call, this.transport.call(owner, { ...call, requestId, fresh, minted: id }));
      } catch (error) {
        if (error instanceof Overloaded && uncertain) {
          // A refusal says "not applied", but an earlier attempt of this call may still apply:
          // the caller must not take it for a call it may simply send again (one without a key).
          throw new ClusterError(
            "UNAVAILABLE",
            `${formatAddress(address)}.${call.rpc}: outcome unknown, an earlier attempt may still apply (now ${error.message})`,
          );
        }
        if (!(error instanceof ClusterError) || call.signal?.aborted || !retryable(error, remote, requestId !== undefined)) throw error;
        if (remote && error.code === "UNAVAILABLE") uncertain = true;
        const pause = backoffDelay(attempt, OWNER_BACKOFF);
        if (Date.now() + pause >= deadline) {
          this.metrics.calls.retries.inc({ reason: "deadline" });
          throw new ClusterError("UNAVAILABLE", `${formatAddress(address)} unreachable after ${attempt} attempts: ${error.message}`);
        }
        this.metrics.calls.retries.inc({ reason: error.code });
        if (attempt % 10 === 0)
          this.log.warn({ entity: formatAddress(address), attempt, err: error.message, ...traceFields(call.trace) }, "still retrying call");
        await sleep(pause, undefined, { signal: call.signal }).catch(() => {});
      }
    }
  }
}

/** The id minted for a forwarded call: the entity it goes to, and its sequence number. */
interface Minted {
  readonly entity: string;
  readonly seq: number;
}

function retryable(error: ClusterError, remote: boolean, hasRequestId: boolean): boolean {
  if (error.code === "NOT_OWNER" || error.code === "CONFLICT") return true;
  // UNAVAILABLE may mean "applied, but the reply was lost": only an id makes a retry safe.
  return error.code === "UNAVAILABLE" && (remote || hasRequestId);
}
