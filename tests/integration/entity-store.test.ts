/**
 * The entity store against real storage (PGlite, and Postgres when POSTGRES_URL is set): commits
 * made at the same time share one statement, and each keeps its own compare-and-set.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { ClusterError, type Storage } from "../../src/cluster/index.ts";
import { SqlStateStore } from "../../src/cluster/storage/entity-state/sql.ts";
import { STORAGE_BACKENDS } from "../support/storage-backends.ts";
import { uniqueId } from "../support/unique-id.ts";

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
    const loaded = await Promise.all(ids.map((id) => store.load("Counter", id)));
    assert.equal(
      loaded.map((s) => s && { json: s.json, version: Number(s.version) }),
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
      store.commit({ type: "Counter", id: fresh, expected: 1, json: "2", replies: [{ requestId: "r-good", json: "2" }] }),
      store.commit({ type: "Counter", id: stale, expected: 0, json: "99", replies: [{ requestId: "r-bad", json: "99" }] }),
    ]);
    assert.is(good, 2);
    assert.is(bad, undefined);
    assert.equal([...(await store.findReplies("Counter", fresh, ["r-good"]))], [["r-good", "2"]]);
    assert.is((await store.findReplies("Counter", stale, ["r-bad"])).size, 0);
    assert.is((await store.load("Counter", stale))?.json, "1");
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
    assert.is((await store.load("Counter", id))?.json, winner);
  });

  it("a turn whose fence is down when its batch leaves is refused (NOT_OWNER) and writes nothing", async ({ store }) => {
    const [kept, fenced] = [uniqueId("kept"), uniqueId("fenced")];
    const [ok, refused] = await Promise.allSettled([
      store.commit({ type: "Counter", id: kept, expected: 0, json: "1", replies: [], fence: () => true }),
      store.commit({ type: "Counter", id: fenced, expected: 0, json: "1", replies: [{ requestId: "r", json: "1" }], fence: () => false }),
    ]);
    assert.equal(ok, { status: "fulfilled", value: 1 });
    assert.is(refused.status, "rejected");
    assert.instance((refused as PromiseRejectedResult).reason, ClusterError);
    assert.is(((refused as PromiseRejectedResult).reason as ClusterError).code, "NOT_OWNER");
    assert.is(await store.load("Counter", fenced), undefined);
    assert.is((await store.findReplies("Counter", fenced, ["r"])).size, 0);
  });

  it("state text round-trips byte for byte: 1 MiB, quotes, backslashes, astral characters", async ({ store }) => {
    const id = uniqueId("big");
    const json = JSON.stringify({ value: `"\\\n😀é${"x".repeat(1 << 20)}` });
    assert.is(await store.commit({ type: "KVStore", id, expected: 0, json, replies: [{ requestId: "big", json }] }), 1);
    assert.is((await store.load("KVStore", id))?.json, json);
    assert.is((await store.findReplies("KVStore", id, ["big"])).get("big"), json);
  });

  it.run();
}
