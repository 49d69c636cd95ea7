/**
 * The entity store against real storage (PGlite, and Postgres when POSTGRES_URL is set): commits
 * made at the same time share one statement, and each keeps its own compare-and-set.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { EntityRuntime } from "../../src/cluster/entity/runtime.ts";
import { ClusterError, type Storage, silentLogger } from "../../src/cluster/index.ts";
import { limits } from "../../src/cluster/limits.ts";
import { SqlStateStore } from "../../src/cluster/storage/entity-state/sql.ts";
import { Counter } from "../../src/entities/counter.ts";
import { callOf } from "../support/call.ts";
import { STORAGE_BACKENDS } from "../support/storage-backends.ts";
import { uniqueId } from "../support/unique-id.ts";

/** An expiry an hour from now. */
const later = (ms = 3_600_000) => Date.now() + ms;
const reply = (requestId: string, json: string, expiresAt = later()) => ({ requestId, json, expiresAt });

for (const backend of STORAGE_BACKENDS) {
  const it = suite<{ storage: Storage; store: SqlStateStore; dispose: () => void }>(`Entity store [${backend.name}]`);
  it.before(async (ctx) => {
    const { storage, dispose } = await backend.open();
    ctx.storage = storage;
    ctx.dispose = dispose;
    ctx.store = new SqlStateStore(storage);
  });
  it.after(async (ctx) => {
    await ctx.storage.close();
    ctx.dispose();
  });

  it("300 concurrent first commits all land, each as version 1", async ({ store }) => {
    const ids = Array.from({ length: 300 }, () => uniqueId("many"));
    const versions = await Promise.all(
      ids.map((id, n) => store.commit({ type: "Counter", id, expected: 0, json: JSON.stringify({ value: n }), replies: [] })),
    );
    assert.equal(
      versions,
      ids.map(() => 1),
    );
    const loaded = await Promise.all(ids.map((id) => store.load("Counter", id, 10)));
    assert.equal(
      loaded.map((s) => s.state && { json: s.state.json, version: s.state.version }),
      ids.map((_, n) => ({ json: JSON.stringify({ value: n }), version: 1 })),
    );
  });

  it("in one batch, a stale commit fails alone and its replies are not stored", async ({ store }) => {
    const [fresh, stale] = [uniqueId("fresh"), uniqueId("stale")];
    await Promise.all([
      store.commit({ type: "Counter", id: fresh, expected: 0, json: "1", replies: [] }),
      store.commit({ type: "Counter", id: stale, expected: 0, json: "1", replies: [] }),
    ]);
    const [good, bad] = await Promise.all([
      store.commit({
        type: "Counter",
        id: fresh,
        expected: 1,
        json: "2",
        replies: [{ requestId: "r-good", json: "2", expiresAt: later() }],
      }),
      store.commit({
        type: "Counter",
        id: stale,
        expected: 0,
        json: "99",
        replies: [{ requestId: "r-bad", json: "99", expiresAt: later() }],
      }),
    ]);
    assert.is(good, 2);
    assert.is(bad, undefined);
    assert.equal(
      (await store.findReplies("Counter", fresh, ["r-good"])).map((r) => [r.requestId, r.json]),
      [["r-good", "2"]],
    );
    assert.is((await store.findReplies("Counter", stale, ["r-bad"])).length, 0);
    assert.is((await store.load("Counter", stale, 10)).state?.json, "1");
  });

  it("the same entity twice at once: exactly one compare-and-set wins", async ({ store }) => {
    const id = uniqueId("twice");
    const results = await Promise.all([
      store.commit({ type: "Counter", id, expected: 0, json: "a", replies: [] }),
      store.commit({ type: "Counter", id, expected: 0, json: "b", replies: [] }),
    ]);
    assert.equal(
      results.filter((v) => v === 1),
      [1],
    );
    assert.ok(results.includes(undefined));
    const winner = results[0] === 1 ? "a" : "b";
    assert.is((await store.load("Counter", id, 10)).state?.json, winner);
  });

  it("a turn whose fence is down when its batch leaves is refused (NOT_OWNER) and writes nothing", async ({ store }) => {
    const [kept, fenced] = [uniqueId("kept"), uniqueId("fenced")];
    const [ok, refused] = await Promise.allSettled([
      store.commit({ type: "Counter", id: kept, expected: 0, json: "1", replies: [], fence: () => true }),
      store.commit({
        type: "Counter",
        id: fenced,
        expected: 0,
        json: "1",
        replies: [{ requestId: "r", json: "1", expiresAt: later() }],
        fence: () => false,
      }),
    ]);
    assert.equal(ok, { status: "fulfilled", value: 1 });
    assert.is(refused.status, "rejected");
    assert.instance((refused as PromiseRejectedResult).reason, ClusterError);
    assert.is(((refused as PromiseRejectedResult).reason as ClusterError).code, "NOT_OWNER");
    assert.equal(await store.load("Counter", fenced, 10), { state: undefined, replies: [], more: false });
    assert.is((await store.findReplies("Counter", fenced, ["r"])).length, 0);
  });

  it("state text round-trips byte for byte: 1 MiB, quotes, backslashes, astral characters", async ({ store }) => {
    const id = uniqueId("big");
    const json = JSON.stringify({ value: `"\\\n😀é${"x".repeat(1 << 20)}` });
    assert.is(await store.commit({ type: "KVStore", id, expected: 0, json, replies: [{ requestId: "big", json, expiresAt: later() }] }), 1);
    assert.is((await store.load("KVStore", id, 10)).state?.json, json);
    assert.is((await store.findReplies("KVStore", id, ["big"]))[0]?.json, json);
  });

  it("load brings the most recent unexpired replies with the state, in one query, and says when there are more", async ({ store }) => {
    const id = uniqueId("replies");
    let version = 0;
    for (let n = 1; n <= 5; n++) {
      // Expiries that grow with n order replies committed within one clock tick (PGlite's) as they came.
      const replies = [reply(`r${n}`, String(n), later(3_599_000 + n)), reply(`gone${n}`, "x", Date.now() - 1)];
      version = (await store.commit({ type: "Counter", id, expected: version, json: String(n), replies })) as number;
    }
    const all = await store.load("Counter", id, 10);
    assert.equal(all.state, { json: "5", version: 5 });
    assert.equal(
      all.replies.map((r) => r.requestId),
      ["r1", "r2", "r3", "r4", "r5"],
    );
    assert.ok(all.replies.every((r) => r.expiresAt > Date.now() && r.expiresAt <= later()));
    assert.is(all.more, false);
    const some = await store.load("Counter", id, 2);
    assert.equal(
      some.replies.map((r) => r.requestId),
      ["r4", "r5"],
    );
    assert.is(some.more, true);
    // Expired replies are pruned; unexpired ones stay.
    await store.pruneReplies(new Date());
    assert.equal(
      (await store.findReplies("Counter", id, ["gone1", "r1"])).map((r) => r.requestId),
      ["r1"],
    );
  });

  it("an unseen request id that is already stored refuses its commit (batched and transactional); the others in the batch land", async ({
    store,
  }) => {
    const [a, b] = [uniqueId("dup"), uniqueId("other")];
    await store.commit({ type: "Counter", id: a, expected: 0, json: "1", replies: [reply("q", "1")] });
    const [dup, ok, fine] = await Promise.all([
      store.commit({ type: "Counter", id: a, expected: 1, json: "2", replies: [reply("q", "2")], unseen: ["q"] }),
      store.commit({ type: "Counter", id: b, expected: 0, json: "1", replies: [reply("q", "1")], unseen: ["q"] }),
      store.commit({ type: "Counter", id: a, expected: 1, json: "2", replies: [reply("new", "2")], unseen: ["new"] }),
    ]);
    assert.is(dup, undefined);
    assert.is(ok, 1);
    assert.is(fine, 2);
    assert.equal((await store.load("Counter", a, 10)).state, { json: "2", version: 2 });
    const viaTx = await store.commit({
      type: "Counter",
      id: a,
      expected: 2,
      json: "3",
      replies: [reply("q", "3")],
      unseen: ["q"],
      writes: [async () => {}],
    });
    assert.is(viaTx, undefined);
    assert.equal(
      (await store.findReplies("Counter", a, ["q"])).map((r) => r.json),
      ["1"],
    );
  });

  it("forwarded replies ride in the state row: batched, pipelined and transactional commits write them, one without them keeps them", async ({
    store,
  }) => {
    const id = uniqueId("fwd");
    const forwarded = (n: number) => JSON.stringify({ r: [n, n + 60_000, [[n, String(n), n + 60_000]]] });
    const load = async () => (await store.load("Counter", id, 10)).state;
    const pipelined = { text: "select 1", params: [] };
    assert.is(await store.commit({ type: "Counter", id, expected: 0, json: "1", replies: [], forwarded: forwarded(1) }), 1);
    assert.equal(await load(), { json: "1", version: 1, forwarded: forwarded(1) });
    assert.is(await store.commit({ type: "Counter", id, expected: 1, json: "2", replies: [] }), 2);
    assert.equal(await load(), { json: "2", version: 2, forwarded: forwarded(1) });
    assert.is(
      await store.commit({ type: "Counter", id, expected: 2, json: "3", replies: [], forwarded: forwarded(3), writes: [pipelined] }),
      3,
    );
    assert.equal(await load(), { json: "3", version: 3, forwarded: forwarded(3) });
    assert.is(await store.commit({ type: "Counter", id, expected: 3, json: "4", replies: [], writes: [pipelined] }), 4);
    assert.equal((await load())?.forwarded, forwarded(3));
    assert.is(
      await store.commit({ type: "Counter", id, expected: 4, json: "5", replies: [], forwarded: forwarded(5), writes: [async () => {}] }),
      5,
    );
    assert.equal((await load())?.forwarded, forwarded(5));
    // None left: the column is emptied, and a stale commit changes nothing.
    assert.is(await store.commit({ type: "Counter", id, expected: 5, json: "6", replies: [], forwarded: "" }), 6);
    assert.is(await store.commit({ type: "Counter", id, expected: 5, json: "x", replies: [], forwarded: forwarded(9) }), undefined);
    assert.equal(await load(), { json: "6", version: 6 });
  });

  it("retries through a runtime: from the index, from storage beyond it, and at a new owner; each key counts once", async ({ store }) => {
    const id = uniqueId("retry");
    const at = { type: "Counter", id, shard: 0 };
    const runtimeOn = () => {
      const runtime = new EntityRuntime({ store, log: silentLogger, idleMs: 60_000 });
      runtime.register(Counter);
      return runtime;
    };
    const owner = runtimeOn();
    const inc = (runtime: EntityRuntime, requestId: string) => runtime.call(callOf(at, "increment", { amount: 1 }, { requestId }));
    const keys = Array.from({ length: limits.replyIndexEntries + 10 }, (_, n) => `${id}-${n}`);
    for (const key of keys) await inc(owner, key);
    // The last key is in the index; the first was dropped for room and is found by the commit's check.
    assert.is(await inc(owner, keys.at(-1) as string), keys.length);
    assert.is(await inc(owner, keys[0] as string), 1);
    // A new owner loads the recent replies with the state; an older key again goes through storage.
    const next = runtimeOn();
    assert.is(await inc(next, keys.at(-2) as string), keys.length - 1);
    assert.is(await inc(next, keys[1] as string), 2);
    assert.is(await next.call(callOf(at, "get", {})), keys.length);
  });

  it.run();
}
