/**
 * A runner's gRPC side alone, in a process of its own, for tests that SIGKILL a peer.
 *
 *   node --import tsx tests/support/grpc-peer.ts HOST:PORT
 *
 * Prints "listening" once bound, then "received" for each call. Calls to rpc "hang" never complete;
 * the others answer their payload.
 */

import { silentLogger } from "../../src/cluster/index.ts";
import { GrpcTransport } from "../../src/cluster/transport/grpc.ts";

const address = process.argv[2];
if (!address) throw new Error("usage: grpc-peer.ts HOST:PORT");
const transport = new GrpcTransport({ address, secret: undefined, log: silentLogger });
await transport.listen({
  call: (call) => {
    process.stdout.write("received\n");
    return call.rpc === "hang" ? new Promise(() => {}) : Promise.resolve(call.args);
  },
  locate: (type, id) => ({ type, id, shard: 0 }),
  activeEntities: () => [],
  traffic: () => [],
});
process.stdout.write("listening\n");
