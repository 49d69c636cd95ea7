import { randomUUID } from "node:crypto";
import { type Backoff, backoffDelay } from "./backoff.ts";
import type { Call } from "./call.ts";
import { formatAddress } from "./entity/address.ts";
import type { EntityRuntime } from "./entity/runtime.ts";
import { ClusterError } from "./errors.ts";
import type { Logger } from "./log.ts";
import type { Ownership } from "./ownership/ownership.ts";
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
  constructor(
    private readonly ownership: Ownership,
    private readonly runtime: EntityRuntime,
    private readonly transport: GrpcTransport | undefined,
    private readonly log: Logger,
  ) {}

  /** Forwarded calls without a request id get one minted, kept by every retry. */
  async call(call: Call): Promise<unknown> {
    const { address, deadline } = call;
    let requestId = call.requestId;
    let minted = false;
    for (let attempt = 1; ; attempt++) {
      // Which errors are safe to retry depends on where the attempt ran: a local turn that failed
      // with NOT_OWNER or CONFLICT never committed, while a forwarded call is protected by its id.
      let remote = false;
      try {
        if (this.ownership.isLocal(address.shard)) {
          return await this.runtime.call(requestId === call.requestId ? call : { ...call, requestId, fresh: false, minted });
        }
        const owner = this.ownership.ownerOf(address.shard);
        // Nothing was attempted, so waiting for an owner is always safe.
        if (!owner || !this.transport) throw new ClusterError("NOT_OWNER", `no runner serves shard ${address.shard} yet`);
        if (!requestId) {
          requestId = randomUUID();
          minted = true;
        }
        remote = true;
        return await this.transport.call(owner, { ...call, requestId, fresh: minted && attempt === 1, minted });
      } catch (error) {
        if (!(error instanceof ClusterError) || !retryable(error, remote, requestId !== undefined)) throw error;
        const pause = backoffDelay(attempt, OWNER_BACKOFF);
        if (Date.now() + pause >= deadline) {
          throw new ClusterError("UNAVAILABLE", `${formatAddress(address)} unreachable after ${attempt} attempts: ${error.message}`);
        }
        if (attempt % 10 === 0) this.log.warn({ entity: formatAddress(address), attempt, err: error.message }, "still retrying call");
        await new Promise((resolve) => setTimeout(resolve, pause));
      }
    }
  }
}

function retryable(error: ClusterError, remote: boolean, hasRequestId: boolean): boolean {
  if (error.code === "NOT_OWNER" || error.code === "CONFLICT") return true;
  // UNAVAILABLE may mean "applied, but the reply was lost": only an id makes a retry safe.
  return error.code === "UNAVAILABLE" && (remote || hasRequestId);
}
