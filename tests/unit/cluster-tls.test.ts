import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Call } from "../../src/cluster/call.ts";
import { ClusterError, silentLogger } from "../../src/cluster/index.ts";
import type { ClusterTls } from "../../src/cluster/tls.ts";
import { GrpcTransport } from "../../src/cluster/transport/grpc.ts";
import type { InboundHandler } from "../../src/cluster/transport/wire.ts";
import { makeCerts } from "../support/certs.ts";
import { freePort } from "../support/free-port.ts";

const certs = makeCerts();
const tls = (leaf: string, ca = "ca.crt"): ClusterTls => ({
  ca: certs.read(ca),
  cert: certs.read(`${leaf}.crt`),
  key: certs.read(`${leaf}.key`),
});

let applied = 0;
const handler: InboundHandler = {
  call: async () => ++applied,
  locate: (type, id) => ({ type, id, shard: 0 }),
  activeEntities: () => [],
  traffic: () => [],
};
const call = (): Call => ({
  address: { type: "Counter", id: "a", shard: 0 },
  rpc: "increment",
  args: { amount: 1 },
  requestId: "r",
  fresh: true,
  callChain: [],
  deadline: Date.now() + 3_000,
});

async function server() {
  const address = `127.0.0.1:${await freePort()}`;
  const transport = new GrpcTransport({ address, secret: undefined, tls: tls("runner"), log: silentLogger });
  await transport.listen(handler);
  return { address, transport };
}

async function refused(work: Promise<unknown>): Promise<ClusterError> {
  try {
    await work;
  } catch (error) {
    assert.instance(error, ClusterError);
    return error as ClusterError;
  }
  throw new Error("the call went through");
}

test("runners with certificates of the cluster's CA call each other over mutual TLS", async () => {
  const { address, transport } = await server();
  const peer = new GrpcTransport({ address: "127.0.0.1:1", secret: undefined, tls: tls("peer"), log: silentLogger });
  try {
    const before = applied;
    assert.is(await peer.call(address, call()), before + 1);
  } finally {
    peer.forget(address);
    await transport.close();
  }
});

test("an impostor (a certificate from another CA, or none) cannot call a runner; nothing is applied", async () => {
  const { address, transport } = await server();
  const before = applied;
  // Its own CA vouches for its certificate, but the runner checks it against the cluster's CA.
  const impostor = new GrpcTransport({
    address: "127.0.0.1:2",
    secret: undefined,
    tls: tls("impostor", "foreign-ca.crt"),
    log: silentLogger,
  });
  // Trusts the cluster's CA (so it could check the runner) but shows a certificate the runner refuses.
  const halfImpostor = new GrpcTransport({ address: "127.0.0.1:3", secret: undefined, tls: tls("impostor"), log: silentLogger });
  const plain = new GrpcTransport({ address: "127.0.0.1:4", secret: undefined, log: silentLogger });
  try {
    for (const [name, t] of [
      ["foreign CA", impostor],
      ["foreign certificate", halfImpostor],
      ["no TLS", plain],
    ] as const) {
      const error = await refused(t.call(address, call()));
      assert.ok(["UNAVAILABLE", "TIMEOUT"].includes(error.code), `${name}: ${error.code} ${error.message}`);
      await refused(t.activeEntities(address, 1_000));
    }
    assert.is(applied, before, "no call reached the handler");
  } finally {
    for (const t of [impostor, halfImpostor, plain]) t.forget(address);
    await transport.close();
  }
});

test("a runner does not talk to a peer whose certificate comes from another CA", async () => {
  const address = `127.0.0.1:${await freePort()}`;
  const rogue = new GrpcTransport({ address, secret: undefined, tls: tls("impostor", "foreign-ca.crt"), log: silentLogger });
  let reached = 0;
  await rogue.listen({ ...handler, call: async () => ++reached });
  const honest = new GrpcTransport({ address: "127.0.0.1:1", secret: undefined, tls: tls("peer"), log: silentLogger });
  try {
    await refused(honest.call(address, call()));
    assert.is(reached, 0, "the call was never sent to the impostor");
  } finally {
    honest.forget(address);
    await rogue.close();
  }
});

test.after(() => certs.dispose());
test.run();
