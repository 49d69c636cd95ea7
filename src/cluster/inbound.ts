import type { Operator } from "./admin/operator.ts";
import type { Call } from "./call.ts";
import { formatAddress } from "./entity/address.ts";
import type { EntityRuntime } from "./entity/runtime.ts";
import { ClusterError, toClusterError } from "./errors.ts";
import type { Logger } from "./log.ts";
import type { TrafficSample } from "./metrics/traffic.ts";
import type { Ownership } from "./ownership/ownership.ts";
import { startSpan, traceFields } from "./trace.ts";
import type { InboundHandler, Locate } from "./transport/wire.ts";

export interface InboundDeps {
  readonly runnerId: string;
  readonly log: Logger;
  readonly ownership: Ownership;
  readonly runtime: EntityRuntime;
  readonly locate: Locate;
  readonly traffic: () => readonly TrafficSample[];
  readonly operator: Operator;
}

/**
 * What peers may ask of this runner: calls for the shards it serves, its active entities, its
 * traffic and status, and a drain. A call is served in a span of its trace (the parent of the
 * calls it makes), so its log lines carry it.
 */
export function inboundHandler({ runnerId, log, ownership, runtime, locate, traffic, operator }: InboundDeps): InboundHandler {
  const debug = log.isLevelEnabled("debug");
  const served = (call: Call, outcome: string) =>
    log.debug({ entity: formatAddress(call.address), rpc: call.rpc, outcome, ...traceFields(call.trace) }, "forwarded call served");
  return {
    call: (received) => {
      const call = received.trace ? { ...received, trace: startSpan(received.trace) } : received;
      const { shard } = call.address;
      if (!ownership.isLocal(shard)) return Promise.reject(new ClusterError("NOT_OWNER", `${runnerId} does not serve shard ${shard}`));
      const reply = runtime.call(call);
      if (debug)
        reply.then(
          () => served(call, "ok"),
          (error: unknown) => served(call, toClusterError(error).code),
        );
      return reply;
    },
    locate,
    activeEntities: () => runtime.activeEntities(),
    traffic,
    status: () => operator.status(),
    drain: (on) => operator.drainSelf(on),
  };
}
