import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Call } from "../../src/cluster/call.ts";
import { ClusterError, silentLogger } from "../../src/cluster/index.ts";
import { GrpcTransport } from "../../src/cluster/transport/grpc.ts";
import type { InboundHandler, WireCallBatch, WireCallRequest, WireReplyBatch } from "../../src/cluster/transport/wire.ts";
import { freePort } from "../support/free-port.ts";
import { waitFor } from "../support/wait.ts";

const echo: InboundHandler = {
  call: async (e: Call) => {
    if (e.rpc === "fail") throw new ClusterError("NOT_OWNER", "not mine");
    return {
      echoed: e.args,
      chain: e.callChain,
      id: e.requestId,
      fresh: e.fresh,
      minted: e.minted,
      shard: e.address.shard,
      trace: e.trace,
    };
  },
  locate: (type, id) => ({ type, id, shard: 7 }),
  activeEntities: () => [{ type: "Counter", id: "a", shard: 7 }],
  traffic: () => [[1_700_000_000, 2.5, 1.2, 4.8]],
};

async function pair(serverSecret: string | undefined, clientSecret: string | undefined) {
  const address = `127.0.0.1:${await freePort()}`;
  const server = new GrpcTransport({ address, secret: serverSecret, log: silentLogger });
  await server.listen(echo);
  const client = new GrpcTransport({ address: "127.0.0.1:1", secret: clientSecret, log: silentLogger });
  return { address, server, client };
}

const envelope = (rpc: string): Call => ({
  requestId: "r-1",
  address: { type: "Counter", id: "a", shard: 0 },
  rpc,
  args: { n: 9007199254740991, s: "ü" },
  callChain: ["CrossEntity/x"],
  deadline: Date.now() + 5_000,
  fresh: true,
  trace: { traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", flags: "01" },
  minted: { router: "r", seq: 2 ** 40, settledBelow: 2 ** 40 - 3 },
});

/** Rejections of `calls`, once all have settled; fails if any resolved. */
async function rejections(calls: Promise<unknown>[]): Promise<ClusterError[]> {
  const settled = await Promise.allSettled(calls);
  return settled.map((s) => {
    if (s.status === "fulfilled") throw new Error("a call succeeded that should have failed");
    assert.instance(s.reason, ClusterError);
    return s.reason as ClusterError;
  });
}

/** An echo server whose "hang" calls never complete; `received(n)` resolves once n calls arrived. */
async function hangingServer() {
  const address = `127.0.0.1:${await freePort()}`;
  let count = 0;
  const waiters: { n: number; resolve: () => void }[] = [];
  const server = new GrpcTransport({ address, secret: undefined, log: silentLogger });
  await server.listen({
    call: (e) => {
      count++;
      for (const w of waiters) if (count >= w.n) w.resolve();
      return e.rpc === "hang" ? new Promise(() => {}) : echo.call(e);
    },
    locate: (type, id) => ({ type, id, shard: 0 }),
    activeEntities: () => [],
    traffic: () => [],
  });
  const received = (n: number) => new Promise<void>((resolve) => (count >= n ? resolve() : waiters.push({ n, resolve })));
  return { address, server, received };
}

const protoPath = fileURLToPath(new URL("../../src/cluster/transport/cluster.proto", import.meta.url));
const definition = protoLoader.loadSync(protoPath, { keepCase: true, longs: Number, defaults: true, oneofs: true });
const Runner = (grpc.loadPackageDefinition(definition) as unknown as { cluster: { Runner: grpc.ServiceClientConstructor } }).cluster.Runner;
type RawDuplex = grpc.ClientDuplexStream<WireCallBatch, WireReplyBatch>;
/** A bare gRPC client of the Runner service, to send what GrpcTransport never would. */
const rawClient = (address: string) =>
  new Runner(address, grpc.credentials.createInsecure()) as unknown as grpc.Client & { Calls(): RawDuplex };
/** A Calls stream of a bare client; the test ends it with cancel(), whose CANCELLED status is no failure. */
function rawCalls(raw: ReturnType<typeof rawClient>): RawDuplex {
  const stream = raw.Calls();
  stream.on("error", (error: grpc.ServiceError) => assert.is(error.code, grpc.status.CANCELLED));
  return stream;
}

const wireCall = (id: number, rpc: string, payload: string): WireCallRequest => ({
  id,
  request_id: `raw-${id}`,
  entity_type: "Counter",
  entity_id: "a",
  rpc,
  payload,
  call_chain: [],
  deadline: Date.now() + 5_000,
  fresh: true,
  traceparent: "",
  minted: false,
  minted_router: "",
  minted_seq: 0,
  settled_below: 0,
});

test("calls carry payload, request id, chain, freshness and trace; application errors keep their code", async () => {
  const { address, server, client } = await pair(undefined, undefined);
  try {
    assert.equal(await client.call(address, envelope("get")), {
      echoed: { n: 9007199254740991, s: "ü" },
      chain: ["CrossEntity/x"],
      id: "r-1",
      fresh: true,
      minted: { router: "r", seq: 2 ** 40, settledBelow: 2 ** 40 - 3 },
      shard: 7,
      trace: { traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", flags: "01" },
    });
    const error = await client.call(address, envelope("fail")).catch((e: unknown) => e);
    assert.instance(error, ClusterError);
    assert.is((error as ClusterError).code, "NOT_OWNER");
    assert.equal(await client.activeEntities(address, 2_000), [{ type: "Counter", id: "a", shard: 7 }]);
    assert.equal(await client.traffic(address, 2_000), [[1_700_000_000, 2.5, 1.2, 4.8]]);
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

test("concurrent calls of one tick leave as one stream message; replies are matched by id", async () => {
  // A bare server that records each message's calls and answers them in reverse order, in one batch.
  const address = `127.0.0.1:${await freePort()}`;
  const batches: number[] = [];
  let streams = 0;
  const server = new grpc.Server();
  server.addService(Runner.service, {
    Calls: (stream: grpc.ServerDuplexStream<WireCallBatch, WireReplyBatch>) => {
      streams++;
      stream.on("data", (batch: WireCallBatch) => {
        batches.push(batch.calls.length);
        stream.write({ replies: batch.calls.map((c) => ({ id: c.id, ok: c.payload })).reverse() });
      });
    },
  });
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())),
  );
  const client = new GrpcTransport({ address: "127.0.0.1:1", secret: undefined, log: silentLogger });
  try {
    const n = 200;
    const results = await Promise.all(Array.from({ length: n }, (_, i) => client.call(address, { ...envelope("get"), args: i })));
    assert.equal(
      results,
      Array.from({ length: n }, (_, i) => i),
    );
    assert.equal(batches, [n]);
    // The next tick's calls travel on the same stream, in a message of their own.
    assert.equal(await Promise.all([client.call(address, envelope("get")), client.call(address, envelope("get"))]), [
      envelope("get").args,
      envelope("get").args,
    ]);
    assert.equal(batches, [n, 2]);
    assert.is(streams, 1);
  } finally {
    await client.close();
    server.forceShutdown();
  }
});

test("replies that complete in one tick go back as one stream message", async () => {
  const { address, server } = await pair(undefined, undefined);
  const raw = rawClient(address);
  try {
    const stream = rawCalls(raw);
    const messages: WireReplyBatch[] = [];
    const all = new Promise<void>((resolve) =>
      stream.on("data", (batch: WireReplyBatch) => {
        messages.push(batch);
        if (messages.flatMap((m) => m.replies).length === 50) resolve();
      }),
    );
    stream.write({ calls: Array.from({ length: 50 }, (_, i) => wireCall(i + 1, "get", String(i))) });
    await all;
    assert.is(messages.length, 1);
    const replies = messages[0]?.replies ?? [];
    assert.equal(
      replies.map((r) => r.id),
      Array.from({ length: 50 }, (_, i) => i + 1),
    );
    assert.equal(JSON.parse(replies[7]?.ok ?? "null").echoed, 7);
    stream.cancel();
  } finally {
    raw.close();
    await server.close();
  }
});

test("a call past its deadline fails with TIMEOUT, and the stream goes on serving", async () => {
  const { address, server } = await hangingServer();
  const client = new GrpcTransport({ address: "127.0.0.1:1", secret: undefined, log: silentLogger });
  try {
    const started = Date.now();
    const hung = client.call(address, { ...envelope("hang"), deadline: Date.now() + 200 }).catch((e: unknown) => e);
    const later = client.call(address, { ...envelope("hang"), deadline: Date.now() + 400 }).catch((e: unknown) => e);
    assert.is(((await hung) as ClusterError).code, "TIMEOUT");
    assert.ok(Date.now() - started >= 190, "not before its deadline");
    assert.equal(await client.call(address, envelope("get")), {
      echoed: envelope("get").args,
      chain: ["CrossEntity/x"],
      id: "r-1",
      fresh: true,
      minted: envelope("get").minted,
      shard: 0,
      trace: envelope("get").trace,
    });
    assert.is(((await later) as ClusterError).code, "TIMEOUT");
    assert.ok(Date.now() - started >= 390, "the second deadline is kept too");
    const past = await client.call(address, { ...envelope("get"), deadline: Date.now() - 1 }).catch((e: unknown) => e);
    assert.is((past as ClusterError).code, "TIMEOUT");
  } finally {
    await client.close();
    await server.close();
  }
});

test("forget fails every call in flight to the peer with UNAVAILABLE; the next call opens a new stream", async () => {
  const { address, server, received } = await hangingServer();
  const client = new GrpcTransport({ address: "127.0.0.1:1", secret: undefined, log: silentLogger });
  try {
    const calls = rejections(
      Array.from({ length: 20 }, () => client.call(address, { ...envelope("hang"), deadline: Date.now() + 20_000 })),
    );
    await received(20);
    client.forget(address);
    for (const error of await calls) assert.is(error.code, "UNAVAILABLE");
    assert.is(((await client.call(address, envelope("get"))) as { id: string }).id, "r-1");
  } finally {
    await client.close();
  }
  // The calls on the forgotten stream never answer: only its cancellation lets the server close.
  await server.close();
});

/** tests/support/grpc-peer.ts on `address`; resolves once it listens. */
async function startPeer(address: string) {
  const fixture = fileURLToPath(new URL("../support/grpc-peer.ts", import.meta.url));
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", fixture, address], { stdio: ["ignore", "pipe", "inherit"] });
  let count = 0;
  const waiters: { n: number; resolve: () => void }[] = [];
  const listening = new Promise<void>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`grpc-peer exited (${code})`)));
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
      if (line === "listening") resolve();
      if (line === "received") {
        count++;
        for (const w of waiters) if (count >= w.n) w.resolve();
      }
    });
  });
  await listening;
  const received = (n: number) => new Promise<void>((resolve) => (count >= n ? resolve() : waiters.push({ n, resolve })));
  const kill = () =>
    new Promise<void>((resolve) => {
      child.once("exit", () => resolve());
      child.kill("SIGKILL");
    });
  return { received, kill };
}

test("a peer killed mid-call fails every call in flight with UNAVAILABLE; the stream re-opens once it is back", async () => {
  const address = `127.0.0.1:${await freePort()}`;
  const client = new GrpcTransport({ address: "127.0.0.1:1", secret: undefined, log: silentLogger });
  let peer = await startPeer(address);
  try {
    const calls = rejections(
      Array.from({ length: 20 }, () => client.call(address, { ...envelope("hang"), deadline: Date.now() + 20_000 })),
    );
    await peer.received(20);
    const killed = Date.now();
    await peer.kill();
    for (const error of await calls) assert.is(error.code, "UNAVAILABLE");
    assert.ok(Date.now() - killed < 10_000, "failed when the connection dropped, not at the deadline");
    // While it is down, calls fail fast instead of waiting.
    assert.is(((await client.call(address, envelope("get")).catch((e: unknown) => e)) as ClusterError).code, "UNAVAILABLE");
    peer = await startPeer(address);
    // gRPC reconnects with backoff, so a call may still fail UNAVAILABLE (the router retries those).
    const reply = await waitFor("a call to the restarted peer", () => client.call(address, { ...envelope("get"), args: 5 }), 15_000, 50);
    assert.is(reply, 5);
  } finally {
    await client.close();
    await peer.kill();
  }
});

test("a call whose payload is not JSON is answered BAD_REQUEST; undecodable bytes end only their own stream", async () => {
  const { address, server, client } = await pair(undefined, undefined);
  const raw = rawClient(address);
  try {
    const stream = rawCalls(raw);
    const replies = new Promise<WireReplyBatch["replies"]>((resolve) => {
      const got: WireReplyBatch["replies"] = [];
      stream.on("data", (batch: WireReplyBatch) => {
        got.push(...batch.replies);
        if (got.length === 2) resolve(got);
      });
    });
    stream.write({ calls: [wireCall(7, "get", "{not json"), wireCall(8, "get", "1")] });
    const [bad, good] = [...(await replies)].sort((a, b) => a.id - b.id);
    assert.is(bad?.error?.code, "BAD_REQUEST");
    assert.is(JSON.parse(good?.ok ?? "null").echoed, 1);
    stream.cancel();

    const garbage = raw.makeBidiStreamRequest(
      "/cluster.Runner/Calls",
      (b: Buffer) => b,
      (b: Buffer) => b,
      new grpc.Metadata(),
    );
    const status = new Promise<grpc.StatusObject>((resolve) => garbage.on("status", resolve));
    garbage.on("error", () => {});
    garbage.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]));
    assert.is((await status).code, grpc.status.INTERNAL);
    assert.ok(await client.call(address, envelope("get")), "the server still serves");
  } finally {
    raw.close();
    await client.close();
    await server.close();
  }
});

test("close() ends the streams peers hold open; their next calls are UNAVAILABLE", async () => {
  const { address, server, client } = await pair(undefined, undefined);
  try {
    assert.ok(await client.call(address, envelope("get")));
    await server.close();
    const error = await client.call(address, envelope("get")).catch((e: unknown) => e);
    assert.is((error as ClusterError).code, "UNAVAILABLE");
  } finally {
    await client.close();
  }
});

test("close() answers the calls in flight before it ends their stream, and refuses new ones", async () => {
  const address = `127.0.0.1:${await freePort()}`;
  let release: (value: unknown) => void = () => {};
  let arrived: () => void = () => {};
  const inFlight = new Promise<void>((resolve) => (arrived = resolve));
  const server = new GrpcTransport({ address, secret: undefined, log: silentLogger });
  await server.listen({
    call: (e) => {
      if (e.rpc !== "slow") return Promise.resolve("late");
      arrived();
      return new Promise((resolve) => (release = resolve));
    },
    locate: (type, id) => ({ type, id, shard: 0 }),
    activeEntities: () => [],
    traffic: () => [],
  });
  const client = new GrpcTransport({ address: "127.0.0.1:1", secret: undefined, log: silentLogger });
  try {
    const slow = client.call(address, envelope("slow"));
    await inFlight;
    const closed = server.close();
    // Sent on the open stream after close() began: refused, so the caller retries elsewhere.
    const late = await client.call(address, envelope("get")).catch((e: unknown) => e);
    assert.is((late as ClusterError).code, "UNAVAILABLE");
    release("done");
    assert.is(await slow, "done");
    await closed;
  } finally {
    await client.close();
  }
});

test.run();
