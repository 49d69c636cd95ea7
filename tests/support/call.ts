import type { Call } from "../../src/cluster/call.ts";
import type { EntityAddress } from "../../src/cluster/index.ts";

/** A call as the router hands it to a runtime: no request id, no chain, 30 s to live. */
export function callOf(address: EntityAddress, rpc: string, args: unknown, extra: Partial<Call> = {}): Call {
  return { address, rpc, args, requestId: undefined, fresh: false, callChain: [], deadline: Date.now() + 30_000, ...extra };
}
