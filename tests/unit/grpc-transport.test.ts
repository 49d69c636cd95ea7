import { createServer } from "node:net";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ClusterError } from "../../src/cluster/errors.ts";
import { silentLogger } from "../../src/cluster/log.ts";
import { type CallEnvelope, GrpcTransport, type InboundHandler } from "../../src/cluster/transport/grpc.ts";

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const echo: InboundHandler = {
  call: async (e: CallEnvelope) => {
    if (e.rpc === "fail") throw new ClusterError("NOT_OWNER", "not mine");
    return { echoed: e.payload, chain: e.callChain, id: e.requestId, fresh: e.fresh };
  },
  activeEntities: () => [{ entity_type: "Counter", entity_id: "a", shard_id: 7 }],
};

async function pair(serverSecret: string | undefined, clientSecret: string | undefined) {
  const address = `127.0.0.1:${await freePort()}`;
  const server = new GrpcTransport({ address, secret: serverSecret, log: silentLogger });
  await server.listen(echo);
  const client = new GrpcTransport({ address: "127.0.0.1:1", secret: clientSecret, log: silentLogger });
  return { address, server, client };
}

const envelope = (rpc: string): CallEnvelope => ({
  requestId: "r-1",
  entityType: "Counter",
  entityId: "a",
  rpc,
  payload: { n: 9007199254740991, s: "ü" },
  callChain: ["CrossEntity/x"],
  deadline: Date.now() + 5_000,
  fresh: true,
});

test("calls carry payload, request id, chain and freshness; application errors keep their code", async () => {
  const { address, server, client } = await pair(undefined, undefined);
  try {
    assert.equal(await client.call(address, envelope("get")), {
      echoed: { n: 9007199254740991, s: "ü" },
      chain: ["CrossEntity/x"],
      id: "r-1",
      fresh: true,
    });
    const error = await client.call(address, envelope("fail")).catch((e: unknown) => e);
    assert.instance(error, ClusterError);
    assert.is((error as ClusterError).code, "NOT_OWNER");
    assert.equal(await client.activeEntities(address, 2_000), [{ entity_type: "Counter", entity_id: "a", shard_id: 7 }]);
  } finally {
    await client.close();
    await server.close();
  }
});

test("CLUSTER_SECRET: a peer with the wrong secret, or none, is refused", async () => {
  for (const clientSecret of ["wrong", undefined]) {
    const { address, server, client } = await pair("s3cret", clientSecret);
    try {
      const error = await client.call(address, envelope("get")).catch((e: unknown) => e);
      assert.is((error as ClusterError).code, "UNAUTHENTICATED", String(clientSecret));
    } finally {
      await client.close();
      await server.close();
    }
  }
  const { address, server, client } = await pair("s3cret", "s3cret");
  try {
    assert.ok(await client.call(address, envelope("get")));
  } finally {
    await client.close();
    await server.close();
  }
});

test("an unreachable peer is UNAVAILABLE (safe to retry elsewhere), not a crash", async () => {
  const client = new GrpcTransport({ address: "127.0.0.1:1", secret: undefined, log: silentLogger });
  try {
    const error = await client
      .call(`127.0.0.1:${await freePort()}`, { ...envelope("get"), deadline: Date.now() + 2_000 })
      .catch((e: unknown) => e);
    assert.instance(error, ClusterError);
    assert.ok(["UNAVAILABLE", "TIMEOUT"].includes((error as ClusterError).code), (error as ClusterError).code);
  } finally {
    await client.close();
  }
});

test.run();
