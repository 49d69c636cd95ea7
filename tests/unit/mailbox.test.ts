import { test } from "uvu";
import * as assert from "uvu/assert";
import { z } from "zod";
import { EntityRuntime } from "../../src/cluster/entity/runtime.ts";
import { badRequest, ClusterError, defineEntity, silentLogger } from "../../src/cluster/index.ts";
import { readingTurn } from "../../src/cluster/workflow/reading-turn.ts";
import { callOf } from "../support/call.ts";
import { MemoryStore } from "../support/memory-store.ts";

const protocol = {
  type: "Box",
  rpcs: {
    add: { kind: "mutation" as const, args: z.object({ n: z.number() }), output: z.number() },
    addThenFail: { kind: "mutation" as const, args: z.object({ n: z.number() }), output: z.number() },
    addAsync: { kind: "mutation" as const, args: z.object({ n: z.number() }), output: z.number() },
    addAsyncThenFail: { kind: "mutation" as const, args: z.object({ n: z.number() }), output: z.number() },
    read: { kind: "query" as const, args: z.object({}), output: z.array(z.number()) },
  },
};

const Box = defineEntity(protocol, {
  state: z.object({ items: z.array(z.number()) }),
  initial: () => ({ items: [] }),
  handlers: {
    add: (s, { n }) => s.items.push(n),
    addThenFail: (s, { n }) => {
      s.items.push(n);
      throw badRequest("refused after changing state");
    },
    addAsync: async (s, { n }) => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      return s.items.push(n);
    },
    addAsyncThenFail: async (s, { n }) => {
      s.items.push(n);
      await new Promise((resolve) => setTimeout(resolve, 1));
      throw badRequest("refused after changing state, asynchronously");
    },
    read: (s) => [...s.items],
  },
});

function setup() {
  const store = new MemoryStore();
  const runtime = new EntityRuntime({ store, log: silentLogger, idleMs: 60_000 });
  runtime.register(Box);
  const at = (id: string) => ({ type: "Box", id, shard: 0 });
  return { store, runtime, at };
}

test("calls apply one at a time in arrival order; concurrent calls share commits", async () => {
  const { store, runtime, at } = setup();
  const replies = await Promise.all(Array.from({ length: 100 }, (_, n) => runtime.call(callOf(at("a"), "add", { n }))));
  assert.equal(
    replies,
    Array.from({ length: 100 }, (_, i) => i + 1),
  );
  assert.equal(
    await runtime.call(callOf(at("a"), "read", {})),
    Array.from({ length: 100 }, (_, i) => i),
  );
  assert.ok(store.commits < 100, `group commit: ${store.commits} commits for 100 calls`);
  assert.equal(JSON.parse(store.rows.get("Box/a")?.json ?? "").items.length, 100);
});

test("a handler that throws after changing state leaves no trace; its neighbours in the batch keep theirs", async () => {
  const { store, runtime, at } = setup();
  const results = await Promise.allSettled([
    runtime.call(callOf(at("b"), "add", { n: 1 })),
    runtime.call(callOf(at("b"), "addThenFail", { n: 2 })),
    runtime.call(callOf(at("b"), "add", { n: 3 })),
    runtime.call(callOf(at("b"), "addAsync", { n: 4 })),
    runtime.call(callOf(at("b"), "addThenFail", { n: 5 })),
    runtime.call(callOf(at("b"), "add", { n: 6 })),
  ]);
  assert.equal(
    results.map((r) => r.status),
    ["fulfilled", "rejected", "fulfilled", "fulfilled", "rejected", "fulfilled"],
  );
  assert.equal(await runtime.call(callOf(at("b"), "read", {})), [1, 3, 4, 6]);
  assert.equal(JSON.parse(store.rows.get("Box/b")?.json ?? "").items, [1, 3, 4, 6]);
});

test("after an asynchronous change, a failing change (either kind) goes back to just after it", async () => {
  const { store, runtime, at } = setup();
  const calls: [string, number][] = [
    ["addAsync", 1],
    ["addAsyncThenFail", 2],
    ["addAsync", 3],
    ["add", 4],
    ["addAsyncThenFail", 5],
    ["addAsync", 6],
    ["addThenFail", 7],
  ];
  const results = await Promise.allSettled(calls.map(([rpc, n]) => runtime.call(callOf(at("c"), rpc, { n }))));
  assert.equal(
    results.map((r) => r.status),
    ["fulfilled", "rejected", "fulfilled", "fulfilled", "rejected", "fulfilled", "rejected"],
  );
  assert.equal(await runtime.call(callOf(at("c"), "read", {})), [1, 3, 4, 6]);
  assert.equal(JSON.parse(store.rows.get("Box/c")?.json ?? "").items, [1, 3, 4, 6]);
});

test("reading turns (a read ahead, then a synchronous change) are replayed, not read again, when a later turn of the batch fails", async () => {
  const { store, runtime, at } = setup();
  let reads = 0;
  const applied = new Map<number, number>();
  const reading = (n: number) =>
    readingTurn(
      async () => {
        reads++;
        await new Promise((resolve) => setTimeout(resolve, 1));
        return n;
      },
      (found, state) => {
        applied.set(found, (applied.get(found) ?? 0) + 1);
        return (state as { items: number[] }).items.push(found);
      },
    );
  // Posted together: one batch.
  const results = await Promise.allSettled([
    runtime.turn(at("r"), reading(1)),
    runtime.call(callOf(at("r"), "addThenFail", { n: 2 })),
    runtime.turn(at("r"), reading(3)),
    runtime.call(callOf(at("r"), "addThenFail", { n: 4 })),
  ]);
  assert.equal(
    results.map((r) => r.status),
    ["fulfilled", "rejected", "fulfilled", "rejected"],
  );
  assert.equal(await runtime.call(callOf(at("r"), "read", {})), [1, 3]);
  assert.equal(JSON.parse(store.rows.get("Box/r")?.json ?? "").items, [1, 3]);
  assert.is(reads, 2, "each read once");
  // Synchronous once its read is in: replayed after each failure behind it, as a state checkpoint after it would not be.
  assert.equal([applied.get(1), applied.get(3)], [3, 2]);
  assert.is(store.commits, 1, "one batch, one commit");
});

test("a failed commit fails the batch and rolls back memory", async () => {
  const { store, runtime, at } = setup();
  await runtime.call(callOf(at("c"), "add", { n: 1 }));
  store.failNext = true;
  const failed = await runtime.call(callOf(at("c"), "add", { n: 2 })).catch((e: unknown) => e);
  assert.instance(failed, ClusterError);
  assert.is((failed as ClusterError).code, "UNAVAILABLE");
  assert.equal(await runtime.call(callOf(at("c"), "read", {})), [1]);
  assert.is(await runtime.call(callOf(at("c"), "add", { n: 3 })), 2);
});

test("a version conflict (someone else wrote) fails the call and reloads the newer state", async () => {
  const { store, runtime, at } = setup();
  await runtime.call(callOf(at("d"), "add", { n: 1 }));
  // Another owner commits version 2 behind this runner's back.
  store.rows.set("Box/d", { json: JSON.stringify({ items: [1, 99] }), version: 2 });
  const failed = await runtime.call(callOf(at("d"), "add", { n: 2 })).catch((e: unknown) => e);
  assert.is((failed as ClusterError).code, "CONFLICT");
  assert.equal(await runtime.call(callOf(at("d"), "read", {})), [1, 99]);
  assert.is(await runtime.call(callOf(at("d"), "add", { n: 3 })), 3);
});

test("a request id applies once: retries in the same batch and after commit get the stored reply", async () => {
  const { store, runtime, at } = setup();
  const same = await Promise.all([1, 2, 3].map(() => runtime.call(callOf(at("e"), "add", { n: 7 }, { requestId: "r1" }))));
  assert.equal(same, [1, 1, 1]);
  // A fresh runtime (another runner after failover) finds the stored reply.
  const other = new EntityRuntime({ store, log: silentLogger, idleMs: 60_000 });
  other.register(Box);
  assert.is(await other.call(callOf(at("e"), "add", { n: 7 }, { requestId: "r1" })), 1);
  assert.equal(await other.call(callOf(at("e"), "read", {})), [7]);
});

test("arguments are validated at the owner", async () => {
  const { runtime, at } = setup();
  const failed = await runtime.call(callOf(at("f"), "add", { n: "x" })).catch((e: unknown) => e);
  assert.is((failed as ClusterError).code, "BAD_REQUEST");
  const unknown = await runtime.call(callOf(at("f"), "nope", {})).catch((e: unknown) => e);
  assert.is((unknown as ClusterError).code, "BAD_REQUEST");
  const missing = await runtime.call(callOf({ type: "Ghost", id: "x", shard: 0 }, "add", {})).catch((e: unknown) => e);
  assert.is((missing as ClusterError).code, "NOT_IMPLEMENTED");
});

test("idle entities are evicted; the next call reloads them", async () => {
  const store = new MemoryStore();
  const runtime = new EntityRuntime({ store, log: silentLogger, idleMs: 20 });
  runtime.register(Box);
  runtime.start();
  const at = { type: "Box", id: "g", shard: 0 };
  await runtime.call(callOf(at, "add", { n: 5 }));
  assert.is(runtime.activeCount, 1);
  while (runtime.activeCount > 0) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(await runtime.call(callOf(at, "read", {})), [5]);
  await runtime.stop();
});

test("defineEntity refuses a protocol RPC without a handler", () => {
  assert.throws(
    () => defineEntity(protocol, { state: z.object({}), initial: () => ({}), handlers: {} as never }),
    /no handler for RPC add/,
  );
});

test.run();
