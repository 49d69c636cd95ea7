import { randomUUID } from "node:crypto";
import { type EntityAddress, formatAddress } from "./entity/address.ts";
import type { EntityRuntime } from "./entity/runtime.ts";
import { ClusterError } from "./errors.ts";
import type { Logger } from "./log.ts";
import type { Ownership } from "./ownership/ownership.ts";
import type { CallEnvelope, GrpcTransport } from "./transport/grpc.ts";

export interface RouteOptions {
  /** The caller's idempotency key; forwarded calls get one minted if they have none. */
  readonly requestId?: string | undefined;
  readonly callChain?: readonly string[];
  /** How long the caller waits, retries included. */
  readonly timeoutMs?: number;
}

/** Default patience of a call, retries and failovers included. */
export const DEFAULT_CALL_TIMEOUT_MS = 30_000;

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

  async call(address: EntityAddress, rpc: string, args: unknown, options: RouteOptions = {}): Promise<unknown> {
    const deadline = Date.now() + (options.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS);
    let requestId = options.requestId;
    let minted = false;
    for (let attempt = 1; ; attempt++) {
      // Which errors are safe to retry depends on where the attempt ran: a local turn that failed
      // with NOT_OWNER or CONFLICT never committed, while a forwarded call is protected by its id.
      let remote = false;
      try {
        if (this.ownership.isLocal(address.shard)) {
          return await this.runtime.call(address, rpc, args, { requestId, fresh: false, callChain: options.callChain });
        }
        const owner = this.ownership.ownerOf(address.shard);
        // Nothing was attempted, so waiting for an owner is always safe.
        if (!owner || !this.transport) throw new ClusterError("NOT_OWNER", `no runner serves shard ${address.shard} yet`);
        if (!requestId) {
          requestId = randomUUID();
          minted = true;
        }
        remote = true;
        const envelope: CallEnvelope = {
          requestId,
          entityType: address.type,
          entityId: address.id,
          rpc,
          payload: args,
          callChain: options.callChain ?? [],
          deadline,
          fresh: minted && attempt === 1,
        };
        return await this.transport.call(owner, envelope);
      } catch (error) {
        if (!(error instanceof ClusterError) || !retryable(error, remote, requestId !== undefined)) throw error;
        const pause = Math.min(500, 10 * 2 ** Math.min(attempt, 6)) * (0.5 + Math.random() / 2);
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
